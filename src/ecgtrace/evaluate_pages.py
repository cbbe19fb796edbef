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
nobody describes. The true values are kept with each result, so the tables can single out the
pages whose calibration could not be read (no pulses and a speed or gain other than the 25 mm/s
and 10 mm/mV defaults).

Scores per lead: the Challenge SNR (dB; :func:`~ecgtrace.metrics.lead_snrs`), and Pearson ``r``
and MSE (mV^2) after the Challenge alignment, as the crop benchmark scores a crop. A plotted lead
with no estimate (not found, or the page raised :class:`~ecgtrace.pipeline.DigitizeError`) is
scored as a flat 0 mV line, the Challenge's convention for a missing record or lead: SNR 0 dB,
``r`` 0 and MSE the reference's power. Failed pages are counted, never dropped. Means are over
(page, lead) pairs, the Challenge's nanmean.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgtrace.data import available_fs, load_record, split_ids
from ecgtrace.metrics import challenge_align, challenge_snr, mse, pearson_r
from ecgtrace.digitization import Digitization, DigitizeError, StageTimes
from ecgtrace.pipeline import digitize_image
from ecgtrace.render import PageSpec, Rendered, random_spec, render_page
from ecgtrace.render.degrade import DEGRADATIONS, random_degradations
from ecgtrace.types import LEAD_NAMES

log = logging.getLogger(__name__)

FS = 500.0
BASE_LAYOUTS: tuple[str, ...] = ("3x4", "6x2", "12x1", "single")
DEFAULT_SPEED_MM_S = 25.0  # what the digitizer assumes without calibration pulses
DEFAULT_GAIN_MM_MV = 10.0
RICH_OVERLAP = (0.6, 1.0)  # the overlap knob of the overlap-rich half of the rendered pages
DEGRADE_P = 0.3  # each degradation's probability on a degraded page
SCALE_TOLERANCE = 0.05  # a grid pitch further than this from the truth's is a wrong scale

# The ECGtizer page (see :mod:`ecgtrace.evaluate_ecgtizer`).
ECGTIZER_LAYOUT = "3x4+II"
ECGTIZER_SPEED_MM_S = 25.0
ECGTIZER_GAIN_MM_MV = 10.0
ECGTIZER_ROW_PITCH_MM = 40.0
ECGTIZER_COLUMN_S = 2.5
ECGTIZER_STRIP_S = 10.0


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

    Per lead, (12,) in :data:`~ecgtrace.types.LEAD_NAMES` order: ``plotted`` whether the page
    shows the lead; ``overlap`` whether one of its drawings meets another row's trace (from the
    truth); ``snr`` the Challenge SNR (dB; NaN where not plotted, or where the SNR is undefined:
    a perfect lead, a flat reference); ``r`` Pearson's r and ``mse`` (mV^2) after the Challenge
    alignment (NaN where not plotted). ``seconds`` is the wall time of
    :func:`~ecgtrace.pipeline.digitize_image`, ``times`` its stages (None when it failed),
    ``error`` the :class:`~ecgtrace.pipeline.DigitizeError` message (None when it worked).
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

    @property
    def base_layout(self) -> str:
        """The true layout without its rhythm strips: ``3x4``, ``6x2``, ``12x1`` or ``single``."""
        return self.layout.split("+")[0]

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
        return _nanmean(self.snr[self.plotted])

    @property
    def r_mean(self) -> float:
        return _nanmean(self.r[self.plotted])

    @property
    def mse_mean(self) -> float:
        return _nanmean(self.mse[self.plotted])


def _nanmean(values: NDArray[np.float64] | Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def score_leads(
    reference: NDArray[np.float64], estimate: NDArray[np.float64] | None, *, fs: float = FS
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per-lead (SNR dB, Pearson r, MSE mV^2), each (12,), of an estimate against a reference.

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
    return snr, r, err


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
        found = digitize_image(image, source=name, fs=fs, method=method)
        error = None
    except DigitizeError as exc:
        found, error = None, str(exc)
        log.info("%s: %s", name, error)
    seconds = time.perf_counter() - t0
    snr, r, err = score_leads(ref, None if found is None else found.p_signal, fs=fs)
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
        snr=snr,
        r=r,
        mse=err,
        seconds=seconds,
        times=None if found is None else found.times,
        error=error,
        warnings=() if found is None else found.warnings,
    )


# ---- ECGtizer PDFs -----------------------------------------------------------------------------


def ecgtizer_reference(p_signal: NDArray[np.float64], fs: float = FS) -> NDArray[np.float64]:
    """What an ECGtizer page plots of a record: (n, 12) mV over its first 10 s, NaN elsewhere.

    The lead in 3x4 column ``k`` is kept on ``[2.5 k, 2.5 k + 2.5)`` s; lead II over the whole
    10 s (the rhythm strip, which also covers its 3x4 cell).
    """
    from ecgtrace.evaluate_ecgtizer import LAYOUT_3X4, RHYTHM_LEAD

    n = min(round(ECGTIZER_STRIP_S * fs), p_signal.shape[0])
    col = round(ECGTIZER_COLUMN_S * fs)
    ref = np.full((n, len(LEAD_NAMES)), np.nan)
    for row in LAYOUT_3X4:
        for k, lead in enumerate(row):
            j = LEAD_NAMES.index(lead)
            ref[k * col : min((k + 1) * col, n), j] = p_signal[k * col : min((k + 1) * col, n), j]
    j = LEAD_NAMES.index(RHYTHM_LEAD)
    ref[:, j] = p_signal[:n, j]
    return ref


def ecgtizer_overlap(p_signal: NDArray[np.float64], fs: float = FS) -> NDArray[np.bool_]:
    """(12,) bool: whether a lead of an ECGtizer page meets another row's trace.

    As :func:`ecgtrace.evaluate_ecgtizer.page_crops` decides it, from the record alone (rows
    40 mm apart, 10 mm/mV; the 0.5 mm column shift ignored): another row's trace comes within
    half a row pitch (2 mV) of the lead's baseline over the lead's time span.
    """
    from ecgtrace.evaluate_ecgtizer import LAYOUT_3X4, RHYTHM_LEAD

    n = min(round(ECGTIZER_STRIP_S * fs), p_signal.shape[0])
    col = round(ECGTIZER_COLUMN_S * fs)
    k_of = np.minimum(np.arange(n) // col, len(LAYOUT_3X4[0]) - 1)
    rows = [p_signal[np.arange(n), [LEAD_NAMES.index(row[k]) for k in k_of]] for row in LAYOUT_3X4]
    rows.append(p_signal[:n, LEAD_NAMES.index(RHYTHM_LEAD)])
    pitch_mv = ECGTIZER_ROW_PITCH_MM / ECGTIZER_GAIN_MM_MV
    flags = np.zeros(len(LEAD_NAMES), dtype=bool)
    boxes = [(r, k, lead) for r, row in enumerate(LAYOUT_3X4) for k, lead in enumerate(row)]
    boxes.append((len(LAYOUT_3X4), -1, RHYTHM_LEAD))
    for r, k, lead in boxes:
        span = slice(0, n) if k < 0 else slice(k * col, min((k + 1) * col, n))
        for j, values in enumerate(rows):
            if j == r:
                continue
            # Row j's trace lies (j - r) pitches below this row's baseline, less its voltage.
            gap = np.abs((j - r) * pitch_mv - values[span])
            if np.any(gap < pitch_mv / 2):
                flags[LEAD_NAMES.index(lead)] = True
                break
    return flags


def ecgtizer_pages(
    *,
    dpi: float,
    ids: Sequence[int] | None = None,
    method: str = "unet+ink",
    fs: float = FS,
) -> Iterator[PageResult]:
    """Digitize and score the first page of each ECGtizer PDF (sorted ids; only ``ids`` if
    given), rasterised at ``dpi``. Layout right means ``3x4+II`` found; the overlap flags come
    from the record (:func:`ecgtizer_overlap`). Raises :class:`ValueError` for an id without a
    PDF.
    """
    from ecgtrace.evaluate_ecgtizer import ecgtizer_ids, ecgtizer_path
    from ecgtrace.io.pdf import rasterize_pdf

    available = ecgtizer_ids()
    for ecg_id in available if ids is None else sorted(ids):
        path = ecgtizer_path(ecg_id)
        if ecg_id not in available:
            raise ValueError(f"{path}: no such ECGtizer PDF")
        image = rasterize_pdf(path, dpi=dpi, pages=1)[0]
        record = load_record(ecg_id, fs=500)
        signal = _resample(record.p_signal, record.fs, fs)
        yield score_page(
            image,
            ecgtizer_reference(signal, fs),
            source="ecgtizer",
            name=path.name,
            ecg_id=ecg_id,
            method=method,
            dpi=dpi,
            layout=ECGTIZER_LAYOUT,
            speed_mm_s=ECGTIZER_SPEED_MM_S,
            gain_mm_mv=ECGTIZER_GAIN_MM_MV,
            calibration="left",
            grid="solid",
            px_per_mm=dpi / 25.4,
            overlap=ecgtizer_overlap(signal, fs),
            fs=fs,
        )


def _resample(p_signal: NDArray[np.float64], fs_in: float, fs_out: float) -> NDArray[np.float64]:
    """The (n, leads) record at ``fs_out`` Hz (linear interpolation; as is when equal)."""
    if fs_in == fs_out:
        return p_signal
    n_out = round(p_signal.shape[0] * fs_out / fs_in)
    t_in = np.arange(p_signal.shape[0]) / fs_in
    t_out = np.arange(n_out) / fs_out
    return np.stack([np.interp(t_out, t_in, p_signal[:, j]) for j in range(p_signal.shape[1])], 1)


# ---- rendered pages ----------------------------------------------------------------------------


def spec_layout_name(spec: PageSpec) -> str:
    """The :attr:`ecgtrace.layout.Layout.name` of the layout ``spec`` draws: ``3x4+II,V1``
    (rhythm strips top to bottom), ``6x2``, ``12x1``, ``single``."""
    if spec.layout in ("12x1", "single") or not spec.rhythm_leads:
        return spec.layout
    return f"{spec.layout}+{','.join(spec.rhythm_leads)}"


@functools.cache
def fold10_ids_500() -> tuple[int, ...]:
    """The fold-10 (test split) ecg ids present at 500 Hz, ascending."""
    return tuple(i for i in split_ids("test") if 500 in available_fs(i))


@dataclass(frozen=True, eq=False)
class RenderedCase:
    """Rendered page ``index`` of ``seed``: the record drawn, the page and its degradations."""

    seed: int
    index: int
    ecg_id: int
    page: Rendered
    degradations: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"seed {self.seed} page {self.index}"


def rendered_case(
    seed: int,
    index: int,
    *,
    dpi: tuple[float, float] = (100.0, 300.0),
    overlap_share: float = 0.5,
    degrade_share: float = 0.5,
) -> RenderedCase:
    """Draw rendered page ``index`` of ``seed``, from ``default_rng([seed, index])`` alone.

    A fold-10 record at 500 Hz; a :func:`~ecgtrace.render.random_spec` page (any layout, style,
    speed, gain, DPI in ``dpi``). With probability ``overlap_share`` the page is overlap-rich:
    its overlap knob is drawn from U(0.6, 1.0) (rows squeezed to 64-40 % of their spacing, so
    large complexes cross into the neighbouring rows); otherwise ``random_spec`` draws it from
    U(0, 1). With probability ``degrade_share`` the page is degraded: each degradation of
    :data:`~ecgtrace.render.degrade.DEGRADATIONS`, page-level rotate, perspective and curl
    included, with probability 0.3 at a random strength (redrawn until at least one applies);
    otherwise it is clean. Nothing depends on the method, so every method sees the same page.
    """
    ids = fold10_ids_500()
    if not ids:
        raise ValueError("no fold-10 record at 500 Hz in the shared data")
    rng = np.random.default_rng([seed, index])
    ecg_id = ids[int(rng.integers(len(ids)))]
    rich = rng.random() < overlap_share
    overlap = float(rng.uniform(*RICH_OVERLAP)) if rich else None
    spec = random_spec(rng, overlap=overlap, dpi=dpi)
    record = load_record(ecg_id, fs=500)
    page = render_page(record.p_signal, record.fs, spec, rng=rng)
    applied: tuple[str, ...] = ()
    if rng.random() < degrade_share:
        while not applied:
            degraded, applied = random_degradations(page, rng=rng, p=DEGRADE_P)
        page = degraded
    return RenderedCase(seed=seed, index=index, ecg_id=ecg_id, page=page, degradations=applied)


def rendered_cases(
    *,
    n: int,
    seed: int,
    dpi: tuple[float, float] = (100.0, 300.0),
    overlap_share: float = 0.5,
    degrade_share: float = 0.5,
) -> Iterator[RenderedCase]:
    """Rendered pages ``0 .. n - 1`` of ``seed``, each as :func:`rendered_case` draws it alone."""
    for k in range(n):
        yield rendered_case(
            seed, k, dpi=dpi, overlap_share=overlap_share, degrade_share=degrade_share
        )


def score_rendered(
    page: Rendered,
    *,
    name: str,
    ecg_id: int,
    method: str = "unet+ink",
    degradations: tuple[str, ...] = (),
    fs: float = FS,
) -> PageResult:
    """Digitize and score one rendered page against its truth (``signal_plotted``, resampled to
    ``fs`` if the page was drawn at another rate)."""
    truth = page.truth
    spec = truth.spec
    overlap = np.zeros(len(LEAD_NAMES), dtype=bool)
    for seg in truth.segments:
        overlap[LEAD_NAMES.index(seg.lead)] |= seg.overlap
    reference = _resample(truth.signal_plotted, truth.fs, fs)
    return score_page(
        page.image,
        reference,
        source="rendered",
        name=name,
        ecg_id=ecg_id,
        method=method,
        dpi=spec.dpi,
        layout=spec_layout_name(spec),
        lead_order=spec.lead_order,
        speed_mm_s=spec.speed_mm_s,
        gain_mm_mv=spec.gain_mm_mv,
        calibration=spec.calibration,
        grid=spec.grid.style,
        px_per_mm=0.5 * (truth.px_per_mm_row + truth.px_per_mm_col),
        overlap=overlap,
        degradations=degradations,
        fs=fs,
    )


def rendered_pages(
    *,
    n: int,
    seed: int,
    method: str = "unet+ink",
    dpi: tuple[float, float] = (100.0, 300.0),
    overlap_share: float = 0.5,
    degrade_share: float = 0.5,
    fs: float = FS,
) -> Iterator[PageResult]:
    """Digitize and score rendered pages ``0 .. n - 1`` of ``seed`` (see :func:`rendered_case`)."""
    cases = rendered_cases(
        n=n, seed=seed, dpi=dpi, overlap_share=overlap_share, degrade_share=degrade_share
    )
    for case in cases:
        yield score_rendered(
            case.page,
            name=case.name,
            ecg_id=case.ecg_id,
            method=method,
            degradations=case.degradations,
            fs=fs,
        )


# ---- summaries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRow:
    """Means over a subset of pages (or of leads) for one source and method.

    ``n`` pages and ``n_leads`` plotted (page, lead) pairs in the subset; ``snr`` (dB), ``r``
    and ``mse`` (mV^2) are means over those pairs (NaN SNRs dropped); ``layout_acc`` the share
    of the pages whose layout was found right; ``errors`` the pages that failed; ``seconds`` and
    ``p90_seconds`` the mean and 90th percentile of the digitization time per page (s).
    """

    source: str
    method: str
    subset: str
    n: int
    n_leads: int
    snr: float
    r: float
    mse: float
    layout_acc: float
    errors: int
    seconds: float
    p90_seconds: float


Pick = Callable[[PageResult], NDArray[np.bool_] | bool]


def _subsets(results: Sequence[PageResult]) -> list[tuple[str, Pick]]:
    """The subsets with at least one member, in table order."""
    out: list[tuple[str, Pick]] = [
        ("all", lambda p: True),
        ("clean", lambda p: not p.degradations),
        ("degraded", lambda p: bool(p.degradations)),
    ]
    out += [(base, _layout_is(base)) for base in BASE_LAYOUTS]
    out += [(name, _degraded_by(name)) for name in DEGRADATIONS]
    out += [
        ("overlap leads", lambda p: p.overlap),
        ("no-overlap leads", lambda p: ~p.overlap),
        ("layout wrong", lambda p: not p.layout_ok),
        ("no grid", lambda p: p.grid == "none"),
        ("scale wrong", lambda p: p.error is None and not p.scale_ok),
        ("calibration wrong", lambda p: p.error is None and not p.calibration_ok),
        ("calibration unknowable", lambda p: not p.calibration_knowable),
        ("failed", lambda p: p.error is not None),
    ]
    return [(name, pick) for name, pick in out if any(_leads(pick, p).any() for p in results)]


def _layout_is(base: str) -> Pick:
    return lambda p: p.base_layout == base


def _degraded_by(name: str) -> Pick:
    return lambda p: name in p.degradations


def _leads(pick: Pick, page: PageResult) -> NDArray[np.bool_]:
    """(12,) bool: the plotted leads of ``page`` that the subset holds."""
    return page.plotted & np.asarray(pick(page), dtype=bool)


def _row(source: str, method: str, subset: str, pick: Pick, pages: Sequence[PageResult]) -> PageRow:
    chosen = [(p, _leads(pick, p)) for p in pages]
    chosen = [(p, m) for p, m in chosen if m.any()]
    sel = [p for p, _ in chosen]
    seconds = [p.seconds for p in sel]
    return PageRow(
        source=source,
        method=method,
        subset=subset,
        n=len(sel),
        n_leads=int(sum(int(m.sum()) for _, m in chosen)),
        snr=_nanmean(np.concatenate([p.snr[m] for p, m in chosen])),
        r=_nanmean(np.concatenate([p.r[m] for p, m in chosen])),
        mse=_nanmean(np.concatenate([p.mse[m] for p, m in chosen])),
        layout_acc=float(np.mean([p.layout_ok for p in sel])),
        errors=sum(p.error is not None for p in sel),
        seconds=float(np.mean(seconds)),
        p90_seconds=float(np.percentile(seconds, 90)),
    )


def summarise_pages(results: Iterable[PageResult]) -> list[PageRow]:
    """Rows per source and method: ``all``, ``clean``, ``degraded``; each true base layout;
    each degradation (the pages having it); ``overlap leads`` / ``no-overlap leads`` (the leads
    flagged or not, pages counted once per subset); ``layout wrong``; ``calibration wrong``
    (speed or gain used not the true one); ``calibration unknowable`` (no pulses and not 25 mm/s,
    10 mm/mV); ``failed``. Empty subsets are left out."""
    results = list(results)
    rows = []
    groups = dict.fromkeys((p.source, p.method) for p in results)
    for source, method in groups:
        pages = [p for p in results if p.source == source and p.method == method]
        for subset, pick in _subsets(pages):
            rows.append(_row(source, method, subset, pick, pages))
    return rows


def pages_markdown(rows: Sequence[PageRow]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| source | method | subset | n | leads | MSE (mV^2) | Pearson r | SNR (dB) | layout ok "
        "| s per page | p90 s | failed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.source} | {r.method} | {r.subset} | {r.n} | {r.n_leads} | {r.mse:.4f} | "
            f"{r.r:.3f} | {r.snr:.2f} | {100 * r.layout_acc:.0f} % | {r.seconds:.2f} | "
            f"{r.p90_seconds:.2f} | {r.errors} |"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class StageRow:
    """Mean wall time (s) of one pipeline stage over the ``n`` pages that were digitized."""

    source: str
    method: str
    stage: str
    n: int
    mean_s: float
    p90_s: float


def stage_times_rows(results: Iterable[PageResult]) -> list[StageRow]:
    """Per source and method, the mean and p90 time of each stage of
    :class:`~ecgtrace.pipeline.StageTimes` (pages that failed have none and are left out)."""
    results = list(results)
    rows = []
    for source, method in dict.fromkeys((p.source, p.method) for p in results):
        times = [
            p.times
            for p in results
            if p.source == source and p.method == method and p.times is not None
        ]
        if not times:
            continue
        for f in fields(StageTimes):
            values = [getattr(t, f.name) for t in times]
            rows.append(
                StageRow(
                    source=source,
                    method=method,
                    stage=f.name.removesuffix("_s"),
                    n=len(values),
                    mean_s=float(np.mean(values)),
                    p90_s=float(np.percentile(values, 90)),
                )
            )
    return rows


def _num(value: float | None) -> float | None:
    """A float for JSON: None for None and NaN."""
    return None if value is None or np.isnan(value) else float(value)


def _lead_map(values: NDArray[np.float64], plotted: NDArray[np.bool_]) -> dict[str, float | None]:
    return {
        lead: _num(float(v)) for lead, v, ok in zip(LEAD_NAMES, values, plotted, strict=True) if ok
    }


def page_record(p: PageResult) -> dict[str, Any]:
    """One page as a JSON-ready dict (NaN as None; per-lead scores of the plotted leads)."""
    return {
        "source": p.source,
        "name": p.name,
        "ecg_id": p.ecg_id,
        "method": p.method,
        "dpi": p.dpi,
        "layout": p.layout,
        "found_layout": p.found_layout,
        "layout_ok": p.layout_ok,
        "lead_order": p.lead_order,
        "found_lead_order": p.found_lead_order,
        "speed_mm_s": p.speed_mm_s,
        "gain_mm_mv": p.gain_mm_mv,
        "calibration": p.calibration,
        "found_speed_mm_s": p.found_speed_mm_s,
        "found_gain_mm_mv": p.found_gain_mm_mv,
        "grid": p.grid,
        "px_per_mm": p.px_per_mm,
        "found_px_per_mm": p.found_px_per_mm,
        "degradations": list(p.degradations),
        "snr_mean": _num(p.snr_mean),
        "r_mean": _num(p.r_mean),
        "mse_mean": _num(p.mse_mean),
        "snr": _lead_map(p.snr, p.plotted),
        "r": _lead_map(p.r, p.plotted),
        "mse": _lead_map(p.mse, p.plotted),
        "overlap": [lead for lead, o in zip(LEAD_NAMES, p.overlap, strict=True) if o],
        "seconds": p.seconds,
        "times": None if p.times is None else asdict(p.times),
        "error": p.error,
        "warnings": list(p.warnings),
    }


def _row_record(row: PageRow) -> dict[str, Any]:
    return {k: _num(v) if isinstance(v, float) else v for k, v in asdict(row).items()}


def pages_json(results: Iterable[PageResult], rows: Sequence[PageRow]) -> dict[str, Any]:
    """The summary rows, the stage times and every page, JSON-ready (NaN as None)."""
    results = list(results)
    return {
        "rows": [_row_record(r) for r in rows],
        "stages": [asdict(r) for r in stage_times_rows(results)],
        "pages": [page_record(p) for p in results],
    }
