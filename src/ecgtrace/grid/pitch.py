"""Step 3 of grid detection: the pitch along one axis from its projection profile, read from the
comb of harmonics in its spectrum (see :mod:`ecgtrace.grid` for the method)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

MINOR_MM = 1.0
MAJOR_MM = 5.0
HIT_SNR = 8.0  # a harmonic's peak over the local noise floor (pure noise reaches ~3-5)
MAX_HARMONICS = 60  # harmonics of the fundamental used to refine it


@dataclass(frozen=True)
class AxisFit:
    """The grid along one axis.

    ``period_px`` is the period (px) of the repeating pattern; ``major`` whether it is the 5 mm
    period with the 1 mm lines seen inside it; ``ambiguous`` when only one kind of line was
    seen (1 mm or 5 mm apart: ``alternatives`` holds the other reading, px/mm, when in range);
    ``px_per_mm`` the reading along this axis; ``phase_px`` a line of the period (px);
    ``snr`` the median harmonic-to-noise ratio, ``hits`` how many harmonics were found of the
    ``n_harmonics`` looked for.
    """

    period_px: float
    px_per_mm: float
    major: bool
    ambiguous: bool
    phase_px: float
    snr: float
    hits: int
    n_harmonics: int
    alternatives: tuple[float, ...] = ()


@dataclass(frozen=True)
class _Spectrum:
    """A profile's spectrum: ``magnitude`` (padded_len // 2 + 1,) of the Hann-windowed profile
    zero-padded to ``padded_len``, and the noise ``floor`` (n // 2 + 1,) per unpadded bin of
    the ``n``-sample profile."""

    magnitude: NDArray[np.float64]
    padded_len: int
    floor: NDArray[np.float64]
    n: int


@dataclass(frozen=True)
class _Reading:
    """A period read as px/mm: ``major`` as in :class:`AxisFit` (set when the 5 mm lines show
    through a 1 mm comb), ``alternatives`` the other reading of an ambiguous one."""

    px_per_mm: float
    major: bool
    alternatives: tuple[float, ...] = ()


def _spectrum(profile: NDArray[np.float64]) -> _Spectrum:
    """The profile's (n,) spectrum, zero-padded 8x; its noise floor is the lower decile of the
    unpadded magnitude in a sliding window."""
    n = profile.size
    t = np.arange(n)
    p = profile - np.polyval(np.polyfit(t, profile, 1), t)
    p = p * np.hanning(n)
    m = 1 << math.ceil(math.log2(8 * n))
    mag = np.abs(np.fft.rfft(p, m))
    coarse = np.abs(np.fft.rfft(p))
    width = max(31, (n // 16) | 1)
    floor = ndimage.percentile_filter(coarse, 10, size=width, mode="nearest")
    floor = np.maximum(floor, 1e-9 * max(coarse.max(), 1e-12))
    return _Spectrum(magnitude=mag, padded_len=m, floor=floor, n=n)


def _parabolic_offsets(
    before: NDArray[np.float64], peak: NDArray[np.float64], after: NDArray[np.float64]
) -> NDArray[np.float64]:
    """:func:`ecgtrace._arrays.parabolic_offset` over arrays (samples from the middle one)."""
    den = before - 2 * peak + after
    return np.where(den < 0, 0.5 * (before - after) / np.where(den < 0, den, -1.0), 0.0)


def _lookup(spec: _Spectrum, f: NDArray) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Peak SNR and refined frequency (cycles/px) near each frequency in ``f`` (cycles/px).

    Searches +-0.6 unpadded bins around each, takes the padded maximum, refines it by a parabola
    on the log magnitude, and divides by the local noise floor. A maximum on the window's edge
    is the flank of a peak further off, not a peak here: its SNR reads 1 (aliased lines of a
    low-DPI grid put such flanks beside every odd harmonic of twice the true period).
    """
    mag, m, n = spec.magnitude, spec.padded_len, spec.n
    pad = m / n
    centre = f * m
    reach = max(1, round(0.6 * pad))
    offs = np.arange(-reach, reach + 1)
    idx = np.clip(np.round(centre)[:, None].astype(np.intp) + offs[None, :], 1, mag.size - 2)
    at = np.argmax(mag[idx], axis=1)
    k = idx[np.arange(idx.shape[0]), at]
    flank = (at == 0) | (at == offs.size - 1)
    y0, y1, y2 = (np.log(mag[k + d] + 1e-300) for d in (-1, 0, 1))
    shift = np.clip(_parabolic_offsets(y0, y1, y2), -0.5, 0.5)
    fk = (k + shift) / m
    nb = np.clip(np.round(fk * n).astype(np.intp), 0, spec.floor.size - 1)
    return np.where(flank, 1.0, mag[k] / spec.floor[nb]), fk


def _phase(profile: NDArray[np.float64], period: float) -> float:
    """Position (px, in [0, period)) of the pulses of ``profile`` that repeat every ``period``."""
    t = np.arange(profile.size)
    p = profile - profile.mean()
    c = np.sum(p * np.exp(-2j * np.pi * t / period))
    return float((-np.angle(c) / (2 * np.pi) * period) % period)


def _minor_lines_seen(snr: NDArray[np.float64], harm: NDArray[np.int_]) -> bool:
    """Whether the harmonics at multiples of 5 stand out from their neighbours: the 1 mm lines
    adding to the 5 mm ones (a major-only comb decays smoothly across them)."""
    ratios = []
    for k in (5, 10, 15):
        if k + 1 > harm.size:
            break
        lo, mid, hi = snr[k - 2], snr[k - 1], snr[k]
        if mid < HIT_SNR:
            continue
        ratios.append(math.log(mid / math.sqrt(max(lo, 1.0) * max(hi, 1.0))))
    return bool(ratios) and float(np.mean(ratios)) > math.log(1.3)


def fit_axis(
    profile: NDArray[np.float64],
    *,
    min_px_per_mm: float = 2.0,
    max_px_per_mm: float = 50.0,
    expect: float | None = None,
    span: float = 1.15,
    minor_only: bool = False,
) -> AxisFit | None:
    """The grid pitch along one axis from its projection profile (n,) (evidence summed across).

    With ``expect`` (px/mm, from the other axis or a first fit) the pitch is searched within a
    factor ``span`` of it, as the 5 mm period: this settles short axes (a lead strip's few mm
    of height) where a free search cannot tell 1 mm from 5 mm; ``minor_only`` scores only the
    1 mm harmonics (when the other axis showed no 5 mm lines). Returns None when no comb of
    harmonics is found. See :mod:`ecgtrace.grid`.
    """
    n = profile.size
    if n < 16 or not np.all(np.isfinite(profile)) or np.ptp(profile) <= 0:
        return None
    spec = _spectrum(profile.astype(np.float64))
    f_hi = min(0.5, 1.0 / (MINOR_MM * min_px_per_mm)) * 0.98
    if expect is None:
        f0 = _free_fundamental(spec, f_hi, max_px_per_mm=max_px_per_mm)
        hit_snr = HIT_SNR
    else:
        f0 = _expected_fundamental(
            spec, f_hi, expect=expect, span=span, minor_only=minor_only,
            min_px_per_mm=min_px_per_mm, max_px_per_mm=max_px_per_mm,
        )  # fmt: skip
        hit_snr = 0.6 * HIT_SNR  # the period is known: fainter harmonics count
    if f0 is None:
        return None
    return _finish(
        profile, spec, f0, f_hi, min_px_per_mm=min_px_per_mm, max_px_per_mm=max_px_per_mm,
        forced=expect is not None, hit_snr=hit_snr,
    )  # fmt: skip


def _expected_fundamental(
    spec: _Spectrum,
    f_hi: float,
    *,
    expect: float,
    span: float,
    minor_only: bool,
    min_px_per_mm: float,
    max_px_per_mm: float,
) -> float | None:
    """The 5 mm period's fundamental (cycles/px) within a factor ``span`` of ``expect``
    (px/mm): the one whose harmonics below ``f_hi`` (only the 1 mm ones if ``minor_only``)
    stand out most. None when no pitch within the limits is that close."""
    n = spec.n
    u = expect * np.exp(np.linspace(-math.log(span), math.log(span), 450))
    u = u[(u >= min_px_per_mm) & (u <= max_px_per_mm)]
    if u.size == 0:
        return None
    harm = np.arange(5, 31, 5) if minor_only else np.arange(1, 16)
    freqs = harm[None, :] / (MAJOR_MM * u[:, None])
    usable = (freqs >= 2.0 / n) & (freqs <= f_hi)
    snr, _ = _lookup(spec, freqs.ravel())
    logs = np.clip(np.log(np.maximum(snr.reshape(freqs.shape), 1e-3)), 0.0, math.log(1e3))
    score = np.where(usable, logs, 0.0).sum(axis=1)
    return 1.0 / (MAJOR_MM * float(u[np.argmax(score)]))


def _free_fundamental(spec: _Spectrum, f_hi: float, *, max_px_per_mm: float) -> float | None:
    """The fundamental (cycles/px) of the comb of harmonics that best explains the spectrum,
    searched below ``f_hi`` (cycles/px); None when no peak stands out."""
    n, m = spec.n, spec.padded_len
    pad = m / n
    f_lo = max(1.0 / (MAJOR_MM * max_px_per_mm), 2.5 / n)  # at least 2.5 cycles in the profile
    lo, hi = math.ceil(f_lo * m), math.floor(f_hi * m)
    if hi <= lo:
        return None
    band = spec.magnitude[lo:hi]
    nb = np.clip(np.round(np.arange(lo, hi) / pad).astype(np.intp), 0, spec.floor.size - 1)
    snr_band = band / spec.floor[nb]
    k_star = int(np.argmax(snr_band))
    f_star = (lo + k_star) / m
    if snr_band[k_star] < HIT_SNR:
        return None
    # The fundamental f* / k whose harmonics (up to a common ceiling) best explain the spectrum:
    # each harmonic scores log(SNR / T), T a tenth of the strongest peak, so a subharmonic (half
    # of its harmonics missing) and an overtone (fewer harmonics) both score lower.
    s_star = float(snr_band[k_star])
    thr = math.log(max(HIT_SNR, 0.08 * s_star))
    ceiling = min(f_hi, 2.2 * f_star)
    best_score, best_f0 = -math.inf, f_star
    for k in range(1, 41):
        f0 = f_star / k
        if f0 < f_lo * 0.999:
            break
        harm = np.arange(1, max(1, int(ceiling / f0)) + 1)
        snr, _ = _lookup(spec, f0 * harm)
        if k > 1 and _beat_subharmonic(harm, snr):
            continue
        score = float(np.sum(np.minimum(np.log(np.maximum(snr, 1e-3)), math.log(s_star)) - thr))
        if score > best_score + 1e-9:
            best_score, best_f0 = score, f0
    return best_f0


def _beat_subharmonic(harm: NDArray[np.int_], snr: NDArray[np.float64]) -> bool:
    """Whether a fundamental's comb is really ``j`` times its frequency's (j = 2..5), its first
    harmonic a stray: the harmonics found beyond the first are all multiples of ``j``. The
    lowest frequency also carries beats that are no grid (JPEG's 16 px chroma blocks against
    5 mm lines make a 10 mm one at about 120 DPI)."""
    extra = harm[1:][snr[1:] >= HIT_SNR]
    return extra.size == 0 or any(bool(np.all(extra % j == 0)) for j in range(2, 6))


def _finish(
    profile: NDArray[np.float64],
    spec: _Spectrum,
    f0: float,
    f_hi: float,
    *,
    min_px_per_mm: float,
    max_px_per_mm: float,
    forced: bool = False,
    hit_snr: float = HIT_SNR,
) -> AxisFit | None:
    """Refine the fundamental ``f0`` (cycles/px) from all its harmonics below ``f_hi``
    (cycles/px) and read it as px/mm.

    ``forced``: ``f0`` is known to be the 5 mm period's fundamental.
    """
    n = profile.size
    n_h = min(max(1, int(f_hi / f0)), MAX_HARMONICS)
    comb = _refine_fundamental(spec, f0, n_h, hit_snr=hit_snr)
    if comb is None:
        return None
    f0, harm, snr, hit = comb
    period = 1.0 / f0
    major = _minor_lines_seen(snr, harm)
    if major or forced:
        reading: _Reading | None = _Reading(period / MAJOR_MM, major)
    else:
        reading = _read_one_kind(
            spec, period, f0, min_px_per_mm=min_px_per_mm, max_px_per_mm=max_px_per_mm
        )
    if reading is None or not min_px_per_mm <= reading.px_per_mm <= max_px_per_mm:
        return None
    px_mm, major = reading.px_per_mm, reading.major
    if n < 12 * px_mm * MAJOR_MM:  # few periods: refine from the lines' positions
        minor_comb = major or (forced and period / MAJOR_MM >= 3.0)
        pitch = px_mm * MINOR_MM if minor_comb else period
        refined = _refine_by_lines(profile, pitch)
        if refined is not None:
            px_mm *= refined / pitch
            period *= refined / pitch
    phase = _phase(profile, px_mm * MAJOR_MM if (major or forced) else period)
    return AxisFit(
        period_px=period,
        px_per_mm=px_mm,
        major=major,
        ambiguous=not (major or forced),
        phase_px=phase,
        snr=float(np.median(snr[hit])),
        hits=int(hit.sum()),
        n_harmonics=int(harm.size),
        alternatives=reading.alternatives,
    )


def _refine_fundamental(
    spec: _Spectrum, f0: float, n_h: int, *, hit_snr: float
) -> tuple[float, NDArray[np.int_], NDArray[np.float64], NDArray[np.bool_]] | None:
    """``f0`` (cycles/px) refined from its harmonics 1..``n_h``: (f0, harmonics, their SNR,
    which were found); None when none is.

    A weighted least squares of f_k = k * f0 over the harmonics present (weights ~ SNR^2),
    taken in rounds that double the highest harmonic: each peak is only looked for within
    +-0.6 bins of where the previous round puts it, so a first guess a few tenths of a per cent
    off (blur leaves only the low harmonics sharp) is pulled in by the low harmonics first
    instead of locking the high ones onto noise beside their peaks.
    """
    tops = sorted({min(2**i, n_h) for i in range(1, n_h.bit_length() + 1)})
    for top in tops:
        harm = np.arange(1, top + 1)
        snr, fk = _lookup(spec, f0 * harm)
        hit = (snr >= hit_snr) & (f0 * harm >= 2.0 / spec.n)
        if hit.any():
            w = np.where(hit, np.minimum(snr, 1e3) ** 2, 0.0)
            f0 = float(np.sum(w * harm * fk) / np.sum(w * harm**2))
    return (f0, harm, snr, hit) if hit.any() else None


def _read_one_kind(
    spec: _Spectrum, period: float, f0: float, *, min_px_per_mm: float, max_px_per_mm: float
) -> _Reading | None:
    """Read a ``period`` (px; ``f0`` = its frequency, cycles/px) where one kind of line only was
    seen: a 5 mm period (the 1 mm lines lost) or a 1 mm one (the 5 mm lines look like the
    others). None when neither reading is within the px/mm limits."""
    lo, hi = min_px_per_mm, max_px_per_mm
    # Prefer 5 mm: faint minor lines are what goes first.
    as_major, as_minor = period / MAJOR_MM, period / MINOR_MM
    major = False
    # ... unless the harmonics of a 5x longer period are there too: 5 mm lines, faintly
    # darker than the 1 mm ones (common on real paper).
    sup = np.array([1, 2, 3, 4, 6, 7, 8, 9]) * (f0 / MAJOR_MM)
    sup = sup[sup >= 2.0 / spec.n]
    if sup.size >= 3 and lo <= as_minor <= hi:
        snr_sup, _ = _lookup(spec, sup)
        if float(np.median(snr_sup)) >= HIT_SNR:
            major, as_major = True, math.inf
    if lo <= as_major <= hi:
        return _Reading(as_major, major, (as_minor,) if lo <= as_minor <= hi else ())
    if lo <= as_minor <= hi:
        return _Reading(as_minor, major)
    return None


def _refine_by_lines(profile: NDArray[np.float64], pitch: float) -> float | None:
    """A pitch (px) from the positions of the individual lines of a comb of about ``pitch``.

    Each line is located at the sub-pixel maximum of the profile near its predicted place and
    the positions are fitted with a straight line against the line number (once more without
    outliers). More precise than spectral peaks on short profiles (a strip a few cm tall),
    where neighbouring harmonics leak into each other. None when too few lines are found.
    """
    n = profile.size
    if pitch < 3.0 or n < 6 * pitch:
        return None
    phase = _phase(profile, pitch)
    ks = np.arange(math.ceil((1 - phase) / pitch), math.floor((n - 2 - phase) / pitch) + 1)
    predicted = phase + ks * pitch
    half = max(1, int(0.3 * pitch))
    offs = np.arange(-half, half + 1)
    idx = np.clip(np.round(predicted).astype(np.intp)[:, None] + offs[None, :], 1, n - 2)
    best = idx[np.arange(idx.shape[0]), np.argmax(profile[idx], axis=1)]
    y0, y1, y2 = profile[best - 1], profile[best], profile[best + 1]
    pos = best + np.clip(_parabolic_offsets(y0, y1, y2), -0.5, 0.5)
    height = y1 - np.minimum(y0, y2)
    curved = y0 - 2 * y1 + y2 < 0  # a peak, not a plateau or a slope
    keep = curved & (np.abs(best - predicted) < half) & (height > 0)
    for _ in range(2):
        if keep.sum() < 5:
            return None
        slope, icpt = np.polyfit(ks[keep], pos[keep], 1)
        resid = np.abs(pos - (icpt + slope * ks))
        keep &= resid < max(0.6, 0.1 * pitch)
    if keep.sum() < 5 or abs(slope / pitch - 1) > 0.02:
        return None
    return float(slope)
