"""The exact truth of a rendered page: what was drawn where.

Every geometric field is in pixel coordinates of the image it belongs to (row, col; pixel
``(r, c)`` has its centre at ``(r, c)``). Geometric degradations move all of it with the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgtrace.leads import LEAD_NAMES
from ecgtrace.render.spec import PageSpec
from ecgtrace.types import Box

# A pixel belongs to a trace when its ink coverage is at least half (the image uses the same).
ALPHA_THRESHOLD = 128


@dataclass(frozen=True, eq=False)
class SegmentTruth:
    """One lead drawn over one time span (a cell of the layout or a rhythm strip).

    ``times_s`` and ``signal_mv`` (n,) are the samples drawn, as recorded (not inverted);
    ``polyline`` (n, 2) is where each sample lies in the image (row, col px) and ``zero_line``
    (n, 2) where 0 mV lies at the same instant, so that
    ``signal_mv = sign * (zero_line - polyline)[:, 0] / (gain_mm_mv * px_per_mm_row)`` on an
    unrotated page (``sign`` is -1 for an inverted lead such as Cabrera's -aVR).
    ``alpha`` (h, w) uint8 is this lead's own ink coverage, its top-left pixel at ``alpha_origin``.
    ``band`` is the region the lead owns: its time span, halfway to the neighbouring rows.
    """

    lead: str
    label: str
    inverted: bool
    row_index: int
    col_index: int
    is_rhythm: bool
    t0_s: float
    t1_s: float
    times_s: NDArray[np.float64]
    signal_mv: NDArray[np.float64]
    polyline: NDArray[np.float64]
    zero_line: NDArray[np.float64]
    baseline_row: float
    px_per_mm_row: float
    px_per_mm_col: float
    speed_mm_s: float
    gain_mm_mv: float
    band: Box
    alpha: NDArray[np.uint8]
    alpha_origin: tuple[int, int]
    label_box: Box | None
    overlap: bool

    @property
    def mask(self) -> NDArray[np.bool_]:
        """(h, w) bool: this lead's own trace pixels, positioned at ``alpha_origin``."""
        return self.alpha >= ALPHA_THRESHOLD

    @property
    def mask_box(self) -> Box:
        r, c = self.alpha_origin
        h, w = self.alpha.shape
        return Box(r - 0.5, c - 0.5, r + h - 0.5, c + w - 0.5)

    def page_mask(self, shape: tuple[int, int]) -> NDArray[np.bool_]:
        """(rows, cols) bool: this lead's trace pixels on a page of ``shape``."""
        out = np.zeros(shape, dtype=bool)
        page, crop = paste_slices(self.alpha_origin, self.alpha.shape, shape)
        out[page] = self.mask[crop]
        return out


def paste_slices(
    origin: tuple[int, int], size: tuple[int, ...], shape: tuple[int, ...]
) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Slices that place an array of ``size`` at ``origin`` (row, col) in one of ``shape``, clipped.

    Returns (slices into the page, slices into the array).
    """
    r0, c0 = origin
    pr0, pc0 = max(r0, 0), max(c0, 0)
    pr1, pc1 = min(r0 + size[0], shape[0]), min(c0 + size[1], shape[1])
    pr1, pc1 = max(pr1, pr0), max(pc1, pc0)
    page = (slice(pr0, pr1), slice(pc0, pc1))
    crop = (slice(pr0 - r0, pr1 - r0), slice(pc0 - c0, pc1 - c0))
    return page, crop


def _rounded(values: NDArray[np.float64]) -> list[float]:
    """To 1e-6 (s, mV, px): far below any pixel, and a third of the JSON."""
    return list(np.round(values, 6).tolist())


@dataclass(frozen=True, eq=False)
class PulseTruth:
    """A calibration pulse: 1 mV tall, its foot on the row's 0 mV baseline."""

    row_index: int
    box: Box
    foot: NDArray[np.float64]  # (2, 2): the foot's two ends (row, col) px
    top: NDArray[np.float64]  # (2, 2): the plateau's two ends (row, col) px
    height_mv: float = 1.0


@dataclass(frozen=True, eq=False)
class PageTruth:
    """The exact truth of a page image of ``shape`` (rows, cols).

    ``signal_plotted`` (n_samples, 12) mV at ``fs`` is the recording with NaN where not plotted,
    columns in :data:`LEAD_NAMES` order. ``marks`` are the boxes of other ink (column separators).
    """

    spec: PageSpec
    shape: tuple[int, int]
    px_per_mm_row: float
    px_per_mm_col: float
    rotation_deg: float
    segments: tuple[SegmentTruth, ...]
    pulses: tuple[PulseTruth, ...]
    marks: tuple[Box, ...]
    header_box: Box | None
    fs: float
    signal_plotted: NDArray[np.float64]
    lead_names: tuple[str, ...] = LEAD_NAMES

    def instance_masks(self) -> NDArray[np.int16]:
        """(rows, cols) int16: index of the segment whose ink covers each pixel most, -1 if none."""
        best = np.zeros(self.shape, dtype=np.uint8)
        labels = np.full(self.shape, -1, dtype=np.int16)
        for k, seg in enumerate(self.segments):
            page, crop = paste_slices(seg.alpha_origin, seg.alpha.shape, self.shape)
            a = seg.alpha[crop]
            win = (a >= ALPHA_THRESHOLD) & (a > best[page])
            labels[page][win] = k
            best[page] = np.maximum(best[page], a)
        return labels

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (masks excluded: see :func:`ecgtrace.io.save_rendered`)."""
        return {
            "shape": list(self.shape),
            "px_per_mm_row": self.px_per_mm_row,
            "px_per_mm_col": self.px_per_mm_col,
            "rotation_deg": self.rotation_deg,
            "fs": self.fs,
            "lead_names": list(self.lead_names),
            "header_box": None if self.header_box is None else self.header_box.as_list(),
            "marks": [m.as_list() for m in self.marks],
            "pulses": [
                {
                    "row_index": p.row_index,
                    "box": p.box.as_list(),
                    "foot": p.foot.tolist(),
                    "top": p.top.tolist(),
                    "height_mv": p.height_mv,
                }
                for p in self.pulses
            ],
            "segments": [
                {
                    "lead": s.lead,
                    "label": s.label,
                    "inverted": s.inverted,
                    "row_index": s.row_index,
                    "col_index": s.col_index,
                    "is_rhythm": s.is_rhythm,
                    "t0_s": s.t0_s,
                    "t1_s": s.t1_s,
                    "baseline_row": s.baseline_row,
                    "px_per_mm_row": s.px_per_mm_row,
                    "px_per_mm_col": s.px_per_mm_col,
                    "speed_mm_s": s.speed_mm_s,
                    "gain_mm_mv": s.gain_mm_mv,
                    "band": s.band.as_list(),
                    "mask_box": s.mask_box.as_list(),
                    "label_box": None if s.label_box is None else s.label_box.as_list(),
                    "overlap": s.overlap,
                    "times_s": _rounded(s.times_s),
                    "signal_mv": _rounded(s.signal_mv),
                    "polyline_row": _rounded(s.polyline[:, 0]),
                    "polyline_col": _rounded(s.polyline[:, 1]),
                    "zero_line_row": _rounded(s.zero_line[:, 0]),
                    "zero_line_col": _rounded(s.zero_line[:, 1]),
                }
                for s in self.segments
            ],
        }


@dataclass(frozen=True, eq=False)
class Rendered:
    """A page image (rows, cols, 3) uint8 RGB and its exact truth."""

    image: NDArray[np.uint8]
    truth: PageTruth
