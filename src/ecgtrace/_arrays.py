"""Small array idioms every stage uses, written once: runs of a boolean vector, a parabola's
sub-sample peak, a rotation about a centre, a perspective map between (row, col) quads, (row,
col) points for OpenCV's drawing calls."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

CV_SHIFT = 4  # sub-pixel bits of OpenCV's drawing calls: coordinates in 1/16 px


def true_runs(mask: ArrayLike) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The runs of True in a 1-D boolean vector: (starts, stops), each (n_runs,), half-open
    (run k covers ``starts[k]:stops[k]``)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], np.asarray(mask).astype(np.int8), [0]))))
    return edges[::2], edges[1::2]


def parabolic_offset(before: float, peak: float, after: float) -> float:
    """Where the parabola through three equally spaced samples peaks, in samples from the
    middle one; 0 when the middle sample is not a strict maximum (the parabola opens upwards)."""
    den = before - 2 * peak + after
    return float(0.5 * (before - after) / den) if den < 0 else 0.0


def rotation_rc(angle_deg: float, centre: tuple[float, float]) -> NDArray[np.float64]:
    """(3, 3) on (row, col, 1): a counter-clockwise turn (as displayed) by ``angle_deg`` about
    ``centre`` (row, col) px. Rows grow downwards: a point right of the centre goes up."""
    a = math.radians(angle_deg)
    cos, sin = math.cos(a), math.sin(a)
    cr, cc = centre
    rot = np.array([[cos, -sin], [sin, cos]])
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = np.array([cr, cc]) - rot @ np.array([cr, cc])
    return m


_SWAP = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float64)


def swap_axes(h: ArrayLike) -> NDArray[np.float64]:
    """A 3x3 homography over (row, col, 1) as one over OpenCV's (x, y, 1) = (col, row, 1), and
    back (the swap is its own inverse)."""
    return _SWAP @ np.asarray(h, dtype=np.float64) @ _SWAP


def perspective_rc(src_rc: ArrayLike, dst_rc: ArrayLike) -> NDArray[np.float64]:
    """(3, 3) on (row, col, 1): the homography taking the four (row, col) points ``src_rc``
    (4, 2) to ``dst_rc`` (4, 2) (OpenCV solves it in (x, y))."""
    src = np.asarray(src_rc, dtype=np.float64)[:, ::-1].astype(np.float32)
    dst = np.asarray(dst_rc, dtype=np.float64)[:, ::-1].astype(np.float32)
    return swap_axes(cv2.getPerspectiveTransform(src, dst))


def cv_points(points_rc: ArrayLike, *, shift: int = CV_SHIFT) -> NDArray[np.int32]:
    """(n, 2) row/col px points as OpenCV wants them for ``cv2.polylines(..., shift=shift)``:
    (n, 1, 2) int32 col/row in 1/2**shift px."""
    pts = np.asarray(points_rc, dtype=np.float64)
    return np.round(pts[:, ::-1] * (1 << shift)).astype(np.int32).reshape(-1, 1, 2)


def vertical_runs(mask: ArrayLike) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """The vertical runs of True in a 2-D boolean mask (rows, cols): (col, start_row,
    stop_row), each (n_runs,), sorted by col then row; rows half-open (``start:stop``)."""
    on = np.asarray(mask, dtype=bool)
    padded = np.zeros((on.shape[0] + 2, on.shape[1]), dtype=np.int8)
    padded[1:-1] = on
    edges = np.diff(padded, axis=0).T  # (cols, rows + 1): +1 where a run starts, -1 after it
    col, start = np.nonzero(edges == 1)
    _, stop = np.nonzero(edges == -1)
    return col, start, stop
