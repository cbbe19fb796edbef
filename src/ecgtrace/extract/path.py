"""From the run chosen in each column to the traced path, as one row per column and as a
polyline that follows the stroke through steep columns and turns at peaks and troughs."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ecgtrace._arrays import true_runs
from ecgtrace.extract.runs import FloatArray, Runs


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
class _Chosen:
    """The chosen run of each of the ``n`` columns: ``centre`` (its centroid), ``top`` and
    ``bottom`` rows (n,) px, NaN where none; ``tall`` (n,) where it is the trace crossing the
    column steeply; ``on`` (rows, n) its pixels."""

    centre: FloatArray
    top: FloatArray
    bottom: FloatArray
    tall: NDArray[np.bool_]
    on: NDArray[np.bool_]


def path_from_runs(
    runs: list[Runs], chosen: NDArray[np.intp], stroke: float, prob: FloatArray
) -> TraceRows:
    """The path through the ``chosen`` run (n,) of each column (-1: none), as a polyline.

    A column whose run is about a ``stroke`` (px) tall gives its centroid. A taller run is the
    trace crossing the column steeply; there a column says little about time, so the path
    follows the stroke row by row instead: each row's horizontal run of the chosen pixels gives
    a sub-pixel column (col as a function of row). Where both neighbours lie below a tall run
    the trace turns at its top (a peak), both above at its bottom (a trough): the turning point
    is added half a stroke inside the run's end, so peaks are not clipped. ``prob`` (rows, n)
    weighs the pixels.
    """
    ch = _chosen_runs(runs, chosen, stroke, prob.shape)
    ch = _pass_through_crossings(runs, chosen, ch, stroke)
    half = (stroke - 1) / 2  # from a run's edge pixel to the stroke's centre line
    peak, trough = _turning_points(ch)
    rows = ch.centre.copy()
    rows[peak] = ch.top[peak] + half
    rows[trough] = ch.bottom[trough] - half

    flat = np.flatnonzero(np.isfinite(ch.centre) & ~ch.tall)
    pts_col = [flat.astype(np.float64)]
    pts_row = [ch.centre[flat]]
    if ch.tall.any():
        steep_col, steep_row = _steep_points(ch, peak, trough, stroke, prob)
        pts_col.extend(steep_col)
        pts_row.extend(steep_row)
    for c in np.flatnonzero(peak | trough):
        pts_col.append(np.array([float(c)]))
        pts_row.append(np.array([rows[c]]))
    cols_out, rows_out = _order_points(np.concatenate(pts_col), np.concatenate(pts_row))
    return TraceRows(rows, cols_out, rows_out, stroke, float(np.mean(np.isfinite(rows))))


def _chosen_runs(
    runs: list[Runs], chosen: NDArray[np.intp], stroke: float, shape: tuple[int, ...]
) -> _Chosen:
    """The extents of the chosen runs in a map of ``shape`` (rows, n)."""
    n_rows, n = shape
    centre = np.full(n, np.nan)
    top = np.full(n, np.nan)
    bottom = np.full(n, np.nan)
    on = np.zeros((n_rows, n), dtype=bool)
    for c in np.flatnonzero(chosen >= 0):
        r = runs[c]
        j = chosen[c]
        centre[c], top[c], bottom[c] = r.centroid[j], r.top[j], r.bottom[j]
        on[int(r.top[j]) : int(r.bottom[j]) + 1, c] = True
    tall = (bottom - top + 1) > 1.5 * stroke + 1
    return _Chosen(centre=centre, top=top, bottom=bottom, tall=tall, on=on)


def _turning_points(ch: _Chosen) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(peak, trough) (n,): columns whose run's top is the highest within two columns either
    side (a peak), or whose bottom is the lowest (a trough), next to a steep stretch."""
    near_tall = ch.tall | np.roll(ch.tall, 1) | np.roll(ch.tall, -1)
    top_hi = np.where(np.isfinite(ch.top), ch.top, np.inf)
    bottom_lo = np.where(np.isfinite(ch.bottom), ch.bottom, -np.inf)
    win_top = np.min([np.roll(top_hi, k) for k in (-2, -1, 1, 2)], axis=0)
    win_bottom = np.max([np.roll(bottom_lo, k) for k in (-2, -1, 1, 2)], axis=0)
    peak = near_tall & np.isfinite(ch.top) & (top_hi <= win_top)
    trough = near_tall & np.isfinite(ch.bottom) & (bottom_lo >= win_bottom)
    return peak, trough


def _steep_points(
    ch: _Chosen,
    peak: NDArray[np.bool_],
    trough: NDArray[np.bool_],
    stroke: float,
    prob: FloatArray,
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Polyline points (cols, rows) px through the steep columns, as lists of pieces: per row
    of the chosen pixels, each horizontal run touching a tall column gives its centroid, or
    its two ends, half a stroke in, where it holds a turning column."""
    n = ch.tall.size
    half = (stroke - 1) / 2
    steep_cols = np.flatnonzero(ch.tall)
    r0 = int(np.nanmin(ch.top[steep_cols]))
    r1 = int(np.nanmax(ch.bottom[steep_cols]))
    band = ch.on[r0 : r1 + 1]
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
    steep_before = np.concatenate([[0], np.cumsum(ch.tall)])
    touches = steep_before[run_end] - steep_before[run_start] > 0
    # A row's run that holds a turning column crosses both strokes of a spike (up, then
    # down): its two ends, half a stroke in, are the two strokes. Above a peak's centre line
    # (or below a trough's) it is the pen's cap and says nothing.
    turn_cols = np.flatnonzero(peak | trough)
    turn_before = np.concatenate([[0], np.cumsum(peak | trough)])
    has_turn = turn_before[run_end] - turn_before[run_start] > 0
    turn_of = (
        turn_cols[np.minimum(turn_before[run_start], max(turn_cols.size - 1, 0))]
        if turn_cols.size
        else np.zeros_like(run_start)
    )
    abs_row = (run_row + r0).astype(np.float64)
    cap = has_turn & (
        (peak[turn_of] & (abs_row < ch.top[turn_of] + half))
        | (trough[turn_of] & (abs_row > ch.bottom[turn_of] - half))
    )
    length = run_end - run_start
    split = has_turn & ~cap & (length >= stroke)
    short = length <= 2 * stroke + 2  # long runs elsewhere are turns onto flat parts
    single = touches & ~has_turn & short | (has_turn & ~cap & ~split)
    m0 = cum0[run_row, run_end] - cum0[run_row, run_start]
    m1 = cum1[run_row, run_end] - cum1[run_row, run_start]
    cols = [
        (m1 / np.maximum(m0, 1e-12))[single],
        np.concatenate([run_start[split] + half, run_end[split] - 1 - half]),
    ]
    rows = [abs_row[single], np.concatenate([abs_row[split], abs_row[split]])]
    return cols, rows


def _pass_through_crossings(
    runs: list[Runs], chosen: NDArray[np.intp], ch: _Chosen, stroke: float
) -> _Chosen:
    """``ch`` where another trace crosses this one kept at this one's level (``stroke``: the
    pen's width, px).

    A crossing is a stretch of tall runs with the trace flat at the same level just before and
    just after it, and either the stretch about a stroke wide with that level well inside its
    runs (a steep stroke passing through), or another trace's runs touching it on both sides
    and the level within all its runs (another lead's complex entering and leaving through
    this one). An own complex starts and ends at the flat level, at one end of its runs, and no
    other ink leads into it.
    """
    centre, top, bottom, tall = ch.centre.copy(), ch.top.copy(), ch.bottom.copy(), ch.tall.copy()
    n = tall.size
    margin = stroke / 2
    for a, b in zip(*true_runs(ch.tall), strict=True):
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
    return replace(ch, centre=centre, top=top, bottom=bottom, tall=tall)


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
