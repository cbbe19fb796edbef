"""Steps 1 and 2 of grid detection: the grid-line evidence of an image, its rotation, and the
turn that levels it (see :mod:`ecgtrace.grid` for the method and the conventions)."""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ecgtrace._arrays import parabolic_offset, rotation_rc

log = logging.getLogger(__name__)


# ---- 1. evidence ------------------------------------------------------------------------------


def _paper(image: NDArray[np.uint8], block: int) -> NDArray[np.float32]:
    """(rows, cols, ch) float32: the local paper level, the brightest value around each pixel.

    The maximum over ``block`` x ``block`` tiles (a tile almost always holds some paper) of an
    area-averaged copy, grown by one tile and smoothed, then stretched back to full size.
    """
    rows, cols, ch = image.shape
    s = 4 if min(rows, cols) >= 400 else 2 if min(rows, cols) >= 100 else 1
    small: NDArray = image
    if s > 1:
        small = cv2.resize(image, (cols // s, rows // s), interpolation=cv2.INTER_AREA)
        small = np.asarray(small).reshape(rows // s, cols // s, ch)
    b = max(2, block // s)
    n_tile_rows, n_tile_cols = max(1, small.shape[0] // b), max(1, small.shape[1] // b)
    tile_rows, tile_cols = min(b, small.shape[0]), min(b, small.shape[1])
    # The brightest pixel of each tile: max over the tile's rows, then over its cols.
    strips = small[: n_tile_rows * tile_rows].reshape(n_tile_rows, tile_rows, small.shape[1], ch)
    strip_max: NDArray = strips.max(axis=1)
    tiles = strip_max[:, : n_tile_cols * tile_cols]
    t: NDArray = tiles.reshape(n_tile_rows, n_tile_cols, tile_cols, ch).max(axis=2)
    t = ndimage.maximum_filter(t, size=(3, 3, 1), mode="nearest").astype(np.float32)
    t = np.asarray(cv2.blur(t, (3, 3), borderType=cv2.BORDER_REPLICATE), np.float32)
    t = t.reshape(n_tile_rows, n_tile_cols, ch)
    full = cv2.resize(t, (cols, rows), interpolation=cv2.INTER_LINEAR)
    return np.maximum(np.asarray(full, np.float32).reshape(rows, cols, ch), 1.0)


def _colour_evidence(
    ratio: NDArray[np.float32], step: int, min_colourfulness: float
) -> NDArray[np.float32] | None:
    """(rows, cols) darkness along the grid's chroma direction, or None on a grey page.

    ``ratio`` (rows, cols, 3) is each channel over the local paper level (1 on paper);
    ``step`` subsamples it (px) for the PCA of the chroma of the non-paper pixels.
    """
    rows, cols = ratio.shape[:2]
    dark = 1.0 - ratio[::step, ::step].reshape(-1, 3)
    grey = dark.mean(axis=1)
    sel = grey > 0.02
    if sel.sum() <= 50:
        return None
    chroma = dark[sel] - grey[sel, None]
    # The grid outnumbers the traces: weight down the darkest pixels (ink, text).
    w = np.where(grey[sel] < np.percentile(grey[sel], 90), 1.0, 0.1)
    cov = (chroma * w[:, None]).T @ chroma / w.sum()
    _, vecs = np.linalg.eigh(cov)
    v = vecs[:, -1]
    proj = chroma @ v
    if np.sum(np.maximum(proj, 0) * w) < np.sum(np.maximum(-proj, 0) * w):
        v, proj = -v, -proj
    along = np.maximum(proj, 0.0)
    colourful = float(np.sum(w * along**2) / max(np.sum(w * grey[sel] ** 2), 1e-12))
    log.debug("grid colour direction %s, colourfulness %.3f", np.round(v, 3), colourful)
    if colourful <= min_colourfulness:
        return None
    # v is orthogonal to grey (its entries sum to 0): darkness . v = -ratio . v
    m = (-v).astype(np.float32).reshape(1, 3)
    ev = np.asarray(cv2.transform(ratio, m), np.float32).reshape(rows, cols)
    cap = float(np.percentile(along[along > 0], 99)) if (along > 0).any() else 1.0
    return np.clip(ev, 0.0, max(cap, 1e-3))


def grid_evidence(
    image: NDArray[np.uint8], *, min_colourfulness: float = 0.05
) -> tuple[NDArray[np.float32], bool]:
    """Grid-line evidence (rows, cols) float32 >= 0 of an RGB or grey uint8 image.

    Returns the evidence and whether it came from the grid's colour (True) or from plain
    darkness (False; grey or binarised grids, or a colour direction whose share of the
    printed darkness is at most ``min_colourfulness``). See :mod:`ecgtrace.grid`.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    rows, cols, ch = img.shape
    block = int(np.clip(round(min(rows, cols) / 40), 4, 64))
    paper = _paper(img, block)
    ratio = img.astype(np.float32)
    ratio /= paper  # 1 on paper, lower on anything printed
    np.minimum(ratio, 1.0, out=ratio)
    step = max(1, round(math.sqrt(rows * cols / 150_000)))
    if ch == 3:
        coloured = _colour_evidence(ratio, step, min_colourfulness)
        if coloured is not None:
            return coloured, True
        grey = 1.0 - np.asarray(
            cv2.transform(ratio, np.full((1, 3), 1 / 3, np.float32)), np.float32
        ).reshape(rows, cols)
    else:
        grey = 1.0 - ratio[..., 0]
    sample = grey[::step, ::step]
    nz = sample[sample > 0.02]
    level = max(float(np.percentile(nz, 60)) if nz.size > 50 else 1.0, 1e-3)
    # Pixels much darker than the grid's typical level are traces or text: fade them out (from
    # 3x that level to 0 at 4.5x) rather than count them as grid. On a black-on-white
    # (binarised) page grid and ink are alike and nothing is faded.
    ev = grey
    if 4.5 * level < 0.95:
        ev = np.minimum(grey, np.maximum((4.5 * level - grey) * 2.0, 0.0))
    return np.asarray(ev, np.float32), False


# ---- 2. rotation ------------------------------------------------------------------------------


def _shrink(ev: NDArray[np.float32], max_side: int) -> NDArray[np.float32]:
    """A copy whose longer side is at most ``max_side`` px (area-averaged)."""
    rows, cols = ev.shape
    s = min(1.0, max_side / max(rows, cols))
    if s >= 1.0:
        return ev
    size = (max(1, round(cols * s)), max(1, round(rows * s)))
    return np.asarray(cv2.resize(ev, size, interpolation=cv2.INTER_AREA), np.float32)


class _Projector:
    """Projection profiles of the strongest evidence pixels at any angle (linear binning)."""

    def __init__(self, ev: NDArray[np.float32], keep: float = 0.25) -> None:
        rows, cols = ev.shape
        thr = np.percentile(ev, 100 * (1 - keep)) if ev.size > 100 else 0.0
        r, c = np.nonzero(ev > thr)
        if r.size < 10:
            r, c = np.nonzero(ev >= thr)
        self.w = ev[r, c].astype(np.float64)
        self.d_row = r - (rows - 1) / 2.0
        self.d_col = c - (cols - 1) / 2.0
        self.half = math.hypot(rows, cols) / 2 + 2

    def _profile(self, s: NDArray[np.float64]) -> NDArray[np.float64]:
        s = s + self.half
        i = np.floor(s)
        frac = s - i
        n = int(2 * self.half) + 2
        ii = i.astype(np.intp)
        lower = np.bincount(ii, self.w * (1 - frac), n).astype(np.float64)
        return lower + np.bincount(ii + 1, self.w * frac, n)

    def sharpness(self, angle_deg: float) -> float:
        """Sum of squares of both profiles after turning the page by ``-angle_deg``."""
        a = math.radians(angle_deg)
        ca, sa = math.cos(a), math.sin(a)
        # Undo a counter-clockwise turn: the source row of a point is cos*dr + sin*dc.
        along_rows = self._profile(ca * self.d_row + sa * self.d_col)
        along_cols = self._profile(-sa * self.d_row + ca * self.d_col)
        return float(along_rows @ along_rows + along_cols @ along_cols)


def _search(proj: _Projector, centre: float, half: float, step: float) -> float:
    """Best angle (deg) on a grid ``centre +- half`` by ``step``, refined by a parabola."""
    angles = centre + step * np.arange(-round(half / step), round(half / step) + 1)
    scores = np.array([proj.sharpness(float(a)) for a in angles])
    k = int(np.argmax(scores))
    best = float(angles[k])
    if 0 < k < len(scores) - 1:
        # Within half a step: a peak on the grid's edge is no reason to leave its cell.
        offset = parabolic_offset(scores[k - 1], scores[k], scores[k + 1])
        best += step * float(np.clip(offset, -0.5, 0.5))
    return best


def estimate_rotation(ev: NDArray[np.float32], *, max_deg: float = 12.0) -> float:
    """Rotation (deg, counter-clockwise as displayed) of the grid lines in evidence ``ev``."""
    coarse = _search(_Projector(_shrink(ev, 320), keep=0.3), 0.0, max_deg, 0.5)
    proj = _Projector(_shrink(ev, 1000), keep=0.2)
    angle = _search(proj, coarse, 0.75, 0.15)
    angle = _search(proj, angle, 0.12, 0.03)
    return float(np.clip(angle, -max_deg, max_deg))


def deskew(image: NDArray, angle_deg: float, *, border: float = 0.0) -> NDArray:
    """Turn ``image`` (rows, cols[, ch]) by ``-angle_deg`` about its centre (same shape): lines
    tilted by ``angle_deg`` (deg, counter-clockwise) become level. Bilinear; ``border`` fills
    what comes from outside."""
    rows, cols = image.shape[:2]
    if abs(angle_deg) < 1e-6:
        return image
    # Output (r0, c0) samples the input at the point turned counter-clockwise by the angle.
    m_rc = rotation_rc(angle_deg, ((rows - 1) / 2.0, (cols - 1) / 2.0))
    # cv2 wants (x=col, y=row). Its 1/32 px fixed point absorbs the last-bit differences of
    # this translation from a hand-expanded one (checked: identical images).
    m_col_row = m_rc[[1, 0]][:, [1, 0, 2]]
    return cv2.warpAffine(
        image,
        m_col_row,
        (cols, rows),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(border,) * 4,  # a bare number fills the first channel only (red corners)
    )
