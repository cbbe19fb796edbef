"""The 2025 Kaggle re-run of the Challenge's metric: a linear SNR pooled over a record's leads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.signal import correlate, correlation_lags

from ecgtrace.metrics.signal import Alignment, as_record, as_signal, fit_estimate, pad_nan

# The Kaggle 2025 metric caps the per-record linear ratio (1e6 = 60 dB).
KAGGLE_PERFECT_RATIO = 1e6


def kaggle_align(
    label: ArrayLike, pred: ArrayLike, *, fs: float, max_shift_s: float = 0.2
) -> Alignment:
    """Align a prediction to a label as the 2025 Kaggle metric does.

    ``label`` (n,) and ``pred`` (m,) in mV at ``fs`` Hz. The time shift maximises the
    cross-correlation of the mean-removed signals over lags ``|lag| <= round(max_shift_s * fs)``
    (ties: smallest ``|lag|``); ``aligned`` (n,) is ``pred`` moved by it into the label's length,
    NaN where it has no sample. Then the vertical offset is removed without limit: ``offset_mv``
    is the mean of ``shifted - label`` over samples finite in both (the least-squares offset).
    ``applied`` is True when anything was estimated. Non-finite samples (absent in the Kaggle
    data) are treated as 0 after mean removal, so they do not steer the correlation.
    """
    lab = as_signal(label, "label")
    prd = as_signal(pred, "pred")
    lab_ok, prd_ok = np.isfinite(lab), np.isfinite(prd)
    if not lab_ok.any() or not prd_ok.any():
        aligned = pad_nan(prd, lab.size)[: lab.size]
        return Alignment(shift_samples=0, offset_mv=0.0, applied=False, aligned=aligned)

    lab_c = np.where(lab_ok, lab - lab[lab_ok].mean(), 0.0)
    prd_c = np.where(prd_ok, prd - prd[prd_ok].mean(), 0.0)
    corr = correlate(lab_c, prd_c, mode="full")
    lags = correlation_lags(lab.size, prd.size, mode="full")
    max_lag = round(max_shift_s * fs)
    valid = np.abs(lags) <= max_lag
    best = corr[valid].max()
    candidates = lags[valid & (corr == best)]
    # Ascending lags: argmin takes the negative lag of a +-k tie, as the Kaggle code does.
    lag = int(candidates[np.argmin(np.abs(candidates))])

    # corr[lag] pairs label[t + lag] with pred[t]: the prediction moves right by lag.
    shifted = np.full(lab.size, np.nan)
    start, stop = max(0, lag), min(lab.size, prd.size + lag)
    if stop > start:
        shifted[start:stop] = prd[start - lag : stop - lag]

    both = lab_ok & np.isfinite(shifted)
    offset = float(np.mean(shifted[both] - lab[both])) if both.any() else 0.0
    return Alignment(shift_samples=-lag, offset_mv=offset, applied=True, aligned=shifted - offset)


def kaggle_record_ratio(reference: ArrayLike, estimate: ArrayLike | None, *, fs: float) -> float:
    """Kaggle 2025 linear signal-to-noise ratio of one record, pooled over its leads.

    ``reference`` (n, leads) and ``estimate`` (m, leads) in mV at ``fs`` Hz (estimate
    NaN-padded or truncated to n; None is scored as zeros). Each lead is cropped to the span
    where its reference is plotted (first to last finite sample; the Kaggle labels held only
    that span), aligned with :func:`kaggle_align`, and contributes ``sum(label^2)`` and
    ``sum((label - aligned)^2)`` over finite label samples, a missing aligned sample counting as
    0 mV. Returns ``sum_signal / sum_noise`` capped at 1e6 (1e6 when the noise is 0, then 0 when
    the signal is 0).
    """
    ref = as_record(reference, "reference")
    est = fit_estimate(ref, estimate)
    sum_signal = 0.0
    sum_noise = 0.0
    for j in range(ref.shape[1]):
        plotted = np.flatnonzero(np.isfinite(ref[:, j]))
        if plotted.size == 0:
            continue
        span = slice(int(plotted[0]), int(plotted[-1]) + 1)
        label = ref[span, j]
        aligned = kaggle_align(label, est[span, j], fs=fs).aligned
        ok = np.isfinite(label)
        residual = label[ok] - np.where(np.isfinite(aligned[ok]), aligned[ok], 0.0)
        sum_signal += float(np.sum(label[ok] ** 2))
        sum_noise += float(np.sum(residual**2))
    if sum_noise == 0.0:
        return KAGGLE_PERFECT_RATIO
    if sum_signal == 0.0:
        return 0.0
    return min(sum_signal / sum_noise, KAGGLE_PERFECT_RATIO)


def kaggle_score(pairs: Sequence[tuple[ArrayLike, ArrayLike | None]], *, fs: float) -> float:
    """Kaggle 2025 score (dB): ``10 log10`` of the mean of :func:`kaggle_record_ratio`.

    NaN for no records; -inf when every record's ratio is 0.
    """
    if len(pairs) == 0:
        return float("nan")
    mean_ratio = float(np.mean([kaggle_record_ratio(ref, est, fs=fs) for ref, est in pairs]))
    if mean_ratio == 0.0:
        return float("-inf")
    return 10.0 * float(np.log10(mean_ratio))
