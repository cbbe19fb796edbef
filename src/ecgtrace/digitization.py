"""The page-level result: a digitized ECG page and the lead traces it was read from.

These frozen dataclasses cross the boundary between the pipeline and its users (the CLI, the
batch runner, the writers in :mod:`ecgtrace.io.outputs`, the benchmarks). Nothing here reads or
writes files: :func:`ecgtrace.io.write_outputs` and its parts do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ecgtrace.calibration import Calibration
from ecgtrace.grid import Grid
from ecgtrace.layout import Layout
from ecgtrace.leads import LEAD_NAMES
from ecgtrace.rectify import Rectification
from ecgtrace.types import Box


@dataclass(frozen=True)
class DigitizeOptions:
    """What the pipeline is told about a page; None: found on the page.

    ``layout`` e.g. ``3x4+II`` and ``lead_order`` (``standard``/``cabrera``) override detection;
    ``speed_mm_s``/``gain_mm_mv`` stated values (used as stated, checked against the pulses);
    ``fs`` (Hz) the output's sampling rate; ``method`` one of
    :data:`~ecgtrace.segment.box.METHODS`; ``px_per_mm`` the pitch of a page without a grid;
    ``threads`` lead boxes worked on at once.
    """

    layout: str | None = None
    speed_mm_s: float | None = None
    gain_mm_mv: float | None = None
    fs: float = 500.0
    lead_order: str | None = None
    method: str = "unet+ink"
    px_per_mm: float | None = None
    threads: int = 2


class DigitizeError(ValueError):
    """A page that cannot be digitized; the message is one line naming the input and the cause."""


@dataclass(frozen=True)
class StageTimes:
    """Wall time (s) of each stage of one page (``grid_s`` includes deskewing)."""

    rectify_s: float = 0.0
    grid_s: float = 0.0
    layout_s: float = 0.0
    segment_s: float = 0.0
    extract_s: float = 0.0
    total_s: float = 0.0


@dataclass(frozen=True, eq=False)
class LeadTrace:
    """One lead box digitized: a cell of the layout or a rhythm strip.

    ``box`` (px, in the deskewed page) and the time span ``t0_s`` .. ``t0_s + duration_s`` (s);
    ``path_row``/``path_col`` (m,) px the traced path in the deskewed page (for overlays);
    ``coverage`` the share of the span's samples traced; ``confidence`` in [0, 1] (coverage
    times the segmenter's mean probability along the path).
    """

    lead: str
    box: Box
    baseline_row: float
    t0_s: float
    duration_s: float
    is_rhythm: bool
    inverted: bool
    coverage: float
    confidence: float
    path_row: NDArray[np.float64]
    path_col: NDArray[np.float64]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Digitization:
    """A digitized ECG page.

    ``p_signal`` (n_samples, 12) float64 in mV, leads in ``sig_name`` order (I, II, III, aVR,
    aVL, aVF, V1..V6), sample k at ``k / fs`` s from the start of the recording; NaN where a
    lead was not plotted. ``image`` is the rectified, deskewed page (rows, cols, 3) uint8 the
    boxes and paths refer to; ``rectification`` says how it was cut from the input (the sheet's
    corners in a photo, quarter turns); ``rotation_deg`` the small turn taken out after it.
    ``calibration`` (the layout's) holds the paper speed and gain used (``speed_mm_s``,
    ``gain_mm_mv``) and where they came from (``speed_from``/``gain_from``: ``given``,
    ``pulse`` or ``default``).
    """

    p_signal: NDArray[np.float64]
    fs: float
    source: str
    page: int
    image: NDArray[np.uint8]
    grid: Grid
    layout: Layout
    traces: tuple[LeadTrace, ...]
    method: str
    warnings: tuple[str, ...] = ()
    times: StageTimes = field(default_factory=StageTimes)
    sig_name: tuple[str, ...] = LEAD_NAMES
    units: str = "mV"
    rectification: Rectification | None = None

    @property
    def n_samples(self) -> int:
        return int(self.p_signal.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def times_s(self) -> NDArray[np.float64]:
        return np.arange(self.n_samples) / self.fs

    @property
    def calibration(self) -> Calibration:
        return self.layout.calibration

    @property
    def speed_mm_s(self) -> float:
        return self.layout.calibration.speed_mm_s

    @property
    def gain_mm_mv(self) -> float:
        return self.layout.calibration.gain_mm_mv

    @property
    def speed_from(self) -> str:
        return self.layout.calibration.speed_from

    @property
    def gain_from(self) -> str:
        return self.layout.calibration.gain_from

    @property
    def rotation_deg(self) -> float:
        return float(self.grid.rotation_deg)

    def lead_confidence(self, lead: str) -> float:
        """The best confidence among the boxes showing ``lead`` (0 when it is not on the page)."""
        return max((t.confidence for t in self.traces if t.lead == lead), default=0.0)

    @property
    def mean_confidence(self) -> float:
        shown = [
            self.lead_confidence(n) for n in self.sig_name if any(t.lead == n for t in self.traces)
        ]
        return float(np.mean(shown)) if shown else 0.0
