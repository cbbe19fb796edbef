"""ECG paper grid: pitch (px/mm along rows and cols), rotation and phase, from the image alone.

The method, in four steps (no DPI or paper size is needed):

1. **Evidence.** A (rows, cols) float32 image that is high on grid lines and low elsewhere. Each
   channel's darkness is measured against a local paper estimate (so shading, stains and colour
   casts drop out). On a coloured grid the evidence is the darkness along the grid's own chroma
   direction (found by a PCA of the chroma of the non-paper pixels), which leaves black or grey
   traces and text at zero; on a grey or binarised grid it is the plain darkness, clipped near
   the grid's level so that traces count no more than grid lines.
2. **Rotation.** The angle that makes the projection profiles of the evidence (along rows for the
   horizontal lines, along cols for the vertical ones) sharpest (largest sum of squares): a coarse
   search over +-12 deg on a small copy, then finer searches on a larger copy, to ~0.01 deg.
3. **Pitch.** The evidence is deskewed at full resolution and projected. Per axis, the spectrum of
   the profile is a comb of harmonics of the 5 mm major pitch; the strongest peak and the lowest
   fundamental all of whose harmonics below it are present give the pattern's period, and the
   harmonics at multiples of 5 standing out (the 4 weaker minor lines between two majors) tell a
   major period from a minor one. The fundamental is refined from every harmonic present (a
   weighted least-squares fit of peak frequencies against harmonic number), to well under 0.5 %.
4. **Checks.** px/mm must lie in [2, 50]; rows and cols must agree within a factor of 1.25 (else
   the ambiguous axis takes the reading that agrees); the confidence comes from the harmonics'
   signal-to-noise ratio and how many were found.

Conventions: ``rotation_deg`` is counter-clockwise as displayed (the renderer's: after
``degrade.rotate(page, degrees=d)`` the lines tilt by ``+d`` and this returns ``~d``). The
*deskewed frame* is the image turned by ``-rotation_deg`` about its centre ``((rows - 1) / 2,
(cols - 1) / 2)``, same shape; ``phase_row`` / ``phase_col`` are the positions (px, in
``[0, 5 * px_per_mm)``) of the major lines nearest that frame's origin: major horizontal lines lie
at rows ``phase_row + k * 5 * px_per_mm_row`` of the deskewed frame, vertical ones likewise.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

log = logging.getLogger(__name__)

MINOR_MM = 1.0
MAJOR_MM = 5.0


@dataclass(frozen=True)
class Grid:
    """The printed grid of an ECG image.

    ``px_per_mm_row`` is the vertical pitch (amplitude axis), ``px_per_mm_col`` the horizontal
    pitch (time axis), both px/mm; ``rotation_deg`` is counter-clockwise as displayed;
    ``phase_row`` / ``phase_col`` (px) place the major lines in the deskewed frame (see the module
    docstring); ``confidence`` is in [0, 1]; ``found`` is False when no grid was seen (then the
    other fields are best guesses or NaN). ``minor_visible`` tells whether the 1 mm lines were
    seen besides the 5 mm ones.
    """

    px_per_mm_row: float
    px_per_mm_col: float
    rotation_deg: float
    phase_row: float
    phase_col: float
    confidence: float
    found: bool
    minor_visible: bool = False

    @property
    def px_per_mm(self) -> float:
        """The mean of the two pitches, px/mm."""
        return 0.5 * (self.px_per_mm_row + self.px_per_mm_col)

    def as_dict(self) -> dict[str, float | bool]:
        return {
            "found": self.found,
            "px_per_mm_row": self.px_per_mm_row,
            "px_per_mm_col": self.px_per_mm_col,
            "rotation_deg": self.rotation_deg,
            "phase_row": self.phase_row,
            "phase_col": self.phase_col,
            "confidence": self.confidence,
            "minor_visible": self.minor_visible,
        }


NO_GRID = Grid(
    px_per_mm_row=math.nan,
    px_per_mm_col=math.nan,
    rotation_deg=0.0,
    phase_row=math.nan,
    phase_col=math.nan,
    confidence=0.0,
    found=False,
)


# ---- 1. evidence ------------------------------------------------------------------------------


def _paper(image: NDArray[np.uint8], block: int) -> NDArray[np.float32]:
    """(rows, cols, ch) float32: the local paper level, the brightest value around each pixel.

    The maximum over ``block`` x ``block`` tiles (a tile almost always holds some paper) of an
    area-averaged copy, grown by one tile and smoothed, then stretched back to full size.
    """
    rows, cols, ch = image.shape
    s = 4 if min(rows, cols) >= 400 else 2 if min(rows, cols) >= 100 else 1
    small: NDArray = image
    if s > 1:
        small = cv2.resize(image, (cols // s, rows // s), interpolation=cv2.INTER_AREA)
        small = np.asarray(small).reshape(rows // s, cols // s, ch)
    b = max(2, block // s)
    nr, nc = max(1, small.shape[0] // b), max(1, small.shape[1] // b)
    b_r, b_c = min(b, small.shape[0]), min(b, small.shape[1])
    t = small[: nr * b_r].reshape(nr, b_r, small.shape[1], ch).max(axis=1)
    t = t[:, : nc * b_c].reshape(nr, nc, b_c, ch).max(axis=2)
    t = ndimage.maximum_filter(t, size=(3, 3, 1), mode="nearest").astype(np.float32)
    t = np.asarray(cv2.blur(t, (3, 3), borderType=cv2.BORDER_REPLICATE), np.float32)
    full = cv2.resize(t.reshape(nr, nc, ch), (cols, rows), interpolation=cv2.INTER_LINEAR)
    return np.maximum(np.asarray(full, np.float32).reshape(rows, cols, ch), 1.0)


def grid_evidence(image: NDArray[np.uint8]) -> tuple[NDArray[np.float32], bool]:
    """Grid-line evidence (rows, cols) float32 >= 0 of an RGB or grey uint8 image.

    Returns the evidence and whether it came from the grid's colour (True) or from plain
    darkness (False; grey or binarised grids). See the module docstring.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    rows, cols, ch = img.shape
    block = int(np.clip(round(min(rows, cols) / 40), 4, 64))
    paper = _paper(img, block)
    ratio = img.astype(np.float32)
    ratio /= paper  # 1 on paper, lower on anything printed
    np.minimum(ratio, 1.0, out=ratio)
    step = max(1, round(math.sqrt(rows * cols / 150_000)))
    if ch == 3:
        d = 1.0 - ratio[::step, ::step].reshape(-1, 3)
        g = d.mean(axis=1)
        sel = g > 0.02
        if sel.sum() > 50:
            chroma = d[sel] - g[sel, None]
            # The grid outnumbers the traces: weight down the darkest pixels (ink, text).
            w = np.where(g[sel] < np.percentile(g[sel], 90), 1.0, 0.1)
            cov = (chroma * w[:, None]).T @ chroma / w.sum()
            _, vecs = np.linalg.eigh(cov)
            v = vecs[:, -1]
            proj = chroma @ v
            if np.sum(np.maximum(proj, 0) * w) < np.sum(np.maximum(-proj, 0) * w):
                v, proj = -v, -proj
            along = np.maximum(proj, 0.0)
            colourful = float(np.sum(w * along**2) / max(np.sum(w * g[sel] ** 2), 1e-12))
            log.debug("grid colour direction %s, colourfulness %.3f", np.round(v, 3), colourful)
            if colourful > 0.05:
                # v is orthogonal to grey (its entries sum to 0): darkness . v = -ratio . v
                m = (-v).astype(np.float32).reshape(1, 3)
                ev = np.asarray(cv2.transform(ratio, m), np.float32).reshape(rows, cols)
                cap = float(np.percentile(along[along > 0], 99)) if (along > 0).any() else 1.0
                return np.clip(ev, 0.0, max(cap, 1e-3)), True
        grey = 1.0 - np.asarray(
            cv2.transform(ratio, np.full((1, 3), 1 / 3, np.float32)), np.float32
        ).reshape(rows, cols)
    else:
        grey = 1.0 - ratio[..., 0]
    sample = grey[::step, ::step]
    nz = sample[sample > 0.02]
    level = max(float(np.percentile(nz, 60)) if nz.size > 50 else 1.0, 1e-3)
    # Pixels much darker than the grid's typical level are traces or text: fade them out (from
    # 3x that level to 0 at 4.5x) rather than count them as grid. On a black-on-white
    # (binarised) page grid and ink are alike and nothing is faded.
    ev = grey
    if 4.5 * level < 0.95:
        ev = np.minimum(grey, np.maximum((4.5 * level - grey) * 2.0, 0.0))
    return np.asarray(ev, np.float32), False


# ---- 2. rotation ------------------------------------------------------------------------------


def _shrink(ev: NDArray[np.float32], max_side: int) -> tuple[NDArray[np.float32], float]:
    """A copy whose longer side is at most ``max_side`` px (area-averaged), and its scale."""
    rows, cols = ev.shape
    s = min(1.0, max_side / max(rows, cols))
    if s >= 1.0:
        return ev, 1.0
    size = (max(1, round(cols * s)), max(1, round(rows * s)))
    return np.asarray(cv2.resize(ev, size, interpolation=cv2.INTER_AREA), np.float32), s


class _Projector:
    """Projection profiles of the strongest evidence pixels at any angle (linear binning)."""

    def __init__(self, ev: NDArray[np.float32], keep: float = 0.25) -> None:
        rows, cols = ev.shape
        thr = np.percentile(ev, 100 * (1 - keep)) if ev.size > 100 else 0.0
        r, c = np.nonzero(ev > thr)
        if r.size < 10:
            r, c = np.nonzero(ev >= thr)
        self.w = ev[r, c].astype(np.float64)
        self.dr = r - (rows - 1) / 2.0
        self.dc = c - (cols - 1) / 2.0
        self.half = math.hypot(rows, cols) / 2 + 2

    def _profile(self, s: NDArray[np.float64]) -> NDArray[np.float64]:
        s = s + self.half
        i = np.floor(s)
        frac = s - i
        n = int(2 * self.half) + 2
        ii = i.astype(np.intp)
        lower = np.bincount(ii, self.w * (1 - frac), n).astype(np.float64)
        return lower + np.bincount(ii + 1, self.w * frac, n)

    def sharpness(self, angle_deg: float) -> float:
        """Sum of squares of both profiles after turning the page by ``-angle_deg``."""
        a = math.radians(angle_deg)
        ca, sa = math.cos(a), math.sin(a)
        # Undo a counter-clockwise turn: the source row of a point is cos*dr + sin*dc.
        ph = self._profile(ca * self.dr + sa * self.dc)
        pv = self._profile(-sa * self.dr + ca * self.dc)
        return float(ph @ ph + pv @ pv)


def _search(proj: _Projector, centre: float, half: float, step: float) -> tuple[float, float]:
    """Best angle on a grid ``centre +- half`` by ``step`` (parabolic peak), and its score."""
    angles = centre + step * np.arange(-round(half / step), round(half / step) + 1)
    scores = np.array([proj.sharpness(float(a)) for a in angles])
    k = int(np.argmax(scores))
    best = float(angles[k])
    if 0 < k < len(scores) - 1:
        y0, y1, y2 = scores[k - 1], scores[k], scores[k + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            best += step * float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
    return best, float(scores[k])


def estimate_rotation(ev: NDArray[np.float32], *, max_deg: float = 12.0) -> float:
    """Rotation (deg, counter-clockwise as displayed) of the grid lines in evidence ``ev``."""
    small, _ = _shrink(ev, 320)
    coarse, _ = _search(_Projector(small, keep=0.3), 0.0, max_deg, 0.5)
    mid, _ = _shrink(ev, 1000)
    proj = _Projector(mid, keep=0.2)
    angle, _ = _search(proj, coarse, 0.75, 0.15)
    angle, _ = _search(proj, angle, 0.12, 0.03)
    return float(np.clip(angle, -max_deg, max_deg))


def deskew(image: NDArray, angle_deg: float, *, border: float = 0.0) -> NDArray:
    """Turn ``image`` by ``-angle_deg`` about its centre (same shape): lines tilted by
    ``angle_deg`` (counter-clockwise) become level. Bilinear."""
    rows, cols = image.shape[:2]
    if abs(angle_deg) < 1e-6:
        return image
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    cr, cc = (rows - 1) / 2.0, (cols - 1) / 2.0
    # Output (r0, c0) samples the input at the point turned counter-clockwise by the angle:
    # r = cr + ca*(r0-cr) - sa*(c0-cc), c = cc + sa*(r0-cr) + ca*(c0-cc); cv2 wants (x=c, y=r).
    m = np.array(
        [
            [ca, sa, cc - ca * cc - sa * cr],
            [-sa, ca, cr + sa * cc - ca * cr],
        ]
    )
    return cv2.warpAffine(
        image,
        m,
        (cols, rows),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )


# ---- 3. pitch ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AxisFit:
    """The grid along one axis: ``period_px`` of the repeating pattern, ``major`` whether it is
    the 5 mm period with the 1 mm lines seen inside it, ``ambiguous`` when only one kind of line
    was seen, ``px_per_mm`` the reading, ``phase_px`` a line of the period, ``snr`` the median
    harmonic-to-noise ratio and ``hits`` how many harmonics were found."""

    period_px: float
    px_per_mm: float
    major: bool
    ambiguous: bool
    phase_px: float
    snr: float
    hits: int
    alternatives: tuple[float, ...] = ()
    n_harmonics: int = 8


def _spectrum(profile: NDArray[np.float64]) -> tuple[NDArray[np.float64], int, NDArray]:
    """Magnitude of the Hann-windowed, zero-padded spectrum (8x), the padded length, and the
    noise floor per unpadded bin (lower quartile in a sliding window)."""
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
    return mag, m, floor


def _lookup(
    mag: NDArray[np.float64], m: int, floor: NDArray[np.float64], n: int, f: NDArray
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Peak SNR and refined frequency near each frequency in ``f`` (cycles/px).

    Searches +-0.6 unpadded bins around each, takes the padded maximum, refines it by a parabola
    on the log magnitude, and divides by the local noise floor.
    """
    pad = m / n
    centre = f * m
    reach = max(1, round(0.6 * pad))
    offs = np.arange(-reach, reach + 1)
    idx = np.clip(np.round(centre)[:, None].astype(np.intp) + offs[None, :], 1, mag.size - 2)
    k = idx[np.arange(idx.shape[0]), np.argmax(mag[idx], axis=1)]
    y0, y1, y2 = (np.log(mag[k + d] + 1e-300) for d in (-1, 0, 1))
    den = y0 - 2 * y1 + y2
    shift = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0)
    shift = np.clip(shift, -0.5, 0.5)
    fk = (k + shift) / m
    nb = np.clip(np.round(fk * n).astype(np.intp), 0, floor.size - 1)
    return mag[k] / floor[nb], fk


def _phase(profile: NDArray[np.float64], period: float) -> float:
    """Position (px, in [0, period)) of the pulses of ``profile`` that repeat every ``period``."""
    t = np.arange(profile.size)
    p = profile - profile.mean()
    c = np.sum(p * np.exp(-2j * np.pi * t / period))
    return float((-np.angle(c) / (2 * np.pi) * period) % period)


HIT_SNR = 8.0  # a harmonic's peak over the local noise floor (pure noise reaches ~3-5)


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
    harmonics is found. See the module docstring.
    """
    n = profile.size
    if n < 16 or not np.all(np.isfinite(profile)) or np.ptp(profile) <= 0:
        return None
    mag, m, floor = _spectrum(profile.astype(np.float64))
    f_hi = min(0.5, 1.0 / (MINOR_MM * min_px_per_mm)) * 0.98
    if expect is not None:
        u = expect * np.exp(np.linspace(-math.log(span), math.log(span), 450))
        u = u[(u >= min_px_per_mm) & (u <= max_px_per_mm)]
        if u.size == 0:
            return None
        harm = np.arange(5, 31, 5) if minor_only else np.arange(1, 16)
        freqs = harm[None, :] / (MAJOR_MM * u[:, None])
        usable = (freqs >= 2.0 / n) & (freqs <= f_hi)
        snr, _ = _lookup(mag, m, floor, n, freqs.ravel())
        logs = np.clip(np.log(np.maximum(snr.reshape(freqs.shape), 1e-3)), 0.0, math.log(1e3))
        score = np.where(usable, logs, 0.0).sum(axis=1)
        return _finish(
            profile, mag, m, floor, 1.0 / (MAJOR_MM * float(u[np.argmax(score)])), f_hi,
            (min_px_per_mm, max_px_per_mm), forced=True, hit_snr=0.6 * HIT_SNR,
        )  # fmt: skip
    pad = m / n
    f_lo = max(1.0 / (MAJOR_MM * max_px_per_mm), 2.5 / n)  # at least 2.5 cycles in the profile
    lo, hi = math.ceil(f_lo * m), math.floor(f_hi * m)
    if hi <= lo:
        return None
    band = mag[lo:hi]
    nb = np.clip(np.round(np.arange(lo, hi) / pad).astype(np.intp), 0, floor.size - 1)
    snr_band = band / floor[nb]
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
    best: tuple[float, float] = (-math.inf, f_star)
    for k in range(1, 41):
        f0 = f_star / k
        if f0 < f_lo * 0.999:
            break
        harm = np.arange(1, max(1, int(ceiling / f0)) + 1)
        snr, _ = _lookup(mag, m, floor, n, f0 * harm)
        score = float(np.sum(np.minimum(np.log(np.maximum(snr, 1e-3)), math.log(s_star)) - thr))
        if score > best[0] + 1e-9:
            best = (score, f0)
    return _finish(profile, mag, m, floor, best[1], f_hi, (min_px_per_mm, max_px_per_mm))


def _finish(
    profile: NDArray[np.float64],
    mag: NDArray[np.float64],
    m: int,
    floor: NDArray[np.float64],
    f0: float,
    f_hi: float,
    limits: tuple[float, float],
    *,
    forced: bool = False,
    hit_snr: float = HIT_SNR,
) -> AxisFit | None:
    """Refine the fundamental ``f0`` (cycles/px) from all its harmonics and read it as px/mm.

    ``forced``: ``f0`` is known to be the 5 mm period's fundamental.
    """
    n = profile.size
    n_h = max(1, int(f_hi / f0))
    harm = np.arange(1, min(n_h, 60) + 1)
    snr, fk = _lookup(mag, m, floor, n, f0 * harm)
    hit = (snr >= hit_snr) & (f0 * harm >= 2.0 / n)
    if hit.sum() == 0:
        return None
    # Weighted least squares of f_k = k * f0 over the harmonics present (weights ~ SNR^2).
    w = np.where(hit, np.minimum(snr, 1e3) ** 2, 0.0)
    f0 = float(np.sum(w * harm * fk) / np.sum(w * harm**2))
    period = 1.0 / f0
    major = _minor_lines_seen(snr, harm)
    lo, hi = limits
    alternatives: tuple[float, ...] = ()
    if major or forced:
        px_mm = period / MAJOR_MM
    else:
        # One kind of line only: a 5 mm period (the 1 mm lines lost) or a 1 mm one (the 5 mm
        # lines look like the others). Prefer 5 mm: faint minor lines are what goes first.
        as_major, as_minor = period / MAJOR_MM, period / MINOR_MM
        # ... unless the harmonics of a 5x longer period are there too: 5 mm lines, faintly
        # darker than the 1 mm ones (common on real paper).
        sup = np.array([1, 2, 3, 4, 6, 7, 8, 9]) * (f0 / MAJOR_MM)
        sup = sup[sup >= 2.0 / n]
        if sup.size >= 3 and lo <= as_minor <= hi:
            snr_sup, _ = _lookup(mag, m, floor, n, sup)
            if float(np.median(snr_sup)) >= HIT_SNR:
                major, as_major = True, math.inf
        if lo <= as_major <= hi:
            px_mm = as_major
            alternatives = (as_minor,) if lo <= as_minor <= hi else ()
        elif lo <= as_minor <= hi:
            px_mm = as_minor
        else:
            return None
    if not lo <= px_mm <= hi:
        return None
    if n < 12 * px_mm * MAJOR_MM:  # few periods: refine from the lines' positions
        minor_comb = major or (forced and period / MAJOR_MM >= 3.0)
        comb = px_mm * MINOR_MM if minor_comb else period
        refined = _refine_by_lines(profile, comb)
        if refined is not None:
            px_mm *= refined / comb
            period *= refined / comb
    phase = _phase(profile, px_mm * MAJOR_MM if (major or forced) else period)
    return AxisFit(
        period_px=period,
        px_per_mm=px_mm,
        major=major,
        ambiguous=not (major or forced),
        phase_px=phase,
        snr=float(np.median(snr[hit])),
        hits=int(hit.sum()),
        alternatives=alternatives,
        n_harmonics=int(harm.size),
    )


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
    den = y0 - 2 * y1 + y2
    shift = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0)
    pos = best + np.clip(shift, -0.5, 0.5)
    height = y1 - np.minimum(y0, y2)
    keep = (den < 0) & (np.abs(best - predicted) < half) & (height > 0)
    for _ in range(2):
        if keep.sum() < 5:
            return None
        slope, icpt = np.polyfit(ks[keep], pos[keep], 1)
        resid = np.abs(pos - (icpt + slope * ks))
        keep &= resid < max(0.6, 0.1 * pitch)
    if keep.sum() < 5 or abs(slope / pitch - 1) > 0.02:
        return None
    return float(slope)


# ---- 4. all together ---------------------------------------------------------------------------


def _axis_confidence(fit: AxisFit | None) -> float:
    """0..1 from the harmonics' median SNR (10 -> 0, 60 -> 1, log scale) and their number."""
    if fit is None:
        return 0.0
    s = float(np.clip(math.log(max(fit.snr, 1e-3) / 10.0) / math.log(6.0), 0.0, 1.0))
    seen = min(1.0, fit.hits / max(2.0, min(8.0, fit.n_harmonics)))
    return s * seen * (1.0 if fit.major else 0.85)


def detect_grid(
    image: NDArray[np.uint8],
    *,
    max_rotation_deg: float = 12.0,
    min_px_per_mm: float = 2.0,
    max_px_per_mm: float = 50.0,
    min_confidence: float = 0.2,
) -> Grid:
    """Find the ECG grid in an RGB (rows, cols, 3) or grey (rows, cols) uint8 image.

    Returns a :class:`Grid` (px/mm along rows and cols, rotation in degrees counter-clockwise,
    phases in px in the deskewed frame, confidence); ``found`` is False, with a low confidence,
    when no grid is seen. Never raises on a valid image array.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.shape[0] < 16 or img.shape[1] < 16:
        return NO_GRID
    ev, coloured = grid_evidence(img)
    if not np.any(ev > 0):
        return NO_GRID
    angle = estimate_rotation(ev, max_deg=max_rotation_deg)
    level = deskew(ev, angle)
    opts = (min_px_per_mm, max_px_per_mm)
    prof_r = level.sum(axis=1, dtype=np.float64)
    prof_c = level.sum(axis=0, dtype=np.float64)
    fit_r = fit_axis(prof_r, min_px_per_mm=opts[0], max_px_per_mm=opts[1])
    fit_c = fit_axis(prof_c, min_px_per_mm=opts[0], max_px_per_mm=opts[1])
    fit_r, fit_c = _reconcile(fit_r, fit_c)
    # Two independent axes that agree are the strongest sign of a real grid (judged before
    # the refit below, which pulls the weaker axis towards the stronger one).
    agree = (
        fit_r is not None
        and fit_c is not None
        and abs(math.log(fit_r.px_per_mm / fit_c.px_per_mm)) < 0.03
    )
    fit_r, fit_c = _refit_weaker(fit_r, fit_c, prof_r, prof_c, opts)
    conf_r, conf_c = _axis_confidence(fit_r), _axis_confidence(fit_c)
    log.debug("grid: angle %.3f deg, rows %s, cols %s, coloured %s", angle, fit_r, fit_c, coloured)
    if fit_r is None and fit_c is None:
        return Grid(math.nan, math.nan, angle, math.nan, math.nan, 0.0, False)
    if fit_r is None or fit_c is None:
        one = fit_r or fit_c
        assert one is not None
        conf = 0.5 * max(conf_r, conf_c)
        ppm = one.px_per_mm
        return Grid(
            px_per_mm_row=ppm,
            px_per_mm_col=ppm,
            rotation_deg=angle,
            phase_row=fit_r.phase_px if fit_r else math.nan,
            phase_col=fit_c.phase_px if fit_c else math.nan,
            confidence=conf,
            found=conf >= min_confidence,
            minor_visible=one.major,
        )
    off = abs(math.log(fit_r.px_per_mm / fit_c.px_per_mm))
    base = 0.5 * (conf_r + conf_c)
    conf = math.sqrt(base) if agree else base * (0.6 if off < math.log(1.25) else 0.2)
    conf = float(np.clip(conf, 0.0, 1.0))
    return Grid(
        px_per_mm_row=fit_r.px_per_mm,
        px_per_mm_col=fit_c.px_per_mm,
        rotation_deg=angle,
        phase_row=fit_r.phase_px,
        phase_col=fit_c.phase_px,
        confidence=conf,
        found=conf >= min_confidence,
        minor_visible=fit_r.major or fit_c.major,
    )


def _strength(fit: AxisFit | None, n: int) -> float:
    """How much to trust an axis: confidence, more for longer profiles (more periods seen)."""
    if fit is None:
        return 0.0
    return _axis_confidence(fit) * min(1.0, n / (fit.px_per_mm * MAJOR_MM) / 20.0) + 1e-6 * n


def _refit_weaker(
    fit_r: AxisFit | None,
    fit_c: AxisFit | None,
    prof_r: NDArray[np.float64],
    prof_c: NDArray[np.float64],
    opts: tuple[float, float],
) -> tuple[AxisFit | None, AxisFit | None]:
    """Polish the stronger axis (a fine search within 3 % of its first fit), then refit the
    weaker one within a factor 1.15 of it.

    The axes are still measured apart (anisotropic scans differ by a few %), only the search
    is narrowed around the other axis.
    """
    s_r, s_c = _strength(fit_r, prof_r.size), _strength(fit_c, prof_c.size)
    if s_r == 0.0 and s_c == 0.0:
        return fit_r, fit_c
    strong, weak = (fit_r, fit_c) if s_r >= s_c else (fit_c, fit_r)
    p_strong, p_weak = (prof_r, prof_c) if s_r >= s_c else (prof_c, prof_r)
    assert strong is not None
    minor_only = not strong.major and abs(strong.period_px - strong.px_per_mm) < 1e-9
    lo, hi = opts
    polished = fit_axis(
        p_strong, expect=strong.px_per_mm, span=1.03, minor_only=minor_only,
        min_px_per_mm=lo, max_px_per_mm=hi,
    )  # fmt: skip
    if polished is not None:
        strong = _keep_reading(polished, strong)
    refit = fit_axis(
        p_weak, expect=strong.px_per_mm, minor_only=minor_only, min_px_per_mm=lo, max_px_per_mm=hi
    )
    if refit is not None:
        weak = refit if weak is None else _keep_reading(refit, weak)
    return (strong, weak) if s_r >= s_c else (weak, strong)


def _keep_reading(new: AxisFit, old: AxisFit) -> AxisFit:
    """``new`` (a forced 5 mm fit) with ``old``'s evidence of minor lines and its confidence
    when that was higher."""
    best = old if _axis_confidence(old) > _axis_confidence(new) else new
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


def _reading(fit: AxisFit, px_mm: float) -> AxisFit:
    return AxisFit(
        period_px=fit.period_px,
        px_per_mm=px_mm,
        major=fit.major,
        ambiguous=False,
        phase_px=fit.phase_px,
        snr=fit.snr,
        hits=fit.hits,
    )


def _reconcile(a: AxisFit | None, b: AxisFit | None) -> tuple[AxisFit | None, AxisFit | None]:
    """Make the two axes agree: an ambiguous axis takes the reading closest to a sure one."""
    if a is None or b is None:
        return a, b

    def off(x: float, y: float) -> float:
        return abs(math.log(x / y))

    if a.ambiguous and not b.ambiguous:
        choice = min((a.px_per_mm, *a.alternatives), key=lambda v: off(v, b.px_per_mm))
        return _reading(a, choice), b
    if b.ambiguous and not a.ambiguous:
        choice = min((b.px_per_mm, *b.alternatives), key=lambda v: off(v, a.px_per_mm))
        return a, _reading(b, choice)
    return a, b


# ECG pens draw 0.1-0.6 mm, a scan's blur widens them to ~1 mm (0.93 mm seen on the shared
# scans); a trace wider than this means a misread pitch.
MAX_PEN_MM = 1.1


def settle_pitch(grid: Grid, *, stroke_px: float) -> Grid:
    """Check a grid reading against the trace's pen width (px, across a flat stretch).

    Where only one kind of line is visible, 1 mm lines can pass for 5 mm ones: the pitch then
    reads 5x too small and the pen looks over ``MAX_PEN_MM`` wide. If 5x the pitch makes the pen
    plausible, that reading is returned (and logged); otherwise ``grid`` unchanged.
    """
    if not grid.found or not stroke_px > 0:
        return grid
    pen_mm = stroke_px / grid.px_per_mm_row
    if pen_mm <= MAX_PEN_MM or pen_mm / MAJOR_MM > MAX_PEN_MM:
        return grid
    factor = MAJOR_MM / MINOR_MM
    log.info(
        "pen %.2f mm wide at %.2f px/mm: the lines read as 5 mm apart are 1 mm apart; pitch x%g",
        pen_mm, grid.px_per_mm_row, factor,
    )  # fmt: skip
    return replace(
        grid,
        px_per_mm_row=grid.px_per_mm_row * factor,
        px_per_mm_col=grid.px_per_mm_col * factor,
        minor_visible=False,
    )
