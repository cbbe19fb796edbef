"""The candidate runs of trace pixels in each column of a lead's probability map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Runs:
    """Candidate runs of one column: (k,) top and bottom rows (inclusive), centroid (row, px)
    and mass (summed probability)."""

    top: FloatArray
    bottom: FloatArray
    centroid: FloatArray
    mass: FloatArray


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


def stroke_width(runs: list[Runs]) -> float:
    """Pen width (px): the typical height of single-run columns, where the trace is flat-ish."""
    heights = [float(r.bottom[0] - r.top[0] + 1) for r in runs if r.top.size == 1]
    return float(np.median(heights)) if heights else 2.0
