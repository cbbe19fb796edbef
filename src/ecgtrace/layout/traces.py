"""Each row's trace followed across the page; the time span the rows share; how well two
traces repeat each other (a rhythm strip repeats a cell above it, sample for sample)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ecgtrace._arrays import vertical_runs
from ecgtrace.layout.rows import TraceRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Followed:
    """One row's trace across the page: ``levels`` (cols,) px, NaN where the band has no ink;
    ``flat`` (cols,) where the trace is not steep (a QRS stroke's centre is not its level)."""

    levels: NDArray[np.float64]
    flat: NDArray[np.bool_]


@dataclass(frozen=True)
class CellMatch:
    """The cell (``row``, ``col`` of the layout) a rhythm strip repeats best, how well
    (``fit``, share of its waves that agree) and the runner-up's fit."""

    fit: float
    runner_up: float
    row: int
    col: int


def follow_trace(
    d: NDArray[np.float32], ink: NDArray[np.bool_], row: TraceRow, stroke: float
) -> Followed:
    """The row's trace followed across its band: per col (all of the image's), the centre (px,
    darkness-weighted) of the run of ink that continues the previous col's, NaN where the band
    has none; and whether that run is steep (taller than two pens: a QRS, where the centre is
    not the sample's level).

    A neighbour's wave that enters the band can be followed for a while, but not for long: it
    leaves the band (halfway to its own row) and the nearest ink left is the row's own trace.
    """
    r0, r1 = max(0, math.ceil(row.top)), math.floor(row.bottom) + 1
    band = ink[r0:r1]
    h, w = band.shape
    s_col, s_row, e_row = vertical_runs(band)
    # Darkness-weighted centre of each run, a pixel wider each side for the pen's soft edges.
    wd = np.pad(d[r0:r1].astype(np.float64), ((1, 1), (0, 0)))
    cw = np.concatenate([np.zeros((1, w)), np.cumsum(wd, axis=0)])
    cwr = np.concatenate([np.zeros((1, w)), np.cumsum(wd * np.arange(-1, h + 1)[:, None], axis=0)])
    lo, hi = s_row, e_row + 2  # padded coordinates: run [s, e) is [s + 1, e + 1), plus one each
    mass = cw[hi, s_col] - cw[lo, s_col]
    centre = (cwr[hi, s_col] - cwr[lo, s_col]) / np.maximum(mass, 1e-9)
    centre = np.where(mass > 0, centre, 0.5 * (s_row + e_row - 1))
    ptr = np.searchsorted(s_col, np.arange(w + 1)).tolist()
    starts, ends, centres = s_row.tolist(), e_row.tolist(), centre.tolist()
    levels = np.full(w, np.nan)
    steep = np.zeros(w, bool)
    steep_px = 2.0 * stroke + 2.0
    prev: tuple[float, float, float] | None = None  # start, end, centre of the last run
    guess = row.peak - r0
    for c in range(w):
        i0, i1 = ptr[c], ptr[c + 1]
        if i0 == i1:
            continue
        best, best_key = i0, (math.inf, math.inf)
        for i in range(i0, i1):
            if prev is None:
                key = (0.0, abs(centres[i] - guess))
            else:
                overlap = min(ends[i], prev[1] + 1) - max(starts[i], prev[0] - 1)
                key = (
                    (-overlap, abs(centres[i] - prev[2]))
                    if overlap > 0
                    else (1.0, abs(centres[i] - prev[2]))
                )
            if key < best_key:
                best, best_key = i, key
        prev = (starts[best], ends[best], centres[best])
        levels[c] = r0 + centres[best]
        steep[c] = ends[best] - starts[best] > steep_px
    return Followed(levels=levels, flat=~steep)


def match(a: NDArray[np.float64], b: NDArray[np.float64], cols: slice, tol_px: float) -> float:
    """How well two traces (levels less their baselines, px) repeat each other over ``cols``:
    the share of the cols where either departs from its median level by over 3 ``tol_px`` (the
    waves, not the flat stretches every lead has) in which they agree within ``tol_px`` after
    removing their median difference; 0 when they barely overlap."""
    x, y = a[cols], b[cols]
    ok = np.isfinite(x) & np.isfinite(y)
    if x.size < 4 or ok.sum() < 0.5 * x.size:
        return 0.0
    x, y = x[ok], y[ok]
    x, y = x - np.median(x), y - np.median(y)
    active = (np.abs(x) > 3 * tol_px) | (np.abs(y) > 3 * tol_px)
    if active.sum() < 5:
        return 0.0
    return float(np.mean(np.abs(x - y)[active] <= tol_px))


def _snap_duration(total_s: float, quantum_s: float) -> float:
    """The duration rounded to whole ``quantum_s`` when it lies within a third of one."""
    snapped = round(total_s / quantum_s) * quantum_s
    if abs(snapped - total_s) <= 0.35 * quantum_s and snapped > 0:
        return snapped
    log.info("trace duration %.3f s is not a whole %.2f s: kept as measured", total_s, quantum_s)
    return total_s


def time_span(
    starts: NDArray[np.float64],
    ends: NDArray[np.float64],
    pulse_side: str,
    px_per_s: float,
    quantum_s: float,
) -> tuple[float, float]:
    """The col (px) of t = 0 and the duration (s) every row spans, from each row's first and last
    sample col; the end away from the pulses is exact, so it anchors the span."""
    start, end = float(np.median(starts)), float(np.median(ends))
    total_s = _snap_duration((end - start) / px_per_s, quantum_s)
    if pulse_side == "left":
        start = end - total_s * px_per_s
    elif pulse_side == "none":
        start = 0.5 * (start + end - total_s * px_per_s)
    return start, total_s


@dataclass(frozen=True)
class Traces:
    """The rows' traces followed across the page, and the time span they share."""

    levels: list[NDArray[np.float64]]  # per row: (cols,) px, NaN where no ink
    flat: list[NDArray[np.bool_]]  # per row: (cols,) the trace is not steep there
    baselines: list[float]  # per row: px
    start: float  # px: the col of t = 0
    span_px: float  # px: the cols every row spans
    tol: float  # px: two traces agree within this
    margin: int  # px: kept off the ends of a cell

    def spanning(self, start: float, span_px: float) -> Traces:
        """These traces sharing the span from col ``start`` (px) over ``span_px``."""
        return replace(self, start=start, span_px=span_px)

    def window(self, k: int, n_cols: int) -> slice:
        """The cols of column ``k`` of ``n_cols``, less a margin at each end."""
        step = self.span_px / n_cols
        return slice(
            round(self.start + k * step) + self.margin,
            round(self.start + (k + 1) * step) - self.margin,
        )

    def fit(self, strip: int, r: int, k: int, n_cols: int) -> float:
        """How well a rhythm strip repeats cell (``r``, ``k``) of ``n_cols`` columns."""
        mine = self.levels[strip] - self.baselines[strip]
        return match(mine, self.levels[r] - self.baselines[r], self.window(k, n_cols), self.tol)

    def best_cell(self, strip: int, n_main: int, n_cols: int) -> CellMatch:
        """The cell above that a rhythm strip repeats best."""
        scores = sorted(
            (self.fit(strip, r, k, n_cols), r, k) for r in range(n_main) for k in range(n_cols)
        )
        runner_up = scores[-2][0] if len(scores) > 1 else 0.0
        return CellMatch(scores[-1][0], runner_up, scores[-1][1], scores[-1][2])
