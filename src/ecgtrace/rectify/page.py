"""Find the sheet of paper in a photo and look at it square-on (a homography).

The paper is told from the desk, hand or cloth around it as the smooth region around the image
centre: on a small, median-blurred copy (grid and traces erased) it is grown from seeds near the
centre over small steps of colour, so slow shading stays inside and the sheet's edge stops it.
Of several candidate quads around its convex hull, the one its outline follows best is refined
by a line fit to each side; the four intersections are the page's corners.
A page that fills the frame (a scan, a screenshot) has no such region and is left as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace._arrays import perspective_rc, swap_axes

log = logging.getLogger(__name__)

_WORK_PX = 640  # the long side of the copy the page is looked for in
_MIN_AREA = 0.2  # a page covers at least this share of the photo
_FULL_AREA = 0.93  # a region larger than this share fills the frame: nothing to cut
_INSET = 0.004  # the quad is shrunk by this share of its size, so no background leaks in
_MIN_CONTRAST = 15.0  # Lab distance (lightness at half weight) between paper and surround
_STRAIGHT = 0.6  # share of the region's outline that must lie on the quad's edges
_EDGE_TOL = 0.02  # how near (share of the long side) an outline point must be to an edge
_MEDIAN_PX = 7  # median blur (px of the small copy) that erases grid lines and traces
_STEP_LEVELS = (3, 5, 8)  # neighbour steps (0-255) the paper region grows over, tried in turn
_LAB_WEIGHT = np.array([0.25, 1.0, 1.0], np.float32)  # shading darkens paper, keeps its hue


@dataclass(frozen=True)
class PageQuad:
    """The sheet in the photo: ``corners`` (4, 2) float64 (row, col) px of the full image, in
    order top-left, top-right, bottom-right, bottom-left as they appear; ``area_share`` the
    share of the image it covers."""

    corners: NDArray[np.float64]
    area_share: float

    @property
    def size(self) -> tuple[int, int]:
        """(rows, cols) px of the rectified page: the longer of each pair of opposite sides."""
        c = self.corners
        width = max(np.linalg.norm(c[1] - c[0]), np.linalg.norm(c[2] - c[3]))
        height = max(np.linalg.norm(c[3] - c[0]), np.linalg.norm(c[2] - c[1]))
        return max(2, round(height)), max(2, round(width))


def shrink(image: NDArray[np.uint8], long_side: int) -> tuple[NDArray[np.uint8], float]:
    """A copy of ``image`` whose long side is at most ``long_side`` px (area-averaged), and
    the scale factor applied (<= 1)."""
    rows, cols = image.shape[:2]
    scale = min(1.0, long_side / max(rows, cols))
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8), scale


def _paper_mask(small: NDArray[np.uint8], step_levels: int) -> NDArray[np.uint8]:
    """(rows, cols) uint8 {0, 1}: the paper around the image centre, grown from seeds near the
    centre over steps of at most a few grey levels (shading changes slowly, a sheet's edge
    steps), on a median-blurred copy where grid and traces are gone."""
    blur = cv2.medianBlur(small, _MEDIAN_PX)
    rows, cols = blur.shape[:2]
    grown = np.zeros((rows + 2, cols + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    step = (step_levels,) * 3
    # Seeds on a 3x3 lattice near the centre: one that lands on a trace grows little.
    for fr in (0.4, 0.5, 0.6):
        for fc in (0.4, 0.5, 0.6):
            seed = (round(fc * (cols - 1)), round(fr * (rows - 1)))
            if not grown[seed[1] + 1, seed[0] + 1]:
                cv2.floodFill(blur, grown, seed, (0, 0, 0), step, step, flags)
    mask = grown[1:-1, 1:-1]
    k = max(3, round(0.02 * max(rows, cols)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return np.asarray(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel), dtype=np.uint8)


def _reading_order(quad_cr: NDArray[np.float64]) -> NDArray[np.float64]:
    """(4, 2) (col, row) corners as (row, col) from top-left, clockwise as displayed."""
    rc = quad_cr[:, ::-1]
    centre = rc.mean(axis=0)
    rc = rc[np.argsort(np.arctan2(rc[:, 0] - centre[0], rc[:, 1] - centre[1]))]
    return np.roll(rc, -int(np.argmin(rc.sum(axis=1))), axis=0)


def _candidates(hull: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    """Quads (4, 2) (row, col) that may frame a convex hull (n, 2) (col, row): 4-gon fits at
    several tolerances, the hull points furthest along the diagonals, the least-area box."""
    perimeter = cv2.arcLength(hull.astype(np.float32), True)
    quads = []
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull.astype(np.float32), eps * perimeter, True).reshape(-1, 2)
        if len(approx) == 4:
            quads.append(approx.astype(np.float64))
    s, d = hull.sum(axis=1), hull[:, 0] - hull[:, 1]
    quads.append(hull[[np.argmin(s), np.argmax(d), np.argmax(s), np.argmin(d)]])
    quads.append(np.asarray(cv2.boxPoints(cv2.minAreaRect(hull.astype(np.float32))), np.float64))
    return [_reading_order(q) for q in quads]


def _refine(corners: NDArray[np.float64], outline: NDArray[np.float64], tol: float) -> NDArray:
    """Each side of a quad refitted as the straight line through the outline points near it
    (least squares), and the corners re-cut where the lines meet."""
    lines = []
    for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        near = _edge_distance(outline, np.stack([a, b]))
        pts = outline[near <= tol]
        if pts.shape[0] < 5:
            return corners
        vr, vc, r0, c0 = np.asarray(cv2.fitLine(pts.astype(np.float32), cv2.DIST_HUBER, 0, 0.01,
                                                0.01)).ravel()  # fmt: skip
        lines.append((np.array([r0, c0]), np.array([vr, vc])))
    out = []
    for k in range(4):
        (p, u), (q, v) = lines[k - 1], lines[k]
        m = np.stack([u, -v], axis=1)
        if abs(np.linalg.det(m)) < 1e-6:
            return corners
        t = np.linalg.solve(m, q - p)
        out.append(p + t[0] * u)
    return np.array(out)


def _edge_distance(
    points: NDArray[np.float64], corners: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(n,) distance (px) of each (row, col) point from the nearest edge of a quad."""
    best = np.full(points.shape[0], np.inf)
    for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        ab = b - a
        t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * ab), axis=1))
    return best


def _outline(region: NDArray[np.uint8], contour: NDArray[np.int32]) -> NDArray[np.float64]:
    """(n, 2) (row, col) points of a region's outline, less those on the frame's edge (where
    the sheet runs out of the picture: no evidence of its shape)."""
    pts = contour.reshape(-1, 2).astype(np.float64)[:, ::-1]
    rows, cols = region.shape
    inner = (pts[:, 0] > 1) & (pts[:, 0] < rows - 2) & (pts[:, 1] > 1) & (pts[:, 1] < cols - 2)
    return pts[inner]


def _straightness(outline: NDArray[np.float64], corners: NDArray[np.float64], tol: float) -> float:
    """The share of outline points within ``tol`` px of the quad's edges."""
    return float((_edge_distance(outline, corners) <= tol).mean()) if outline.size else 0.0


def _contrast(lab: NDArray[np.float32], region: NDArray[np.uint8]) -> float:
    """Lab distance (lightness at half weight) between the region's and the surround's median."""
    inside = np.median(lab[region > 0], axis=0)
    outside = np.median(lab[region == 0], axis=0)
    return float(np.sqrt(((inside - outside) ** 2 * _LAB_WEIGHT).sum()))


def find_page(image: NDArray[np.uint8]) -> PageQuad | None:
    """The sheet of paper in ``image`` (rows, cols, 3) RGB uint8, or None where the page fills
    the frame or no clear sheet is seen (then the image is used as it is).

    A sheet must differ in colour from its surround and have an outline that runs mostly along
    four straight edges (vignetting and stains do not); of the candidate quads the one that
    fits the outline best is refined by a line fit to each side.
    """
    small, scale = shrink(image, _WORK_PX)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    for step in _STEP_LEVELS:  # noisy paper needs larger steps to be grown over
        region = _paper_mask(small, step)
        if region.mean() >= _MIN_AREA:
            break
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(contour).reshape(-1, 2).astype(np.float64)
    share = float(cv2.contourArea(hull.astype(np.float32))) / (small.shape[0] * small.shape[1])
    if share > _FULL_AREA or share < _MIN_AREA:
        log.debug("page region covers %.0f %% of the image: left as it is", 100 * share)
        return None
    outline = _outline(region, np.asarray(contour, np.int32))
    tol = _EDGE_TOL * max(small.shape[:2])
    quads = _candidates(hull)
    scores = [_straightness(outline, q, tol) for q in quads]
    corners = _refine(quads[int(np.argmax(scores))], outline, tol)
    straight, contrast = _straightness(outline, corners, tol), _contrast(lab, region)
    log.debug("page outline %.0f %% straight, contrast %.1f", 100 * straight, contrast)
    if straight < _STRAIGHT or contrast < _MIN_CONTRAST or outline.shape[0] < 8:
        return None
    corners = corners / scale
    centre_rc = corners.mean(axis=0)
    corners = centre_rc + (corners - centre_rc) * (1 - 2 * _INSET)
    return PageQuad(corners=corners, area_share=share)


def rectify_page(
    image: NDArray[np.uint8], quad: PageQuad
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """The sheet seen square-on: (rows, cols, 3) uint8 of :attr:`PageQuad.size`, and the 3x3
    homography over (row, col, 1) that takes ``image``'s points to the rectified image's."""
    rows, cols = quad.size
    target = np.array([[0, 0], [0, cols - 1], [rows - 1, cols - 1], [rows - 1, 0]], np.float64)
    h = perspective_rc(quad.corners, target)
    out = cv2.warpPerspective(image, swap_axes(h), (cols, rows), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return np.asarray(out, dtype=np.uint8), h
