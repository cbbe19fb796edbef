"""Step 4 of grid detection: the two axes' fits checked against each other, and how far each is
trusted (see :mod:`ecgtrace.grid`)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ecgtrace.grid.pitch import MAJOR_MM, AxisFit, fit_axis


def axis_confidence(fit: AxisFit | None) -> float:
    """0..1 from the harmonics' median SNR (10 -> 0, 60 -> 1, log scale) and their number."""
    if fit is None:
        return 0.0
    s = float(np.clip(math.log(max(fit.snr, 1e-3) / 10.0) / math.log(6.0), 0.0, 1.0))
    seen = min(1.0, fit.hits / max(2.0, min(8.0, fit.n_harmonics)))
    return s * seen * (1.0 if fit.major else 0.85)


def _strength(fit: AxisFit | None, n: int) -> float:
    """How much to trust an axis whose profile has ``n`` px: its confidence, more for longer
    profiles (more periods seen)."""
    if fit is None:
        return 0.0
    return axis_confidence(fit) * min(1.0, n / (fit.px_per_mm * MAJOR_MM) / 20.0) + 1e-6 * n


def refit_weaker(
    fit_row: AxisFit | None,
    fit_col: AxisFit | None,
    profile_row: NDArray[np.float64],
    profile_col: NDArray[np.float64],
    *,
    min_px_per_mm: float,
    max_px_per_mm: float,
) -> tuple[AxisFit | None, AxisFit | None]:
    """(row fit, col fit): the stronger axis polished (a fine search within 3 % of its first
    fit), then the weaker one refitted within a factor 1.15 of it.

    The axes are still measured apart (anisotropic scans differ by a few %), only the search
    is narrowed around the other axis.
    """
    s_row, s_col = _strength(fit_row, profile_row.size), _strength(fit_col, profile_col.size)
    if s_row == 0.0 and s_col == 0.0:
        return fit_row, fit_col
    row_stronger = s_row >= s_col
    strong, weak = (fit_row, fit_col) if row_stronger else (fit_col, fit_row)
    p_strong, p_weak = (profile_row, profile_col) if row_stronger else (profile_col, profile_row)
    assert strong is not None
    minor_only = not strong.major and abs(strong.period_px - strong.px_per_mm) < 1e-9
    lo, hi = min_px_per_mm, max_px_per_mm
    polished = fit_axis(
        p_strong, expect=strong.px_per_mm, span=1.03, minor_only=minor_only,
        min_px_per_mm=lo, max_px_per_mm=hi,
    )  # fmt: skip
    if polished is not None:
        strong = _keep_reading(polished, strong)
    refit = fit_axis(
        p_weak, expect=strong.px_per_mm, minor_only=minor_only, min_px_per_mm=lo, max_px_per_mm=hi
    )
    # A weak axis that already agrees keeps its reading unless the refit does too: where the
    # axis shows its 1 mm lines only, the forced 5 mm search can lock onto stray peaks.
    if refit is not None and (weak is None or not _near(weak, strong) or _near(refit, weak)):
        weak = refit if weak is None else _keep_reading(refit, weak)
    return (strong, weak) if row_stronger else (weak, strong)


def _near(a: AxisFit, b: AxisFit) -> bool:
    """Whether two readings agree within 3 %."""
    return abs(math.log(a.px_per_mm / b.px_per_mm)) < 0.03


def _keep_reading(new: AxisFit, old: AxisFit) -> AxisFit:
    """``new`` (a forced 5 mm fit) with ``old``'s evidence of minor lines and its confidence
    when that was higher."""
    best = old if axis_confidence(old) > axis_confidence(new) else new
    return AxisFit(
        period_px=new.period_px,
        px_per_mm=new.px_per_mm,
        major=new.major or old.major,
        ambiguous=False,
        phase_px=new.phase_px,
        snr=best.snr,
        hits=best.hits,
        n_harmonics=best.n_harmonics,
    )


def _settled(fit: AxisFit, px_per_mm: float) -> AxisFit:
    """An ambiguous ``fit`` read as ``px_per_mm``, one of its readings, no longer ambiguous.

    The comb of harmonics is the same whichever reading is taken, so its SNR, hits and
    ``n_harmonics`` (which the confidence weighs the hits against) are kept.
    """
    return replace(fit, px_per_mm=px_per_mm, ambiguous=False, alternatives=())


def reconcile(
    fit_row: AxisFit | None, fit_col: AxisFit | None
) -> tuple[AxisFit | None, AxisFit | None]:
    """(row fit, col fit) made to agree: an ambiguous axis takes the reading closest to a sure
    one's."""
    if fit_row is None or fit_col is None:
        return fit_row, fit_col

    def off(a: float, b: float) -> float:
        return abs(math.log(a / b))

    if fit_row.ambiguous and not fit_col.ambiguous:
        readings = (fit_row.px_per_mm, *fit_row.alternatives)
        choice = min(readings, key=lambda v: off(v, fit_col.px_per_mm))
        return _settled(fit_row, choice), fit_col
    if fit_col.ambiguous and not fit_row.ambiguous:
        readings = (fit_col.px_per_mm, *fit_col.alternatives)
        choice = min(readings, key=lambda v: off(v, fit_row.px_per_mm))
        return fit_row, _settled(fit_col, choice)
    return fit_row, fit_col
