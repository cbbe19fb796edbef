"""The layout stage's result: what is where on an ECG page (frozen, crossing into the pipeline)."""

from __future__ import annotations

from dataclasses import dataclass

from ecgtrace.calibration import Calibration
from ecgtrace.types import Box


@dataclass(frozen=True)
class Pulse:
    """A calibration pulse (a 1 mV step): its ``box`` (px), ``height_mm`` (foot to plateau,
    centre to centre of the pen, = the gain in mm/mV), the ``foot_row`` (px, the row's 0 mV
    line), the ``row_index`` of its trace row (0 at the top), the ``side`` of the row it is
    on (``left`` or ``right``) and ``width_mm``, stroke to stroke (0.2 s of paper)."""

    box: Box
    height_mm: float
    foot_row: float
    row_index: int
    side: str
    width_mm: float = 0.0


@dataclass(frozen=True)
class LeadBox:
    """One lead drawn over one time span (a cell of the layout or a rhythm strip).

    ``box`` (px) is the lead's band: its time span in cols, halfway to the neighbouring rows in
    rows. ``baseline_row`` (px) is the row of 0 mV; ``t0_s`` the start of the span in the
    recording and ``duration_s`` its length; ``col0`` (px) the col of ``t0_s``, so that time t
    lies at ``col0 + (t - t0_s) * speed_mm_s * px_per_mm_col``. ``inverted`` marks a lead drawn
    upside down (Cabrera's -aVR).
    """

    lead: str
    box: Box
    baseline_row: float
    t0_s: float
    duration_s: float
    col0: float
    is_rhythm: bool
    inverted: bool = False
    row_index: int = 0
    col_index: int = 0


@dataclass(frozen=True)
class Layout:
    """What is where on an ECG page.

    ``name`` is e.g. ``3x4+II``, ``3x4+II,V1,V5``, ``6x2``, ``12x1`` or ``single``;
    ``calibration`` the paper speed and gain the page is read at (settled from what was stated
    and what the pulses show, :func:`ecgtrace.calibration.settle`); ``pulse_side`` the side of
    the pulses (``left``, ``right`` or ``none``); ``duration_s`` the time every row spans
    (at the settled speed); ``baseline_from`` tells
    where the 0 mV rows come from (``pulse``: exact; ``trace``: the traces' most common level,
    which carries the recording's own offset; ``pulse+trace``: some rows each).
    """

    name: str
    lead_order: str
    calibration: Calibration
    pulses: tuple[Pulse, ...]
    boxes: tuple[LeadBox, ...]
    rhythm_leads: tuple[str, ...]
    pulse_side: str
    duration_s: float
    baseline_from: str

    @property
    def speed_mm_s(self) -> float:
        return self.calibration.speed_mm_s

    @property
    def gain_mm_mv(self) -> float:
        return self.calibration.gain_mm_mv
