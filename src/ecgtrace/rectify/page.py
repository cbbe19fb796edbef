"""Find the sheet of paper in a photo and look at it square-on (a homography).

The paper is told from the desk, hand or cloth around it by colour: it is the large, light,
low-texture region around the image centre. On a small copy, each pixel's colour distance from
the paper colour (the median near the centre) is thresholded (Otsu), closed over the traces and
grid, and the connected region holding the centre is filled; its convex hull's four corners
(the hull points furthest along the four diagonals, refined by a polygon fit) are the page.
A page that fills the frame (a scan, a screenshot) has no such region and is left as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

_WORK_PX = 640  # the long side of the copy the page is looked for in
_MIN_AREA = 0.2  # a page covers at least this share of the photo
_FULL_AREA = 0.93  # a region larger than this share fills the frame: nothing to cut
_INSET = 0.004  # the quad is shrunk by this share of its size, so no background leaks in
_MIN_CONTRAST = 15.0  # Lab distance (lightness at half weight) between paper and surround
_STRAIGHT = 0.85  # share of the region's outline that must lie on the quad's edges
_EDGE_TOL = 0.015  # how near (share of the long side) an outline point must be to an edge
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


def _paper_mask(lab: NDArray[np.float32]) -> NDArray[np.uint8]:
    """(rows, cols) uint8 {0, 1}: pixels of a Lab image whose colour is near the paper's (the
    median near the centre)."""
    rows, cols = lab.shape[:2]
    centre = lab[rows * 3 // 8 : rows * 5 // 8, cols * 3 // 8 : cols * 5 // 8].reshape(-1, 3)
    paper = np.median(centre, axis=0)
    dist = np.sqrt(((lab - paper) ** 2 * _LAB_WEIGHT).sum(axis=2))
    # Ink and grid are thin: a median over a few px leaves the paper's own colour.
    dist = cv2.medianBlur(np.clip(dist, 0, 255).astype(np.uint8), 5)
    thr, _ = cv2.threshold(dist, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    near = (dist <= max(thr, 12.0)).astype(np.uint8)
    k = max(3, round(0.02 * max(rows, cols)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    near = cv2.morphologyEx(near, cv2.MORPH_CLOSE, kernel)
    return np.asarray(cv2.morphologyEx(near, cv2.MORPH_OPEN, kernel), dtype=np.uint8)


def _corners(hull: NDArray[np.float64]) -> NDArray[np.float64]:
    """Four corners of a convex hull (n, 2) (col, row): a 4-gon fit where one exists, else the
    points furthest along the diagonals; returned (row, col) in reading order."""
    perimeter = cv2.arcLength(hull.astype(np.float32), True)
    quad = None
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull.astype(np.float32), eps * perimeter, True).reshape(-1, 2)
        if len(approx) == 4:
            quad = approx.astype(np.float64)
            break
    if quad is None:
        s, d = hull.sum(axis=1), hull[:, 0] - hull[:, 1]
        quad = hull[[np.argmin(s), np.argmax(d), np.argmax(s), np.argmin(d)]]
    rc = quad[:, ::-1]
    # Reading order: top-left has the smallest row + col, then clockwise as displayed.
    centre = rc.mean(axis=0)
    angle = np.arctan2(rc[:, 0] - centre[0], rc[:, 1] - centre[1])
    rc = rc[np.argsort(angle)]  # from -pi: top-left, top-right, bottom-right, bottom-left
    start = int(np.argmin(rc.sum(axis=1)))
    return np.roll(rc, -start, axis=0)


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


def _is_sheet(
    lab: NDArray[np.float32],
    region: NDArray[np.uint8],
    contours: tuple[NDArray[np.int32], ...],
    corners: NDArray[np.float64],
) -> bool:
    """Whether a paper-coloured region is a sheet on a surface, not vignetting or a stain:
    its outline runs along the quad's straight edges, and the surround differs in colour."""
    outline = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float64)[:, ::-1]
    rows, cols = region.shape
    inner = (outline[:, 0] > 1) & (outline[:, 0] < rows - 2)
    inner &= (outline[:, 1] > 1) & (outline[:, 1] < cols - 2)  # the frame's edge is no evidence
    if inner.sum() < 8:
        return False
    near = _edge_distance(outline[inner], corners) <= _EDGE_TOL * max(rows, cols)
    inside = np.median(lab[region > 0], axis=0)
    outside = np.median(lab[region == 0], axis=0)
    contrast = float(np.sqrt(((inside - outside) ** 2 * _LAB_WEIGHT).sum()))
    log.debug("page outline %.0f %% straight, contrast %.1f", 100 * near.mean(), contrast)
    return bool(near.mean() >= _STRAIGHT and contrast >= _MIN_CONTRAST)


def find_page(image: NDArray[np.uint8]) -> PageQuad | None:
    """The sheet of paper in ``image`` (rows, cols, 3) RGB uint8, or None where the page fills
    the frame or no clear sheet is seen (then the image is used as it is)."""
    small, scale = shrink(image, _WORK_PX)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    mask = _paper_mask(lab)
    n, labels, _, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    centre = labels[small.shape[0] // 2, small.shape[1] // 2]
    if centre == 0 or n < 2:
        return None
    region = (labels == centre).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea)).reshape(-1, 2).astype(np.float64)
    share = float(cv2.contourArea(hull.astype(np.float32))) / (small.shape[0] * small.shape[1])
    if share > _FULL_AREA or share < _MIN_AREA:
        log.debug("page region covers %.0f %% of the image: left as it is", 100 * share)
        return None
    corners = _corners(hull)
    if not _is_sheet(lab, region, contours, corners):
        return None
    corners = corners / scale
    centre_rc = corners.mean(axis=0)
    corners = centre_rc + (corners - centre_rc) * (1 - 2 * _INSET)
    return PageQuad(corners=corners, area_share=share)


def rectify_page(
    image: NDArray[np.uint8], quad: PageQuad
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """The sheet seen square-on: (rows, cols, 3) uint8 of :attr:`PageQuad.size`, and the 3x3
    homography over (row, col, 1) that takes the rectified image's points to ``image``'s."""
    rows, cols = quad.size
    target = np.array([[0, 0], [0, cols - 1], [rows - 1, cols - 1], [rows - 1, 0]], np.float64)
    h_xy = cv2.getPerspectiveTransform(
        quad.corners[:, ::-1].astype(np.float32), target[:, ::-1].astype(np.float32)
    )
    out = cv2.warpPerspective(image, h_xy, (cols, rows), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    swap = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float64)
    back = swap @ np.linalg.inv(h_xy) @ swap
    return np.asarray(out, dtype=np.uint8), back
