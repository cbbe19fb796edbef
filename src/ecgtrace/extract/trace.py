"""One trace followed across the columns of a probability map: a Viterbi path that picks one
candidate run per column, keeping continuity through crossings and steep edges."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace.extract.path import TraceRows, path_from_runs
from ecgtrace.extract.runs import FloatArray, Runs, column_runs, stroke_width


@dataclass(frozen=True)
class _Prior:
    """Where the lead's baseline is expected (``row``, px; None: nowhere in particular), how
    strongly (``weight`` per column) at a distance of ``half`` px (half the map's height)."""

    row: float | None
    weight: float
    half: float

    def cost(self, centroid: FloatArray) -> FloatArray:
        """The prior's cost of runs centred at ``centroid`` (k,) rows; requires ``row``."""
        assert self.row is not None
        return self.weight * ((centroid - self.row) / self.half) ** 2


@dataclass(frozen=True)
class _Lattice:
    """The Viterbi forward pass over the traced columns ``cols`` (m,): ``cost`` (k,) of each run
    of the last one; per step ``i`` (column ``cols[i + 1]``), ``back[i]`` the best previous run
    of each run and ``restart[i]`` where the path starts afresh."""

    cols: list[int]
    cost: FloatArray
    back: list[NDArray[np.intp]]
    restart: list[NDArray[np.bool_]]


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
    stroke = stroke_width(runs)
    prior = _Prior(row=prior_row, weight=prior_weight, half=max(n_rows / 2, 1.0))
    # Viterbi over the columns that have runs; an empty column costs gap_cost.
    cols = [c for c in range(n_cols) if runs[c].top.size]
    if not cols:
        empty = np.zeros(0)
        return TraceRows(np.full(n_cols, np.nan), empty, empty, stroke, 0.0)
    lattice = _forward(
        runs,
        cols,
        _emission_costs(runs, prior),
        scale=max(stroke, 1.0),
        jump_limit=max_jump_px if max_jump_px is not None else n_rows / 4,
        gap_cost=gap_cost,
    )
    chosen = _walk_back(lattice, runs, prior, n_cols=n_cols)
    return path_from_runs(runs, chosen, stroke, np.asarray(prob, dtype=np.float64))


def _emission_costs(runs: list[Runs], prior: _Prior) -> list[FloatArray]:
    """Per column, the cost (k,) of each of its runs being the trace."""
    # One vectorised pass over every run at once, sliced per column.
    sizes = np.array([r.top.size for r in runs])
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    centroid = np.concatenate([r.centroid for r in runs])
    height = np.concatenate([r.bottom - r.top + 1 for r in runs])
    mass = np.concatenate([r.mass for r in runs])
    emit = np.zeros(centroid.size)
    if prior.row is not None:
        emit += prior.cost(centroid)
    # Thick smears (text, blobs) are less trace-like than runs a stroke wide or steep edges.
    emit -= 0.1 * np.log(np.maximum(mass, 1e-6) / height)
    return [emit[offsets[c] : offsets[c + 1]] for c in range(len(runs))]


def _forward(
    runs: list[Runs],
    cols: list[int],
    emit: list[FloatArray],
    *,
    scale: float,
    jump_limit: float,
    gap_cost: float,
) -> _Lattice:
    """The Viterbi forward pass over ``cols``: jumps cost their gap in strokes (``scale``, px)
    squared, a gap over ``jump_limit`` px per column is barred, a skipped column costs
    ``gap_cost``."""
    cost = emit[cols[0]]
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
        cost = np.where(is_fresh, fresh, best) + emit[c]
        back.append(best_prev)
        restart.append(is_fresh)
    return _Lattice(cols=cols, cost=cost, back=back, restart=restart)


def _walk_back(lattice: _Lattice, runs: list[Runs], prior: _Prior, *, n_cols: int) -> NDArray:
    """(n_cols,) the chosen run of each column, -1 where none."""
    cols = lattice.cols
    chosen = np.full(n_cols, -1, dtype=np.intp)
    j = int(np.argmin(lattice.cost))
    chosen[cols[-1]] = j
    for k in range(len(cols) - 2, -1, -1):
        if lattice.restart[k][j]:
            j = int(np.argmin(_before_restart(runs[cols[k]], prior)))
        else:
            j = int(lattice.back[k][j])
        chosen[cols[k]] = j
    return chosen


def _before_restart(column: Runs, prior: _Prior) -> FloatArray:
    """After a restart, the path before it ends on its most plausible run (by the prior): the
    cost (k,) of each run of that column."""
    if prior.row is None:
        return -column.mass
    return prior.cost(column.centroid) - 1e-3 * column.mass
