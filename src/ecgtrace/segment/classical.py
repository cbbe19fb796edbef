"""The classical, non-learned segmenter: colour and intensity thresholding with grid removal.

The seed paper's baseline, made with care: ECG ink is dark and unsaturated while grids are
light or coloured, so darkness is measured on the brightest channel (a red grid line is bright
in red, a black trace in none); the page's uneven lighting is divided out with a local
background estimate; a threshold between paper and ink (a little under half the ink's darkness,
kept above the grid's level) separates ink; lines inked across the whole crop (a binarised
grid), thin long straight lines the width of a grid line, and specks are removed. It cannot
tell one lead's trace from its neighbour's: the extractor's path finding, drawn to the crop's
centre, has to.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray


def darkness(image: NDArray[np.uint8], *, background_px: int = 31) -> NDArray[np.float32]:
    """(rows, cols) float32 in [0, 1]: how much darker than its surroundings each pixel is.

    ``image`` is (rows, cols, 3) RGB uint8. The brightest channel makes coloured grid lines
    nearly as light as paper; dividing by a local maximum (the paper around) removes shading.
    """
    bright = image.max(axis=2).astype(np.float32) if image.ndim == 3 else image.astype(np.float32)
    k = max(3, background_px | 1)
    paper = cv2.dilate(bright, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    paper = cv2.blur(paper, (k, k))
    return np.clip(1.0 - bright / np.maximum(paper, 1.0), 0.0, 1.0).astype(np.float32)


def _opening(mask: NDArray[np.bool_], shape: tuple[int, int]) -> NDArray[np.bool_]:
    """Binary opening by a (rows, cols) box, exactly as SciPy's ``binary_opening`` (10x
    faster): OpenCV's own opening shifts even-sized boxes by a pixel, so the erosion and the
    dilation get mirrored anchors; outside the image counts as background."""
    kr, kc = shape
    box = np.ones(shape, np.uint8)
    eroded = cv2.erode(
        mask.astype(np.uint8), box, anchor=(kc // 2, kr // 2),
        borderType=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip
    opened = cv2.dilate(
        eroded, box, anchor=(kc - 1 - kc // 2, kr - 1 - kr // 2),
        borderType=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip
    return opened.astype(bool)


def _remove_grid_lines(ink: NDArray[np.bool_], *, line_px: int, thin_px: int) -> NDArray[np.bool_]:
    """Drop long, thin, exactly horizontal or vertical lines (a grid that survived the colour)."""
    out = ink.copy()
    for along, across in (((1, line_px), (thin_px + 1, 1)), ((line_px, 1), (1, thin_px + 1))):
        lines = _opening(ink, along)
        # Only thin lines: a trace's flat stretch is thicker than a grid line.
        thick = _opening(lines, across)
        out &= ~(lines & ~thick)
    return out


def _remove_full_lines(ink: NDArray[np.bool_], *, share: float = 0.8) -> NDArray[np.bool_]:
    """Drop rows and columns inked across most of the crop (grid lines a binarised scan kept).

    No trace covers 80 % of a row or a column; where a trace crosses such a line (ink just
    above and below it, or left and right), the crossing pixels stay.
    """
    out = ink.copy()
    for axis in (0, 1):
        view = out if axis == 0 else out.T
        src = ink if axis == 0 else ink.T
        full = src.mean(axis=1) > share
        edges = np.flatnonzero(np.diff(np.concatenate(([0], full.astype(np.int8), [0]))))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            before = src[a - 2] if a >= 2 else np.zeros(src.shape[1], bool)
            after = src[b + 1] if b + 1 < src.shape[0] else np.zeros(src.shape[1], bool)
            view[a:b] &= (before | after)[None, :]
    return out


def segment_classical(
    image: NDArray[np.uint8],
    *,
    px_per_mm: float,
    softness: float = 0.04,
) -> NDArray[np.float32]:
    """Trace probability (rows, cols) float32 in [0, 1] of an RGB crop (rows, cols, 3) uint8.

    ``px_per_mm`` sets the sizes: background window (4 mm), grid-line length (3 mm) and
    width (0.15 mm), specks (0.3 mm^2). ``softness`` widens the threshold into a ramp so the
    extractor's centroids keep sub-pixel detail.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image (rows, cols, 3), got shape {image.shape}")
    return ink_probability(
        darkness(image, background_px=classical_background_px(px_per_mm)),
        px_per_mm=px_per_mm,
        softness=softness,
    )


def classical_background_px(px_per_mm: float) -> int:
    """The window (px) the paper's brightness is measured over: 4 mm."""
    return round(4 * px_per_mm)


def ink_probability(
    d: NDArray[np.float32], *, px_per_mm: float, softness: float = 0.04
) -> NDArray[np.float32]:
    """:func:`segment_classical` from a crop's :func:`darkness` (rows, cols) in [0, 1]: the
    darkness of a whole page can be measured once and cropped for each lead."""
    if not np.any(d > 0.05):
        return np.zeros(d.shape, np.float32)
    # A little under half the ink's darkness (the drawing counts a half-inked pixel as ink),
    # but clear of the grid and the paper's texture (their level: the 75th percentile, which
    # stays below the ink even on crops dense with traces), and never above most of the ink.
    ink_level = float(np.percentile(d, 99.7))
    grid_level = float(np.percentile(d, 75))
    thr = min(max(0.4 * ink_level, grid_level + 0.08, 0.12), 0.8 * ink_level)
    prob = 1.0 / (1.0 + np.exp(-(d - thr) / softness))
    cleaned = _remove_grid_lines(
        _remove_full_lines(prob >= 0.5),
        line_px=max(5, round(3 * px_per_mm)),
        thin_px=max(1, round(0.15 * px_per_mm)),
    )
    _, labels, stats, _ = cv2.connectedComponentsWithStats(cleaned.astype(np.uint8), connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] < max(3, round(0.3 * px_per_mm**2))
    small[0] = False
    keep = cleaned & ~small[labels]
    return np.where(keep, prob, np.minimum(prob, 0.49)).astype(np.float32)
