"""From a lead's trace probability (or binary mask) to samples in mV at any fs.

Two steps, each a pure function:

1. :func:`trace_rows`: per column, the candidate runs of trace pixels; a Viterbi path across
   columns picks one run per column, keeping continuity through crossings and steep edges; the
   chosen run becomes a sub-pixel row (weighted centroid), or its top or bottom edge where the
   trace turns inside the run (a peak or a trough), so steep complexes are not clipped.
2. :func:`rows_to_signal`: rows to mV through the baseline, px/mm and gain; columns to seconds
   through px/mm and paper speed; resampled to the requested fs, NaN where nothing was traced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace._arrays import true_runs
from ecgtrace.extract.path import TraceRows
from ecgtrace.extract.runs import FloatArray, Runs, column_runs
from ecgtrace.extract.trace import trace_rows

__all__ = [
    "LeadGeometry",
    "Runs",
    "Signal",
    "TraceRows",
    "baseline_from_rows",
    "column_runs",
    "extract_lead",
    "interpolate_gaps",
    "rows_to_signal",
    "trace_rows",
]


@dataclass(frozen=True)
class Signal:
    """Samples of one lead: ``times_s`` (n,) s and ``mv`` (n,) mV at ``fs`` Hz, NaN = not traced."""

    times_s: FloatArray
    mv: FloatArray
    fs: float
    baseline_row: float


def interpolate_gaps(values: FloatArray, *, max_gap: int) -> FloatArray:
    """A copy of ``values`` (n,) with NaN runs of at most ``max_gap`` samples filled linearly.

    Runs at either end, or longer ones, stay NaN: they are true gaps.
    """
    out = np.array(values, dtype=np.float64, copy=True)
    ok = np.isfinite(out)
    if ok.sum() < 2 or max_gap <= 0:
        return out
    idx = np.arange(out.size)
    filled = np.interp(idx, idx[ok], out[ok])
    for a, b in zip(*true_runs(~ok), strict=True):
        if b - a <= max_gap and a > 0 and b < out.size:
            out[a:b] = filled[a:b]
    return out


def baseline_from_rows(rows: FloatArray, *, bin_px: float = 0.5) -> float:
    """The 0 mV row estimated from the trace itself: its most frequent row (the isoelectric line).

    A smoothed histogram's mode is robust to the QRS complexes, which are brief.
    """
    r = rows[np.isfinite(rows)]
    if r.size == 0:
        return float("nan")
    lo, hi = float(r.min()), float(r.max())
    n_bins = max(1, int(np.ceil((hi - lo) / bin_px)) + 1)
    hist, edges = np.histogram(r, bins=n_bins, range=(lo - bin_px / 2, lo + n_bins * bin_px))
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    smooth = np.convolve(hist, kernel / kernel.sum(), mode="same")
    k = int(np.argmax(smooth))
    near = np.abs(r - (edges[k] + bin_px / 2)) < 3 * bin_px
    return float(np.median(r[near]))


@dataclass(frozen=True)
class LeadGeometry:
    """Where a lead lies in its probability map and how the paper maps it to mV and s.

    Column ``col0`` (px) is time ``t0_s`` (s); the lead spans ``duration_s``. ``baseline_row``
    (px) is 0 mV, or None to estimate it from the trace (the calibration pulse's foot, when the
    page has one, is better).
    """

    px_per_mm_row: float
    px_per_mm_col: float
    t0_s: float
    col0: float
    duration_s: float
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    baseline_row: float | None = None


def rows_to_signal(
    trace: TraceRows, geometry: LeadGeometry, *, baseline_row: float, fs: float
) -> Signal:
    """A traced path to a signal in mV at ``fs`` Hz over the geometry's time span.

    A column is ``1 / (speed * px_per_mm_col)`` s and a row ``1 / (gain * px_per_mm_row)`` mV,
    positive upwards. Samples are read off the path's polyline; a sample whose nearest column is
    untraced is NaN.
    """
    g = geometry
    if not (fs > 0 and g.px_per_mm_row > 0 and g.px_per_mm_col > 0 and g.gain_mm_mv > 0):
        raise ValueError("fs, px/mm and gain must be > 0")
    n = round(g.duration_s * fs)
    times = g.t0_s + np.arange(n) / fs
    col = g.col0 + (times - g.t0_s) * g.speed_mm_s * g.px_per_mm_col
    ok = np.isfinite(trace.rows)
    if trace.path_col.size < 2:
        return Signal(times, np.full(n, np.nan), fs, baseline_row)
    r = np.interp(col, trace.path_col, trace.path_row)
    nearest = np.clip(np.round(col).astype(np.int64), 0, ok.size - 1)
    inside = (col >= -0.5) & (col <= ok.size - 0.5)
    r[~(ok[nearest] & inside)] = np.nan
    mv = (baseline_row - r) / (g.gain_mm_mv * g.px_per_mm_row)
    return Signal(times, mv, fs, baseline_row)


def extract_lead(
    prob: NDArray[np.floating] | NDArray[np.bool_],
    geometry: LeadGeometry,
    *,
    fs: float,
    threshold: float = 0.5,
    max_gap_s: float = 0.0,
) -> Signal:
    """One lead's probability map (rows, cols) to its signal in mV at ``fs`` Hz.

    The path is drawn towards the baseline (given, or the map's middle row, where a lead crop
    centres its lead); gaps up to ``max_gap_s`` are interpolated, longer ones stay NaN.
    """
    prior = geometry.baseline_row if geometry.baseline_row is not None else prob.shape[0] / 2
    trace = trace_rows(prob, threshold=threshold, prior_row=prior)
    baseline = (
        geometry.baseline_row
        if geometry.baseline_row is not None
        else baseline_from_rows(trace.rows)
    )
    sig = rows_to_signal(trace, geometry, baseline_row=baseline, fs=fs)
    if max_gap_s > 0:
        sig = Signal(
            sig.times_s, interpolate_gaps(sig.mv, max_gap=round(max_gap_s * fs)), fs, baseline
        )
    return sig
