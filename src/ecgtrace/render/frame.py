"""Where a page's parts go: its size, the time that fits, each strip's baseline, and the
cells of the layout.

Lengths are in mm from the page's top-left corner, converted to pixels once by
:meth:`Frame.px` (``dpi / 25.4`` px/mm, pixel ``(r, c)`` centred at ``(r, c)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ecgtrace.calibration import PULSE_S
from ecgtrace.leads import N_COLUMNS, N_MAIN_STRIPS, label_inverted, label_lead
from ecgtrace.render.spec import PageSpec, SpecError
from ecgtrace.types import Box

PULSE_LEAD_MM = 1.0  # flat foot of a calibration pulse before and after its step
PULSE_GAP_MM = 0.5  # paper between a pulse and its neighbours (the block's edge, the trace)
MAX_PIXELS = 200e6  # larger pages are refused rather than allocated


@dataclass(frozen=True)
class Cell:
    """One place of the layout: the printed ``label`` (e.g. ``-aVR``) in strip ``row``, column
    ``col``, drawing the recording from ``t0_s`` to ``t1_s``."""

    label: str
    row: int
    col: int
    t0_s: float
    t1_s: float
    is_rhythm: bool

    @property
    def lead(self) -> str:
        return label_lead(self.label)

    @property
    def inverted(self) -> bool:
        return label_inverted(self.label)


def cells(spec: PageSpec, total_s: float) -> list[Cell]:
    """The layout's cells strip by strip, each strip's ``total_s`` shared by its columns."""
    labels = spec.cell_labels
    out = []
    for r, strip in enumerate(labels):
        step = total_s / len(strip)
        for c, label in enumerate(strip):
            is_rhythm = r >= N_MAIN_STRIPS[spec.layout]
            out.append(Cell(label, r, c, c * step, (c + 1) * step, is_rhythm))
    return out


@dataclass(frozen=True)
class Frame:
    """The page's geometry: ``height_mm`` x ``width_mm``, ``shape`` (rows, cols) px at
    ``px_per_mm``; the grid fills it but for the margins and the header (content from
    ``content_top_mm``); ``total_s`` drawn per strip; strips ``spacing_mm`` apart with their
    0 mV lines at ``baselines_mm``; the pulses and traces start at ``block_left_mm``, t = 0 at
    ``trace_left_mm``."""

    height_mm: float
    width_mm: float
    margin_mm: float
    content_top_mm: float
    shape: tuple[int, int]
    px_per_mm: float
    speed_mm_s: float
    total_s: float
    spacing_mm: float
    baselines_mm: tuple[float, ...]
    block_left_mm: float
    trace_left_mm: float

    def px(self, mm: ArrayLike) -> NDArray[np.float64]:
        """Pixel coordinates of positions in mm (either axis)."""
        return np.asarray(mm, dtype=np.float64) * self.px_per_mm - 0.5

    def col_of(self, t_s: ArrayLike) -> NDArray[np.float64]:
        """The pixel column where time ``t_s`` (s from the strip's start) is drawn."""
        return self.px(self.trace_left_mm + np.asarray(t_s) * self.speed_mm_s)

    @property
    def grid_area(self) -> Box:
        """The box (px) the grid is printed in: all but the margins and the header."""
        return Box(
            float(self.px(self.content_top_mm)),
            float(self.px(self.margin_mm)),
            float(self.px(self.height_mm - self.margin_mm)),
            float(self.px(self.width_mm - self.margin_mm)),
        )


def pulse_area_mm(spec: PageSpec) -> float:
    """Width the calibration pulse takes beside the traces (0 without pulses)."""
    if spec.calibration == "none":
        return 0.0
    return 2 * PULSE_LEAD_MM + PULSE_S * spec.speed_mm_s + 2 * PULSE_GAP_MM


def page_frame(spec: PageSpec, *, n_strips: int, record_s: float) -> Frame:
    """Lay out ``n_strips`` strips of a recording ``record_s`` long on ``spec``'s page.

    A page of fixed size shows what fits, in whole 0.05 s per column; a free one
    (``page_mm`` None) grows to the content. Raises :class:`SpecError` when nothing fits.
    """
    ppm = spec.px_per_mm
    pulse_mm = pulse_area_mm(spec)
    total_s = spec.duration_s if spec.duration_s is not None else record_s
    total_s = min(total_s, record_s)
    squeeze = 1.0 - 0.6 * spec.overlap  # overlap 1 brings the rows to 40 % of their spacing
    if spec.page_mm is None:
        spacing = spec.row_spacing_mm or 3.5 * spec.gain_mm_mv
        spacing *= squeeze
        height_mm = 2 * spec.margin_mm + spec.header_mm + n_strips * spacing
        width_mm = 2 * spec.margin_mm + pulse_mm + total_s * spec.speed_mm_s
    else:
        height_mm, width_mm = spec.page_mm
        fit_s = (width_mm - 2 * spec.margin_mm - pulse_mm) / spec.speed_mm_s
        if fit_s < total_s:
            n_cols = N_COLUMNS[spec.layout]
            total_s = n_cols * math.floor(fit_s / n_cols * 20 + 1e-9) / 20
        content_h = height_mm - 2 * spec.margin_mm - spec.header_mm
        spacing = spec.row_spacing_mm or content_h / n_strips
        spacing *= squeeze
        if n_strips * spacing > content_h + 1e-6:
            raise SpecError(
                f"{n_strips} rows of {spacing:.1f} mm do not fit in {content_h:.1f} mm of page"
            )
    if total_s <= 0:
        raise SpecError("no time fits on the page: widen the page or lower the paper speed")
    shape = (max(1, round(height_mm * ppm)), max(1, round(width_mm * ppm)))
    if shape[0] * shape[1] > MAX_PIXELS:
        raise SpecError(f"page of {shape[0]} x {shape[1]} px is too large to render")
    content_top = spec.margin_mm + spec.header_mm
    content_h = height_mm - 2 * spec.margin_mm - spec.header_mm
    block_top = content_top + (content_h - n_strips * spacing) / 2
    block_w = pulse_mm + total_s * spec.speed_mm_s
    block_left = spec.margin_mm + (width_mm - 2 * spec.margin_mm - block_w) / 2
    return Frame(
        height_mm=height_mm,
        width_mm=width_mm,
        margin_mm=spec.margin_mm,
        content_top_mm=content_top,
        shape=shape,
        px_per_mm=ppm,
        speed_mm_s=spec.speed_mm_s,
        total_s=total_s,
        spacing_mm=spacing,
        baselines_mm=tuple(block_top + spacing * (i + 0.5) for i in range(n_strips)),
        block_left_mm=block_left,
        trace_left_mm=block_left + (pulse_mm if spec.calibration == "left" else 0.0),
    )
