"""Page-level accuracy: whole pages through :func:`~ecgtrace.pipeline.digitize_image`, scored as
the PhysioNet/CinC Challenge 2024 scores a record.

Two sources of pages, each with its exact reference (``(n, 12)`` mV at 500 Hz, NaN where the page
does not plot a lead):

* ``ecgtizer``: the 66 ECGtizer PDFs (another renderer; fold 10), first page rasterised at a
  given DPI. Each is 3x4 + a 10 s lead II rhythm strip at 25 mm/s and 10 mm/mV, so the reference
  is the 500 Hz record with the lead in 3x4 column ``k`` kept on ``[2.5 k, 2.5 k + 2.5)`` s and
  lead II kept over the whole 10 s (the rhythm strip).
* ``rendered``: pages drawn by :func:`~ecgtrace.render.render_page` from fold-10 records (the
  test split), every style drawn by :func:`~ecgtrace.render.random_spec`; the reference is the
  truth's ``signal_plotted``. Page ``k`` of seed ``s`` comes from ``default_rng([s, k])`` alone, so
  it can be drawn on its own and is the same page for every method.

The digitizer is given ``fs`` only: layout, paper speed and gain are detected, as for a page
nobody describes. The sources are in :mod:`ecgtrace.bench.page_sources`, the tables in
:mod:`ecgtrace.bench.page_summary`. The true values are kept with each result, so the tables
can single out the pages whose calibration could not be read (no pulses and a speed or gain
other than the 25 mm/s and 10 mm/mV defaults).

Scores per lead: the Challenge SNR (dB; :func:`~ecgtrace.metrics.lead_snrs`), and Pearson ``r``
and MSE (mV^2) after the Challenge alignment, as the crop benchmark scores a crop. A plotted lead
with no estimate (not found, or the page raised :class:`~ecgtrace.digitization.DigitizeError`) is
scored as a flat 0 mV line, the Challenge's convention for a missing record or lead: SNR 0 dB,
``r`` 0 and MSE the reference's power. Failed pages are counted, never dropped. Means are over
(page, lead) pairs, the Challenge's nanmean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace.calibration import DEFAULT_GAIN_MM_MV, DEFAULT_SPEED_MM_S
from ecgtrace.digitization import Digitization, DigitizeError, DigitizeOptions, StageTimes
from ecgtrace.leads import LEAD_NAMES, parse_layout
from ecgtrace.metrics import challenge_align, challenge_snr, kaggle_record_ratio, mse, pearson_r
from ecgtrace.pipeline import digitize_image

log = logging.getLogger(__name__)

FS = 500.0
SCALE_TOLERANCE = 0.05  # a grid pitch further than this from the truth's is a wrong scale


# ---- one page ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PageResult:
    """One page digitized by one method and scored against its reference.

    ``layout`` is the true layout, spelled as :attr:`ecgtrace.layout.Layout.name` (``3x4+II``,
    ``3x4+V1,II``, ``6x2``, ``12x1``, ``single``...), ``found_layout`` the detected one (None when
    the page failed); ``lead_order`` likewise (``standard`` or ``cabrera``). ``speed_mm_s`` and
    ``gain_mm_mv`` are the page's true paper speed and gain, ``calibration`` the true side of its
    pulses (``left``, ``right`` or ``none``); ``found_*`` what the digitizer used. ``dpi`` is the
    resolution the page was rasterised or rendered at (before any downscale degradation);
    ``grid`` the printed grid's style (``solid``, ``dotted`` or ``none``), ``px_per_mm`` the
    page's true scale (after degradations; the mean of rows and cols) and ``found_px_per_mm``
    the grid's pitch the digitizer read (the mean of rows and cols).

    Per lead, (12,) in :data:`~ecgtrace.leads.LEAD_NAMES` order: ``plotted`` whether the page
    shows the lead; ``overlap`` whether one of its drawings meets another row's trace (from the
    truth); ``snr`` the Challenge SNR (dB; NaN where not plotted, or where the SNR is undefined:
    a perfect lead, a flat reference); ``r`` Pearson's r and ``mse`` (mV^2) after the Challenge
    alignment (NaN where not plotted). ``seconds`` is the wall time of
    :func:`~ecgtrace.pipeline.digitize_image`, ``times`` its stages (None when it failed),
    ``error`` the :class:`~ecgtrace.digitization.DigitizeError` message (None when it worked).
    """

    source: str
    name: str
    ecg_id: int
    method: str
    dpi: float
    layout: str
    found_layout: str | None
    lead_order: str
    found_lead_order: str | None
    speed_mm_s: float
    gain_mm_mv: float
    calibration: str
    found_speed_mm_s: float | None
    found_gain_mm_mv: float | None
    grid: str
    px_per_mm: float
    found_px_per_mm: float | None
    degradations: tuple[str, ...]
    plotted: NDArray[np.bool_]
    overlap: NDArray[np.bool_]
    snr: NDArray[np.float64]
    r: NDArray[np.float64]
    mse: NDArray[np.float64]
    seconds: float
    times: StageTimes | None
    error: str | None
    warnings: tuple[str, ...] = ()
    kaggle_ratio: float = 0.0

    @property
    def base_layout(self) -> str:
        """The true layout without its rhythm strips: ``3x4``, ``6x2``, ``12x1`` or ``single``."""
        return parse_layout(self.layout).base

    @property
    def layout_ok(self) -> bool:
        """Whether the detected layout is the true one (rhythm strips and their order included)."""
        return self.found_layout == self.layout

    @property
    def calibration_ok(self) -> bool:
        """Whether the digitizer used the true paper speed and gain."""
        return self.found_speed_mm_s == self.speed_mm_s and self.found_gain_mm_mv == self.gain_mm_mv

    @property
    def scale_ok(self) -> bool:
        """Whether the grid's pitch was read within 5 % of the page's true px/mm."""
        if self.found_px_per_mm is None:
            return False
        return abs(self.found_px_per_mm / self.px_per_mm - 1.0) <= SCALE_TOLERANCE

    @property
    def calibration_knowable(self) -> bool:
        """False for a page without pulses whose speed or gain is not the 25 mm/s, 10 mm/mV the
        digitizer assumes: nothing on it tells the true values."""
        defaults = self.speed_mm_s == DEFAULT_SPEED_MM_S and self.gain_mm_mv == DEFAULT_GAIN_MM_MV
        return self.calibration != "none" or defaults

    @property
    def snr_mean(self) -> float:
        """Mean SNR (dB) over the plotted leads (NaN SNRs dropped, as the Challenge does)."""
        return nanmean(self.snr[self.plotted])

    @property
    def r_mean(self) -> float:
        return nanmean(self.r[self.plotted])

    @property
    def mse_mean(self) -> float:
        return nanmean(self.mse[self.plotted])


def nanmean(values: NDArray[np.float64] | Sequence[float]) -> float:
    """The mean of the values that are not NaN (NaN when none is)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


@dataclass(frozen=True, eq=False)
class LeadScores:
    """Per lead, (12,) each: the Challenge SNR (dB), Pearson ``r`` and ``mse`` (mV^2)."""

    snr: NDArray[np.float64]
    r: NDArray[np.float64]
    mse: NDArray[np.float64]


def score_leads(
    reference: NDArray[np.float64], estimate: NDArray[np.float64] | None, *, fs: float = FS
) -> LeadScores:
    """The :class:`LeadScores` of an estimate against a reference.

    ``reference`` (n, 12) mV, NaN where not plotted; ``estimate`` (m, 12) mV, NaN where not read,
    NaN-padded or cut to n samples; None for a failed page. The SNR is
    :func:`~ecgtrace.metrics.lead_snrs`'s; ``r`` and MSE are taken on the same Challenge
    alignment, over the samples finite in both (one alignment per lead serves all three). A
    plotted lead with no finite estimate sample where the reference is finite is a flat 0 mV
    line: SNR 0, r 0, MSE the reference's mean square. Leads not plotted are NaN throughout.
    """
    ref = np.asarray(reference, dtype=np.float64)
    n, leads = ref.shape
    est = np.full((n, leads), np.nan)
    if estimate is not None:
        e = np.asarray(estimate, dtype=np.float64)[:n]
        est[: e.shape[0]] = e
    snr = np.full(leads, np.nan)
    r = np.full(leads, np.nan)
    err = np.full(leads, np.nan)
    for j in range(leads):
        x = ref[:, j]
        ok = np.isfinite(x)
        if not ok.any():
            continue
        if not np.isfinite(est[ok, j]).any():
            snr[j], r[j], err[j] = 0.0, 0.0, float(np.mean(x[ok] ** 2))
            continue
        aligned = challenge_align(x, est[:, j], fs=fs).aligned
        moved = np.full(n, np.nan)  # a negative shift lengthens the estimate: cut to the reference
        moved[: min(n, aligned.size)] = aligned[:n]
        snr[j] = challenge_snr(x, moved, fs=fs, align=False)
        r[j] = pearson_r(x, moved)
        err[j] = mse(x, moved)
    return LeadScores(snr=snr, r=r, mse=err)


def score_page(
    image: NDArray[np.uint8],
    reference: NDArray[np.float64],
    *,
    source: str,
    name: str,
    ecg_id: int,
    method: str = "unet+ink",
    dpi: float,
    layout: str,
    lead_order: str = "standard",
    speed_mm_s: float,
    gain_mm_mv: float,
    calibration: str,
    grid: str,
    px_per_mm: float,
    overlap: NDArray[np.bool_] | None = None,
    degradations: tuple[str, ...] = (),
    fs: float = FS,
) -> PageResult:
    """Digitize one page image (rows, cols, 3) uint8 and score it against ``reference``.

    ``reference`` (n, 12) mV at ``fs`` Hz, NaN where the page does not plot a lead. The
    digitizer gets ``fs`` and ``method`` only (layout, speed and gain detected); the other
    arguments are the page's truth, kept in the result. A :class:`DigitizeError` gives a result
    with its message and every plotted lead at 0 dB (see :func:`score_leads`).
    """
    ref = np.asarray(reference, dtype=np.float64)
    if ref.ndim != 2 or ref.shape[1] != len(LEAD_NAMES):
        raise ValueError(f"reference must be (n, 12) mV, got {ref.shape}")
    plotted: NDArray[np.bool_] = np.asarray(np.isfinite(ref).any(axis=0), dtype=bool)
    t0 = time.perf_counter()
    found: Digitization | None
    try:
        found = digitize_image(image, DigitizeOptions(fs=fs, method=method), source=name)
        error = None
    except DigitizeError as exc:
        found, error = None, str(exc)
        log.info("%s: %s", name, error)
    seconds = time.perf_counter() - t0
    scores = score_leads(ref, None if found is None else found.p_signal, fs=fs)
    found_scale = None
    if found is not None:
        found_scale = 0.5 * (found.grid.px_per_mm_row + found.grid.px_per_mm_col)
    return PageResult(
        source=source,
        name=name,
        ecg_id=ecg_id,
        method=method,
        dpi=float(dpi),
        layout=layout,
        found_layout=None if found is None else found.layout.name,
        lead_order=lead_order,
        found_lead_order=None if found is None else found.layout.lead_order,
        speed_mm_s=float(speed_mm_s),
        gain_mm_mv=float(gain_mm_mv),
        calibration=calibration,
        found_speed_mm_s=None if found is None else found.speed_mm_s,
        found_gain_mm_mv=None if found is None else found.gain_mm_mv,
        grid=grid,
        px_per_mm=float(px_per_mm),
        found_px_per_mm=found_scale,
        degradations=tuple(degradations),
        plotted=plotted,
        overlap=np.zeros(len(LEAD_NAMES), bool) if overlap is None else np.asarray(overlap, bool),
        snr=scores.snr,
        r=scores.r,
        mse=scores.mse,
        seconds=seconds,
        times=None if found is None else found.times,
        error=error,
        warnings=() if found is None else found.warnings,
        kaggle_ratio=kaggle_record_ratio(ref, None if found is None else found.p_signal, fs=fs),
    )


def resample(p_signal: NDArray[np.float64], fs_in: float, fs_out: float) -> NDArray[np.float64]:
    """The (n, leads) record at ``fs_out`` Hz (linear interpolation; as is when equal)."""
    if fs_in == fs_out:
        return p_signal
    n_out = round(p_signal.shape[0] * fs_out / fs_in)
    t_in = np.arange(p_signal.shape[0]) / fs_in
    t_out = np.arange(n_out) / fs_out
    return np.stack([np.interp(t_out, t_in, p_signal[:, j]) for j in range(p_signal.shape[1])], 1)
