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

import itertools
import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Runs:
    """Candidate runs of one column: (k,) top and bottom rows (inclusive), centroid, mass."""

    top: FloatArray
    bottom: FloatArray
    centroid: FloatArray
    mass: FloatArray


@dataclass(frozen=True)
class TraceRows:
    """A traced path: ``rows`` (cols,) px, one per column, NaN where there is no trace.

    ``path_col`` and ``path_row`` (m,) are the path as a polyline (px): one point per column, or
    two where the trace runs steeply through a column (entering at one end of the run, leaving
    at the other), so samples inside a column follow the stroke. ``stroke_px`` is the estimated
    pen width; ``coverage`` the share of columns traced.
    """

    rows: FloatArray
    path_col: FloatArray
    path_row: FloatArray
    stroke_px: float
    coverage: float


@dataclass(frozen=True)
class Signal:
    """Samples of one lead: ``times_s`` (n,) s and ``mv`` (n,) mV at ``fs`` Hz, NaN = not traced."""

    times_s: FloatArray
    mv: FloatArray
    fs: float
    baseline_row: float


def column_runs(
    prob: NDArray[np.floating] | NDArray[np.bool_], *, threshold: float = 0.5, max_runs: int = 8
) -> list[Runs]:
    """The runs of pixels >= ``threshold`` in each column of ``prob`` (rows, cols).

    At most ``max_runs`` per column are kept, the heaviest (summed probability) first.
    """
    p = np.asarray(prob, dtype=np.float64)
    on = p >= threshold
    n_rows, n_cols = on.shape
    padded = np.zeros((n_rows + 2, n_cols), dtype=np.int8)
    padded[1:-1] = on
    edges = np.diff(padded, axis=0).T  # (cols, rows + 1): +1 where a run starts, -1 after it
    start_col, start_row = np.nonzero(edges == 1)
    _, end_row = np.nonzero(edges == -1)  # exclusive ends, in the same (col, row) order
    weight = p * on
    zero = np.zeros((1, n_cols))
    cum0 = np.vstack([zero, np.cumsum(weight, axis=0)])
    cum1 = np.vstack([zero, np.cumsum(weight * np.arange(n_rows)[:, None], axis=0)])
    mass = cum0[end_row, start_col] - cum0[start_row, start_col]
    centroid = (cum1[end_row, start_col] - cum1[start_row, start_col]) / np.maximum(mass, 1e-12)
    top = start_row.astype(np.float64)
    bottom = end_row.astype(np.float64) - 1.0
    bounds = np.searchsorted(start_col, np.arange(n_cols + 1))
    out = []
    for c in range(n_cols):
        idx = np.arange(bounds[c], bounds[c + 1])
        if idx.size > max_runs:
            idx = np.sort(idx[np.argsort(-mass[idx])[:max_runs]])
        out.append(Runs(top[idx], bottom[idx], centroid[idx], mass[idx]))
    return out


def _stroke_width(runs: list[Runs]) -> float:
    """Pen width (px): the typical height of single-run columns, where the trace is flat-ish."""
    heights = [float(r.bottom[0] - r.top[0] + 1) for r in runs if r.top.size == 1]
    return float(np.median(heights)) if heights else 2.0


def trace_rows(
    prob: NDArray[np.floating] | NDArray[np.bool_],
    *,
    threshold: float = 0.5,
    prior_row: float | None = None,
    prior_weight: float = 2.0,
    max_jump_px: float | None = None,
    gap_cost: float = 4.0,
) -> TraceRows:
    """Follow one trace across the columns of a probability map (rows, cols).

    Parameters
    ----------
    prob : (rows, cols) float in [0, 1] or bool
        Trace probability; pixels >= ``threshold`` are candidates.
    prior_row : float, optional
        Where the lead's baseline is expected (px); runs far from it cost a little more, so a
        neighbour's intruding trace loses ties against the lead's own.
    prior_weight : float
        Strength of that prior, per column, at a distance of half the map's height.
    max_jump_px : float, optional
        Vertical gap between runs of adjacent columns beyond which the path must not jump
        (default: a quarter of the map's height).
    gap_cost : float
        Cost of each column left untraced, in the units of a stroke-width jump.

    Returns
    -------
    TraceRows
        One row per column (sub-pixel), NaN where the path has no run.
    """
    runs = column_runs(prob, threshold=threshold)
    n_rows, n_cols = np.shape(prob)
    stroke = _stroke_width(runs)
    scale = max(stroke, 1.0)
    jump_limit = max_jump_px if max_jump_px is not None else n_rows / 4
    half = max(n_rows / 2, 1.0)

    # Viterbi over the columns that have runs; an empty column costs gap_cost.
    cols = [c for c in range(n_cols) if runs[c].top.size]
    if not cols:
        empty = np.zeros(0)
        return TraceRows(np.full(n_cols, np.nan), empty, empty, stroke, 0.0)

    # Emission cost of every run at once (one vectorised pass, sliced per column below).
    sizes = np.array([r.top.size for r in runs])
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    centroid = np.concatenate([r.centroid for r in runs])
    height = np.concatenate([r.bottom - r.top + 1 for r in runs])
    mass = np.concatenate([r.mass for r in runs])
    emit_all = np.zeros(centroid.size)
    if prior_row is not None:
        emit_all += prior_weight * ((centroid - prior_row) / half) ** 2
    # Thick smears (text, blobs) are less trace-like than runs a stroke wide or steep edges.
    emit_all -= 0.1 * np.log(np.maximum(mass, 1e-6) / height)

    def emit(c: int) -> FloatArray:
        return emit_all[offsets[c] : offsets[c + 1]]

    cost = emit(cols[0])
    back: list[NDArray[np.intp]] = []
    restart: list[NDArray[np.bool_]] = []
    for prev_c, c in itertools.pairwise(cols):
        a, b = runs[prev_c], runs[c]
        skipped = c - prev_c - 1
        # vertical distance between the runs' extents: 0 where they touch or overlap
        gap = np.maximum(
            0.0, np.maximum(b.top[None, :] - a.bottom[:, None], a.top[:, None] - b.bottom[None, :])
        )
        allowed = jump_limit * (1 + skipped)
        trans = (gap / (scale * (1 + skipped))) ** 2
        trans += 0.02 * np.abs(b.centroid[None, :] - a.centroid[:, None]) / scale
        trans = np.where(gap > allowed, np.inf, trans)
        total = cost[:, None] + trans + gap_cost * skipped
        best_prev = np.argmin(total, axis=0)
        best = total[best_prev, np.arange(b.top.size)]
        # If no run connects, start afresh (a true gap) at a price.
        fresh = cost.min() + gap_cost * (skipped + 3)
        is_fresh = ~(best <= fresh)
        cost = np.where(is_fresh, fresh, best) + emit(c)
        back.append(best_prev)
        restart.append(is_fresh)

    # Walk back.
    chosen = np.full(n_cols, -1, dtype=np.intp)
    j = int(np.argmin(cost))
    chosen[cols[-1]] = j
    for k in range(len(cols) - 2, -1, -1):
        if restart[k][j]:
            j = int(np.argmin(_forward_costs_at(k, runs, cols, prior_row, prior_weight, half)))
        else:
            j = int(back[k][j])
        chosen[cols[k]] = j
    return _path_from_runs(runs, chosen, stroke, np.asarray(prob, dtype=np.float64))


def _forward_costs_at(
    k: int, runs: list[Runs], cols: list[int], prior_row: float | None, w: float, half: float
) -> FloatArray:
    """After a restart, the path before it ends on its most plausible run (by the prior)."""
    r = runs[cols[k]]
    if prior_row is None:
        return -r.mass
    return w * ((r.centroid - prior_row) / half) ** 2 - 1e-3 * r.mass


def _path_from_runs(
    runs: list[Runs], chosen: NDArray[np.intp], stroke: float, prob: FloatArray
) -> TraceRows:
    """The path through the chosen runs, as a polyline.

    A column whose run is about a stroke tall gives its centroid. A taller run is the trace
    crossing the column steeply; there a column says little about time, so the path follows
    the stroke row by row instead: each row's horizontal run of the chosen pixels gives a
    sub-pixel column (x as a function of y). Where both neighbours lie below a tall run the
    trace turns at its top (a peak), both above at its bottom (a trough): the turning point is
    added half a stroke inside the run's end, so peaks are not clipped.
    """
    n_rows, n = prob.shape
    centre = np.full(n, np.nan)
    top = np.full(n, np.nan)
    bottom = np.full(n, np.nan)
    on = np.zeros((n_rows, n), dtype=bool)
    for c in np.flatnonzero(chosen >= 0):
        r = runs[c]
        j = chosen[c]
        centre[c], top[c], bottom[c] = r.centroid[j], r.top[j], r.bottom[j]
        on[int(r.top[j]) : int(r.bottom[j]) + 1, c] = True
    half = (stroke - 1) / 2  # from a run's edge pixel to the stroke's centre line
    tall = (bottom - top + 1) > 1.5 * stroke + 1
    _pass_through_crossings(runs, chosen, centre, top, bottom, tall, stroke)
    # Turning points: a run whose top is the highest within two columns either side (a peak),
    # or whose bottom is the lowest (a trough), next to a steep stretch.
    near_tall = tall | np.roll(tall, 1) | np.roll(tall, -1)
    top_hi = np.where(np.isfinite(top), top, np.inf)
    bottom_lo = np.where(np.isfinite(bottom), bottom, -np.inf)
    win_top = np.min([np.roll(top_hi, k) for k in (-2, -1, 1, 2)], axis=0)
    win_bottom = np.max([np.roll(bottom_lo, k) for k in (-2, -1, 1, 2)], axis=0)
    peak = near_tall & np.isfinite(top) & (top_hi <= win_top)
    trough = near_tall & np.isfinite(bottom) & (bottom_lo >= win_bottom)
    rows = centre.copy()
    rows[peak] = top[peak] + half
    rows[trough] = bottom[trough] - half

    flat = np.flatnonzero(np.isfinite(centre) & ~tall)
    pts_col = [flat.astype(np.float64)]
    pts_row = [centre[flat]]
    steep_cols = np.flatnonzero(tall)
    if steep_cols.size:
        is_steep = np.zeros(n, dtype=bool)
        is_steep[steep_cols] = True
        r0 = int(np.nanmin(top[steep_cols]))
        r1 = int(np.nanmax(bottom[steep_cols]))
        band = on[r0 : r1 + 1]
        padded = np.zeros((band.shape[0], n + 2), dtype=np.int8)
        padded[:, 1:-1] = band
        edges = np.diff(padded, axis=1)
        run_row, run_start = np.nonzero(edges == 1)
        _, run_end = np.nonzero(edges == -1)  # exclusive
        weight = prob[r0 : r1 + 1] * band
        cum0 = np.hstack([np.zeros((band.shape[0], 1)), np.cumsum(weight, axis=1)])
        cum1 = np.hstack(
            [np.zeros((band.shape[0], 1)), np.cumsum(weight * np.arange(n)[None, :], axis=1)]
        )
        steep_before = np.concatenate([[0], np.cumsum(is_steep)])
        touches = steep_before[run_end] - steep_before[run_start] > 0
        # A row's run that holds a turning column crosses both strokes of a spike (up, then
        # down): its two ends, half a stroke in, are the two strokes. Above a peak's centre line
        # (or below a trough's) it is the pen's cap and says nothing.
        turn_cols = np.flatnonzero(peak | trough)
        turn_before = np.concatenate([[0], np.cumsum(peak | trough)])
        has_turn = turn_before[run_end] - turn_before[run_start] > 0
        turn_of = (
            turn_cols[np.minimum(turn_before[run_start], max(turn_cols.size - 1, 0))]
            if (turn_cols.size)
            else np.zeros_like(run_start)
        )
        abs_row = (run_row + r0).astype(np.float64)
        cap = has_turn & (
            (peak[turn_of] & (abs_row < top[turn_of] + half))
            | (trough[turn_of] & (abs_row > bottom[turn_of] - half))
        )
        length = run_end - run_start
        split = has_turn & ~cap & (length >= stroke)
        short = length <= 2 * stroke + 2  # long runs elsewhere are turns onto flat parts
        single = touches & ~has_turn & short | (has_turn & ~cap & ~split)
        m0 = cum0[run_row, run_end] - cum0[run_row, run_start]
        m1 = cum1[run_row, run_end] - cum1[run_row, run_start]
        pts_col.append((m1 / np.maximum(m0, 1e-12))[single])
        pts_row.append(abs_row[single])
        pts_col.append(np.concatenate([run_start[split] + half, run_end[split] - 1 - half]))
        pts_row.append(np.concatenate([abs_row[split], abs_row[split]]))
    for c in np.flatnonzero(peak | trough):
        pts_col.append(np.array([float(c)]))
        pts_row.append(np.array([rows[c]]))
    cols_out, rows_out = _order_points(np.concatenate(pts_col), np.concatenate(pts_row))
    return TraceRows(rows, cols_out, rows_out, stroke, float(np.mean(np.isfinite(rows))))


def _pass_through_crossings(
    runs: list[Runs],
    chosen: NDArray[np.intp],
    centre: FloatArray,
    top: FloatArray,
    bottom: FloatArray,
    tall: NDArray[np.bool_],
    stroke: float,
) -> None:
    """In place: where another trace crosses this one, keep this one's level.

    A crossing is a stretch of tall runs with the trace flat at the same level just before and
    just after it, and either the stretch about a stroke wide with that level well inside its
    runs (a steep stroke passing through), or another trace's runs touching it on both sides
    and the level within all its runs (another lead's complex entering and leaving through
    this one). An own complex starts and
    ends at the flat level, at one end of its runs, and no other ink leads into it.
    """
    n = tall.size
    margin = stroke / 2
    edges = np.flatnonzero(np.diff(np.concatenate(([0], tall.astype(np.int8), [0]))))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if a == 0 or b >= n:
            continue
        left, right = centre[a - 1], centre[b]
        if not (np.isfinite(left) and np.isfinite(right) and abs(left - right) <= 2 * stroke):
            continue
        level = np.linspace(left, right, b - a + 2)[1:-1]
        inside = (level - top[a:b] >= margin) & (bottom[a:b] - level >= margin)
        short = b - a <= max(3, round(1.5 * stroke))
        entered = _other_run_touches(runs[a - 1], chosen[a - 1], top[a], bottom[a])
        left_by = _other_run_touches(runs[b], chosen[b], top[b - 1], bottom[b - 1])
        within = (level >= top[a:b] - margin) & (level <= bottom[a:b] + margin)
        if (short and inside.all()) or (entered and left_by and within.all()):
            centre[a:b] = level
            top[a:b] = level - (stroke - 1) / 2
            bottom[a:b] = level + (stroke - 1) / 2
            tall[a:b] = False


def _other_run_touches(column: Runs, own: int, top: float, bottom: float) -> bool:
    """Whether a run of ``column`` other than the path's own reaches rows top..bottom (+-1)."""
    others = np.arange(column.top.size) != own
    return bool(np.any(others & (column.top <= bottom + 1) & (column.bottom >= top - 1)))


def _order_points(cols: FloatArray, rows: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Sort path points by column; points sharing a column are a vertical stretch, ordered in
    the direction the trace travels there (from the previous column's level to the next's)."""
    if cols.size == 0:
        return cols, rows
    group = np.unique(np.round(cols, 3), return_inverse=True)[1]
    n_groups = int(group.max()) + 1
    mean_row = np.bincount(group, weights=rows, minlength=n_groups) / np.bincount(
        group, minlength=n_groups
    )
    before = np.concatenate([[mean_row[0]], mean_row[:-1]])
    after = np.concatenate([mean_row[1:], [mean_row[-1]]])
    direction = np.where(after >= before, 1.0, -1.0)  # +1: going down the image
    order = np.lexsort((rows * direction[group], group))
    # strictly increasing columns, as interpolation needs
    return cols[order] + np.arange(order.size) * 1e-6, rows[order]


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
    edges = np.flatnonzero(np.diff(np.concatenate(([0], (~ok).astype(np.int8), [0]))))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
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


def check_gain(
    pulse_height_px: float,
    *,
    px_per_mm_row: float,
    gain_mm_mv: float,
    pulse_mv: float = 1.0,
    tolerance: float = 0.1,
) -> tuple[float, bool]:
    """Cross-check the gain against a calibration pulse of ``pulse_height_px`` (rows).

    Returns the gain the pulse shows (mm/mV) and whether it agrees with ``gain_mm_mv`` within
    ``tolerance`` (relative); a disagreement is logged, never silently rescaled.
    """
    measured = pulse_height_px / px_per_mm_row / pulse_mv
    agrees = abs(measured / gain_mm_mv - 1.0) <= tolerance
    if not agrees:
        log.warning("calibration pulse shows %.2f mm/mV, assumed %.2f", measured, gain_mm_mv)
    return measured, agrees
