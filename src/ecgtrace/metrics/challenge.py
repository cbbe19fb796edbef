"""The PhysioNet/CinC Challenge 2024 SNR (see docs "Scoring"), as its official code computes it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.ndimage import gaussian_filter
from scipy.signal import fftconvolve

from ecgtrace.metrics.signal import (
    Alignment,
    FloatArray,
    as_record,
    as_signal,
    fit_estimate,
    pad_nan,
)


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
    ref = as_signal(x_ref, "x_ref")
    est = as_signal(x_est, "x_est")
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
    ref = as_signal(x_ref, "x_ref")
    est = as_signal(x_est, "x_est")
    n = max(ref.size, est.size)
    ref, est = pad_nan(ref, n), pad_nan(est, n)
    ref_ok = np.isfinite(ref)
    n_ref = int(np.count_nonzero(ref_ok))
    if n_ref == 0:
        return float("nan")
    if align:
        est = challenge_align(ref, est, fs=fs).aligned
        # A negative shift lengthens the estimate; the extra tail faces no reference.
        est = pad_nan(est, n)[:n]
    both = ref_ok & np.isfinite(est)
    n_both = int(np.count_nonzero(both))
    if n_both == 0:
        return 0.0
    p_signal = float(np.mean(ref[both] ** 2))
    p_noise = float(np.mean((ref[both] - est[both]) ** 2))
    if p_signal == 0.0 or p_noise == 0.0:
        return float("nan")
    return 10.0 * float(np.log10(p_signal / p_noise)) * (n_both / n_ref)


def lead_snrs(
    reference: ArrayLike, estimate: ArrayLike | None, *, fs: float, align: bool = True
) -> FloatArray:
    """Challenge 2024 SNR (dB) of each lead of one record, shape (leads,).

    ``reference`` (n, leads) mV at ``fs`` Hz, NaN where not plotted; ``estimate`` (m, leads) mV,
    NaN-padded or truncated to n samples. A missing estimate (None) is scored as zeros without
    alignment, which gives exactly 0 dB on every lead whose reference has power (NaN on leads
    not plotted); aligning a flat line would only add noise to that convention.
    """
    ref = as_record(reference, "reference")
    if estimate is None:
        est, align = np.zeros_like(ref), False
    else:
        est = fit_estimate(ref, estimate)
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
