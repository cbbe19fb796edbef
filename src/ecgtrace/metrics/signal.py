"""Plain errors of one signal against another, and the shapes every signal score accepts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def _paired_finite(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The samples of two (n,) signals where both are finite."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"expected two 1-D signals of equal length, got {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def mse(x_ref: ArrayLike, x_est: ArrayLike) -> float:
    """Mean squared error (mV^2) of two (n,) signals in mV over samples finite in both.

    NaN when fewer than 2 samples are finite in both.
    """
    a, b = _paired_finite(x_ref, x_est)
    if a.size < 2:
        return float("nan")
    return float(np.mean((a - b) ** 2))


def rmse(x_ref: ArrayLike, x_est: ArrayLike) -> float:
    """Root mean squared error (mV) of two (n,) signals in mV; see :func:`mse`."""
    return float(np.sqrt(mse(x_ref, x_est)))


def pearson_r(x_ref: ArrayLike, x_est: ArrayLike) -> float:
    """Pearson correlation of two (n,) signals over samples finite in both.

    NaN when fewer than 2 samples are finite in both or either has zero variance there.
    """
    a, b = _paired_finite(x_ref, x_est)
    if a.size < 2:
        return float("nan")
    da = a - a.mean()
    db = b - b.mean()
    den = float(np.sqrt(np.sum(da * da) * np.sum(db * db)))
    if den == 0.0:
        return float("nan")
    # Clip the last-ulp excursions beyond +-1 that rounding can produce.
    return float(np.clip(np.sum(da * db) / den, -1.0, 1.0))


@dataclass(frozen=True, eq=False)
class Alignment:
    """Result of aligning an estimate to a reference.

    ``shift_samples`` and ``offset_mv`` are the estimated moves (also when not applied):
    ``aligned[t] = x_est[t + shift_samples] - offset_mv``. ``applied`` says whether they were
    within the limits and used; otherwise ``aligned`` is the estimate unmoved. ``aligned`` is
    float64 mV, NaN where the shift left no sample.
    """

    shift_samples: int
    offset_mv: float
    applied: bool
    aligned: FloatArray


def as_signal(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a (n,) float64 copy; ``name`` says which argument was not 1-D."""
    # np.array copies, so later in-place work can never reach the caller's array.
    a = np.array(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return a


def pad_nan(x: FloatArray, n: int) -> FloatArray:
    """``x`` (m,) NaN-padded to ``n`` samples (itself when it has that many already)."""
    if x.size >= n:
        return x
    return np.concatenate((x, np.full(n - x.size, np.nan)))


def as_record(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a (n, leads) float64 array; ``name`` says which argument was not 2-D."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be (n, leads), got shape {a.shape}")
    return a


def fit_estimate(reference: FloatArray, estimate: ArrayLike | None) -> FloatArray:
    """The estimate as (n, leads) like the reference: zeros if missing, NaN-padded or cut."""
    if estimate is None:
        return np.zeros_like(reference)
    est = as_record(estimate, "estimate")
    if est.shape[1] != reference.shape[1]:
        raise ValueError(f"lead counts differ: reference {reference.shape} vs estimate {est.shape}")
    n = reference.shape[0]
    if est.shape[0] >= n:
        return est[:n]
    pad = np.full((n - est.shape[0], est.shape[1]), np.nan)
    return np.concatenate((est, pad), axis=0)
