"""Scores for masks and signals: counting is kept apart from scoring.

Masks are scored from :class:`Counts` (true/false positives and negatives), which add up over a
data set, so a set-level IoU is ``iou(sum(per_image_counts, Counts()))`` and a per-image mean is
the mean of ``iou(c)``; the choice stays with the caller.

Signals are in mV at a sampling frequency ``fs`` (Hz). ``challenge_*`` reproduce the
PhysioNet/CinC Challenge 2024 SNR (see docs "Scoring"); ``kaggle_*`` the 2025 Kaggle re-run.
All functions are pure: inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import gaussian_filter
from scipy.signal import correlate, correlation_lags, fftconvolve

FloatArray = NDArray[np.float64]

# The Kaggle 2025 metric caps the per-record linear ratio (1e6 = 60 dB).
KAGGLE_PERFECT_RATIO = 1e6

# ---------------------------------------------------------------------------------------------
# Masks


@dataclass(frozen=True)
class Counts:
    """Pixel counts of a predicted mask against a true mask; ``Counts()`` is the zero."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: Counts) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(
            tp=self.tp + other.tp,
            fp=self.fp + other.fp,
            fn=self.fn + other.fn,
            tn=self.tn + other.tn,
        )

    def __radd__(self, other: int) -> Counts:
        # Lets the builtin sum() start from its default 0.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented


def confusion(pred: ArrayLike, true: ArrayLike) -> Counts:
    """Count agreement of two masks of the same shape (any shape; non-zero means foreground).

    Raises ``ValueError`` when the shapes differ.
    """
    p = np.asarray(pred).astype(bool)
    t = np.asarray(true).astype(bool)
    if p.shape != t.shape:
        raise ValueError(f"mask shapes differ: pred {p.shape} vs true {t.shape}")
    return Counts(
        tp=int(np.count_nonzero(p & t)),
        fp=int(np.count_nonzero(p & ~t)),
        fn=int(np.count_nonzero(~p & t)),
        tn=int(np.count_nonzero(~p & ~t)),
    )


def iou(counts: Counts) -> float:
    """Intersection over union ``tp / (tp + fp + fn)``; NaN when both masks are empty."""
    den = counts.tp + counts.fp + counts.fn
    return counts.tp / den if den > 0 else float("nan")


def dice(counts: Counts) -> float:
    """Dice (F1) ``2 tp / (2 tp + fp + fn)``; NaN when both masks are empty."""
    den = 2 * counts.tp + counts.fp + counts.fn
    return 2 * counts.tp / den if den > 0 else float("nan")


# ---------------------------------------------------------------------------------------------
# Plain signal errors


def _paired_finite(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
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


# ---------------------------------------------------------------------------------------------
# PhysioNet/CinC Challenge 2024


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


def _as_signal(x: ArrayLike, name: str) -> FloatArray:
    # np.array copies, so later in-place work can never reach the caller's array.
    a = np.array(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return a


def _pad_nan(x: FloatArray, n: int) -> FloatArray:
    if x.size >= n:
        return x
    return np.concatenate((x, np.full(n - x.size, np.nan)))


def _quantised_image(
    x: FloatArray, levels: int, min_amp: float, max_amp: float, width: int
) -> FloatArray:
    """(levels, width) binary image of the trace: row = amplitude level, column = sample."""
    t = np.flatnonzero(np.isfinite(x))
    y = np.round((levels - 1) * (x[t] - min_amp) / (max_amp - min_amp) + 1).astype(np.intp)
    y = np.clip(y, 1, levels)
    image = np.zeros((levels, width))
    image[y - 1, t] = 1.0
    return image


def _shift_estimate(x_est: FloatArray, shift: int, offset: float) -> FloatArray:
    # As the official code: a negative shift prepends NaNs (the result grows by -shift samples).
    if shift < 0:
        moved = np.concatenate((np.full(-shift, np.nan), x_est))
    else:
        moved = np.concatenate((x_est[shift:], np.full(shift, np.nan)))
    return moved - offset


def challenge_align(
    x_ref: ArrayLike,
    x_est: ArrayLike,
    *,
    fs: float,
    num_quant_levels: int = 256,
    max_shift_s: float = 0.5,
    max_offset_mv: float = 1.0,
) -> Alignment:
    """Align an estimate to a reference as the Challenge 2024 scoring code does.

    ``x_ref`` (n,) and ``x_est`` (m,) are in mV at ``fs`` Hz, NaN where absent. Both traces are
    drawn into (num_quant_levels, max(n, m)) binary images over their joint amplitude range,
    smoothed (Gaussian, sigma 0.5 px) and 2-D cross-correlated; the peak, taken relative to the
    reference's autocorrelation peak, gives one time shift (samples) and one offset (mV). They
    are applied only if ``|shift| <= round(max_shift_s * fs)`` and ``|offset| <= max_offset_mv``.

    When applied with a negative shift, ``aligned`` has ``m - shift`` samples (as the official
    code), otherwise ``m``. With no finite sample in either signal, or a constant joint range,
    nothing is estimated: shift 0, offset 0, ``applied`` False. The amplitude range is taken over
    finite samples only (the official code would fail on +-inf).
    """
    ref = _as_signal(x_ref, "x_ref")
    est = _as_signal(x_est, "x_est")
    unmoved = Alignment(shift_samples=0, offset_mv=0.0, applied=False, aligned=est.copy())
    ref_ok = ref[np.isfinite(ref)]
    est_ok = est[np.isfinite(est)]
    if ref_ok.size == 0 or est_ok.size == 0:
        return unmoved
    min_amp = float(min(ref_ok.min(), est_ok.min()))
    max_amp = float(max(ref_ok.max(), est_ok.max()))
    if max_amp == min_amp:
        return unmoved

    width = max(ref.size, est.size)
    a_ref = gaussian_filter(_quantised_image(ref, num_quant_levels, min_amp, max_amp, width), 0.5)
    a_est = gaussian_filter(_quantised_image(est, num_quant_levels, min_amp, max_amp, width), 0.5)
    cross = fftconvolve(a_ref, a_est[::-1, ::-1], mode="full")
    row_c, col_c = np.unravel_index(np.argmax(cross), cross.shape)
    # The official code takes the peak of the reference's autocorrelation as the zero lag. For a
    # non-zero image of finite support that peak is strictly at (levels - 1, width - 1)
    # (Cauchy-Schwarz), so it is used directly: same result at half the cost.
    row_a, col_a = num_quant_levels - 1, width - 1

    shift = col_a - int(col_c)
    offset = (row_a - int(row_c)) / (num_quant_levels - 1) * (max_amp - min_amp)
    # The official limit is np.round(0.5 * fs) samples.
    applied = abs(shift) <= round(max_shift_s * fs) and abs(offset) <= max_offset_mv
    aligned = _shift_estimate(est, shift, offset) if applied else est.copy()
    return Alignment(shift_samples=shift, offset_mv=float(offset), applied=applied, aligned=aligned)


def challenge_snr(x_ref: ArrayLike, x_est: ArrayLike, *, fs: float, align: bool = True) -> float:
    """Challenge 2024 SNR (dB) of one lead: ``alpha * 10 log10(P_signal / P_noise)``.

    ``x_ref`` (n,) and ``x_est`` (m,) are in mV at ``fs`` Hz, NaN where not plotted / not
    extracted; the shorter is NaN-padded. After :func:`challenge_align` (if ``align``), the
    powers are means over samples finite in both, and ``alpha`` is the coverage: those samples
    over the samples finite in the reference.

    Special cases:
    - reference with no finite sample: NaN (the lead was not plotted; it does not count);
    - no finite estimate sample where the reference is finite: 0.0 (coverage 0; a digitizer
      must not dodge the score by returning NaN);
    - reference power 0 over the compared samples: NaN (the ratio is undefined);
    - noise power 0 (a perfect lead): NaN, dropped by the nanmean (the official code gives inf).
    """
    ref = _as_signal(x_ref, "x_ref")
    est = _as_signal(x_est, "x_est")
    n = max(ref.size, est.size)
    ref, est = _pad_nan(ref, n), _pad_nan(est, n)
    ref_ok = np.isfinite(ref)
    n_ref = int(np.count_nonzero(ref_ok))
    if n_ref == 0:
        return float("nan")
    if align:
        est = challenge_align(ref, est, fs=fs).aligned
        # A negative shift lengthens the estimate; the extra tail faces no reference.
        est = _pad_nan(est, n)[:n]
    both = ref_ok & np.isfinite(est)
    n_both = int(np.count_nonzero(both))
    if n_both == 0:
        return 0.0
    p_signal = float(np.mean(ref[both] ** 2))
    p_noise = float(np.mean((ref[both] - est[both]) ** 2))
    if p_signal == 0.0 or p_noise == 0.0:
        return float("nan")
    return 10.0 * float(np.log10(p_signal / p_noise)) * (n_both / n_ref)


def _as_record(x: ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be (n, leads), got shape {a.shape}")
    return a


def _fit_estimate(reference: FloatArray, estimate: ArrayLike | None) -> FloatArray:
    """The estimate as (n, leads) like the reference: zeros if missing, NaN-padded or cut."""
    if estimate is None:
        return np.zeros_like(reference)
    est = _as_record(estimate, "estimate")
    if est.shape[1] != reference.shape[1]:
        raise ValueError(f"lead counts differ: reference {reference.shape} vs estimate {est.shape}")
    n = reference.shape[0]
    if est.shape[0] >= n:
        return est[:n]
    pad = np.full((n - est.shape[0], est.shape[1]), np.nan)
    return np.concatenate((est, pad), axis=0)


def lead_snrs(
    reference: ArrayLike, estimate: ArrayLike | None, *, fs: float, align: bool = True
) -> FloatArray:
    """Challenge 2024 SNR (dB) of each lead of one record, shape (leads,).

    ``reference`` (n, leads) mV at ``fs`` Hz, NaN where not plotted; ``estimate`` (m, leads) mV,
    NaN-padded or truncated to n samples. A missing estimate (None) is scored as zeros without
    alignment, which gives exactly 0 dB on every lead whose reference has power (NaN on leads
    not plotted); aligning a flat line would only add noise to that convention.
    """
    ref = _as_record(reference, "reference")
    if estimate is None:
        est, align = np.zeros_like(ref), False
    else:
        est = _fit_estimate(ref, estimate)
    return np.array(
        [challenge_snr(ref[:, j], est[:, j], fs=fs, align=align) for j in range(ref.shape[1])]
    )


def challenge_score(
    pairs: Sequence[tuple[ArrayLike, ArrayLike | None]], *, fs: float, align: bool = True
) -> float:
    """Challenge 2024 score (dB): nanmean of the SNR over all (record, lead) pairs.

    ``pairs`` holds ``(reference (n, leads) mV, estimate (m, leads) mV or None)`` at ``fs`` Hz;
    see :func:`lead_snrs`. NaN when no pair has a defined SNR.
    """
    if len(pairs) == 0:
        return float("nan")
    snrs = np.concatenate([lead_snrs(ref, est, fs=fs, align=align) for ref, est in pairs])
    finite = snrs[~np.isnan(snrs)]
    return float(np.mean(finite)) if finite.size else float("nan")


# ---------------------------------------------------------------------------------------------
# Kaggle 2025 re-run


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
    lab = _as_signal(label, "label")
    prd = _as_signal(pred, "pred")
    lab_ok, prd_ok = np.isfinite(lab), np.isfinite(prd)
    if not lab_ok.any() or not prd_ok.any():
        aligned = _pad_nan(prd, lab.size)[: lab.size]
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
    ref = _as_record(reference, "reference")
    est = _fit_estimate(ref, estimate)
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
