"""The renderer's drawing primitives: anti-aliased strokes, text, the grid and the final colours.

Everything is in pixels of the page (row, col; pixel ``(r, c)`` centred at ``(r, c)``) and works
on coverage: uint8 ink coverage (0-255) for strokes and text, float32 coverage in [0, 1] for grid
lines; :func:`compose` turns the coverages into the RGB image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace._arrays import CV_SHIFT, cv_points, true_runs
from ecgtrace.render.spec import FONT_FACES, Colour, GridStyle
from ecgtrace.render.truth import paste_slices
from ecgtrace.types import Box

MINOR_MM = 1.0  # the grid's minor pitch
MAJOR_MM = 5.0  # and its major pitch


@dataclass(frozen=True, eq=False)
class Ink:
    """Ink coverage ``alpha`` (h, w) uint8 of a small patch whose top-left pixel is at
    ``origin`` (row, col) of the page."""

    alpha: NDArray[np.uint8]
    origin: tuple[int, int]

    @classmethod
    def empty(cls) -> Ink:
        """No ink: a 1 px patch of zero coverage at the page's corner."""
        return cls(np.zeros((1, 1), np.uint8), (0, 0))


def paste_max(canvas: NDArray[np.uint8], ink: Ink) -> None:
    """Lay ``ink`` on ``canvas`` (rows, cols) uint8 in place, keeping the larger coverage (clipped
    to the page)."""
    page, crop = paste_slices(ink.origin, ink.alpha.shape, canvas.shape)
    canvas[page] = np.maximum(canvas[page], ink.alpha[crop])


def finite_runs(points: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    """The runs of an (n, 2) polyline between its NaN points (a gap in the signal lifts the pen)."""
    starts, stops = true_runs(np.all(np.isfinite(points), axis=1))
    return [points[a:b] for a, b in zip(starts, stops, strict=True)]


def stroke(runs: Sequence[NDArray[np.float64]], *, width_px: float, shape: tuple[int, int]) -> Ink:
    """Anti-aliased ink coverage of polylines (each (n, 2) row/col px) ``width_px`` wide.

    The patch covers the polylines' bounding box, clipped to a page of ``shape`` (plus a
    little). Supersampling then area-averaging gives exact, sub-pixel coverage for any width.
    """
    pts = np.concatenate(runs)
    pad = width_px / 2 + 2
    r0 = math.floor(np.min(pts[:, 0]) - pad)
    c0 = math.floor(np.min(pts[:, 1]) - pad)
    r1 = math.ceil(np.max(pts[:, 0]) + pad) + 1
    c1 = math.ceil(np.max(pts[:, 1]) + pad) + 1
    # Keep within the page (plus a little) so huge amplitudes cannot allocate huge canvases.
    r0, c0 = max(r0, -4), max(c0, -4)
    r1, c1 = min(r1, shape[0] + 4), min(c1, shape[1] + 4)
    h, w = max(r1 - r0, 1), max(c1 - c0, 1)
    ss = 4 if width_px * 4 < 64 else 2
    canvas = np.zeros((h * ss, w * ss), dtype=np.uint8)
    thickness = max(1, round(width_px * ss))
    fixed = [cv_points((run - (r0, c0) + 0.5) * ss - 0.5) for run in runs]
    cv2.polylines(
        canvas, fixed, False, 255, thickness=thickness, lineType=cv2.LINE_AA, shift=CV_SHIFT
    )
    alpha = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    return Ink(np.asarray(alpha, dtype=np.uint8), (r0, c0))


def draw_text(
    canvas: NDArray[np.uint8],
    text: str,
    *,
    row_px: float,
    col_px: float,
    height_px: float,
    font: str,
) -> Box:
    """Draw ``text`` into ``canvas`` (rows, cols) uint8 in place, its baseline-left corner at
    (``row_px``, ``col_px``) and capitals ``height_px`` tall; return the box it covers.

    OpenCV blends anti-aliased text with what the canvas holds, so the drawing order counts.
    """
    face = FONT_FACES[font]
    (_, h1), _ = cv2.getTextSize(text, face, 1.0, 1)
    scale = height_px / max(h1, 1)
    thickness = max(1, round(scale * 1.6))
    (w, h), below = cv2.getTextSize(text, face, scale, thickness)
    org = (round(col_px), round(row_px))  # OpenCV's point is (col, row)
    cv2.putText(canvas, text, org, face, scale, 255, thickness, cv2.LINE_AA)
    pad = thickness
    return Box(org[1] - h - pad, org[0] - pad, org[1] + below + pad, org[0] + w + pad)


def _line_coverage(
    n: int, *, start: float, stop: float, pitch: float, width: float
) -> NDArray[np.float32]:
    """(n,) float32: coverage of pixels 0..n-1 by lines ``width`` px wide at ``start + k *
    pitch`` px, up to ``stop``."""
    i = np.arange(n, dtype=np.float64)
    k = np.clip(np.round((i - start) / pitch), 0, math.floor((stop - start) / pitch + 1e-9))
    p = start + k * pitch
    cov = np.minimum(i + 0.5, p + width / 2) - np.maximum(i - 0.5, p - width / 2)
    return np.clip(cov, 0.0, 1.0).astype(np.float32)


def grid_alpha(
    shape: tuple[int, int], grid: GridStyle, *, px_per_mm: float, area: Box
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Coverage (rows, cols) float32 of the minor and of the major grid lines inside ``area``
    (px), lines every :data:`MINOR_MM` and :data:`MAJOR_MM` from its top-left corner."""
    if grid.style == "none":
        zero = np.zeros(shape, dtype=np.float32)
        return zero, zero
    rows, cols = shape
    in_r = ((np.arange(rows) >= area.top) & (np.arange(rows) < area.bottom)).astype(np.float32)
    in_c = ((np.arange(cols) >= area.left) & (np.arange(cols) < area.right)).astype(np.float32)

    def lines(pitch_mm: float, width_mm: float) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        pitch, width = pitch_mm * px_per_mm, width_mm * px_per_mm
        cr = _line_coverage(rows, start=area.top, stop=area.bottom, pitch=pitch, width=width)
        cc = _line_coverage(cols, start=area.left, stop=area.right, pitch=pitch, width=width)
        return cr * in_r, cc * in_c

    if grid.style == "solid":
        cr, cc = lines(MINOR_MM, grid.minor_width_mm)
        minor = np.maximum(np.outer(cr, in_c), np.outer(in_r, cc))
    else:  # dots at the minor intersections, a little wider than the lines would be
        cr, cc = lines(MINOR_MM, max(2.0 * grid.minor_width_mm, 0.15))
        minor = np.outer(cr, cc)
    mr, mc = lines(MAJOR_MM, grid.major_width_mm)
    major = np.maximum(np.outer(mr, in_c), np.outer(in_r, mc))
    return minor.astype(np.float32), major.astype(np.float32)


def compose(
    grid: GridStyle,
    *,
    trace_colour: Colour,
    minor: NDArray[np.float32],
    major: NDArray[np.float32],
    ink: NDArray[np.uint8],
) -> NDArray[np.uint8]:
    """The page (rows, cols, 3) uint8 RGB: paper, then the minor grid, the major grid and the
    ink, each painted over the last by its coverage (all (rows, cols))."""
    a_ink = ink.astype(np.float32) * np.float32(1 / 255)
    keep_ink = 1.0 - a_ink
    w_major = major * keep_ink
    keep_major = keep_ink - w_major
    w_minor = minor * keep_major
    w_paper = keep_major - w_minor
    weights = np.stack([w_paper, w_minor, w_major, a_ink], axis=-1)
    colours = np.array(
        [grid.paper_colour, grid.minor_colour, grid.major_colour, trace_colour], dtype=np.float32
    )
    rgb = weights.reshape(-1, 4) @ colours
    rgb += 0.5  # round half up on the cast below
    return rgb.reshape(*ink.shape, 3).astype(np.uint8)
