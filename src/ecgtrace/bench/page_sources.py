"""The two sources of the page benchmark (see :mod:`ecgtrace.bench.pages`): the ECGtizer PDFs
and pages rendered from fold-10 records, each scored by :func:`~ecgtrace.bench.pages.score_page`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace.bench import ecgtizer as ez
from ecgtrace.bench.pages import FS, PageResult, resample, score_page
from ecgtrace.data import Split, available_fs, load_record, split_ids
from ecgtrace.leads import LEAD_NAMES, layout_name
from ecgtrace.render import Rendered, random_spec, render_page
from ecgtrace.render.degrade import random_degradations
from ecgtrace.render.photo import STYLES

RICH_OVERLAP = (0.6, 1.0)  # the overlap knob of the overlap-rich half of the rendered pages
DEGRADE_P = 0.3  # each degradation's probability on a degraded page
PAGE_STYLES = ("mixed", "clean", "photo", "scan")


# ---- ECGtizer PDFs -----------------------------------------------------------------------------


def ecgtizer_reference(p_signal: NDArray[np.float64], fs: float = FS) -> NDArray[np.float64]:
    """What an ECGtizer page plots of a record: (n, 12) mV over its first 10 s, NaN elsewhere.

    The lead in 3x4 column ``k`` is kept on ``[2.5 k, 2.5 k + 2.5)`` s; lead II over the whole
    10 s (the rhythm strip, which also covers its 3x4 cell).
    """
    n = min(round(ez.STRIP_S * fs), p_signal.shape[0])
    ref = np.full((n, len(LEAD_NAMES)), np.nan)
    for cell in ez.page_cells(n, fs):
        j = LEAD_NAMES.index(cell.lead)
        ref[cell.first : cell.end, j] = p_signal[cell.first : cell.end, j]
    return ref


def ecgtizer_overlap(p_signal: NDArray[np.float64], fs: float = FS) -> NDArray[np.bool_]:
    """(12,) bool: whether a lead of an ECGtizer page meets another row's trace.

    As :func:`ecgtrace.bench.ecgtizer_crops.page_crops` decides it, from the record alone (rows
    40 mm apart, 10 mm/mV; the 0.5 mm column shift ignored): another row's trace comes within
    half a row pitch (2 mV) of the lead's baseline over the lead's time span.
    """
    n = min(round(ez.STRIP_S * fs), p_signal.shape[0])
    col = round(ez.COLUMN_S * fs)
    k_of = np.minimum(np.arange(n) // col, len(ez.MAIN_ROWS[0]) - 1)
    rows = [
        p_signal[np.arange(n), [LEAD_NAMES.index(row[k]) for k in k_of]] for row in ez.MAIN_ROWS
    ]
    rows.append(p_signal[:n, LEAD_NAMES.index(ez.RHYTHM_LEAD)])
    pitch_mv = ez.ROW_PITCH_MM / ez.GAIN_MM_MV
    flags = np.zeros(len(LEAD_NAMES), dtype=bool)
    for cell in ez.page_cells(n, fs):
        for j, values in enumerate(rows):
            if j == cell.row:
                continue
            # Row j's trace lies (j - r) pitches below this row's baseline, less its voltage.
            gap = np.abs((j - cell.row) * pitch_mv - values[cell.first : cell.end])
            if np.any(gap < pitch_mv / 2):
                flags[LEAD_NAMES.index(cell.lead)] = True
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
    from ecgtrace.io.pdf import rasterize_pdf

    available = ez.ecgtizer_ids()
    for ecg_id in available if ids is None else sorted(ids):
        path = ez.ecgtizer_path(ecg_id)
        if ecg_id not in available:
            raise ValueError(f"{path}: no such ECGtizer PDF")
        image = rasterize_pdf(path, dpi=dpi, pages=1)[0]
        record = load_record(ecg_id, fs=500)
        signal = resample(record.p_signal, record.fs, fs)
        yield score_page(
            image,
            ecgtizer_reference(signal, fs),
            source="ecgtizer",
            name=path.name,
            ecg_id=ecg_id,
            method=method,
            dpi=dpi,
            layout=ez.LAYOUT,
            speed_mm_s=ez.SPEED_MM_S,
            gain_mm_mv=ez.GAIN_MM_MV,
            calibration="left",
            grid="solid",
            px_per_mm=dpi / 25.4,
            overlap=ecgtizer_overlap(signal, fs),
            fs=fs,
        )


# ---- rendered pages ----------------------------------------------------------------------------


@functools.cache
def ids_500(split: Split = "test") -> tuple[int, ...]:
    """The ecg ids of ``split`` present at 500 Hz, ascending (fold 10 by default)."""
    return tuple(i for i in split_ids(split) if 500 in available_fs(i))


def fold10_ids_500() -> tuple[int, ...]:
    """The fold-10 (test split) ecg ids present at 500 Hz, ascending."""
    return ids_500("test")


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
    style: str = "mixed",
    split: Split = "test",
) -> RenderedCase:
    """Draw rendered page ``index`` of ``seed``, from ``default_rng([seed, index])`` alone.

    A fold-10 record at 500 Hz; a :func:`~ecgtrace.render.random_spec` page (any layout, style,
    speed, gain, DPI in ``dpi``). With probability ``overlap_share`` the page is overlap-rich:
    its overlap knob is drawn from U(0.6, 1.0) (rows squeezed to 64-40 % of their spacing, so
    large complexes cross into the neighbouring rows); otherwise ``random_spec`` draws it from
    U(0, 1). With probability ``degrade_share`` the page is degraded: each degradation of
    :data:`~ecgtrace.render.degrade.DEGRADATIONS`, page-level rotate, perspective and curl
    included, with probability 0.3 at a random strength (redrawn until at least one applies);
    otherwise it is clean. ``style`` ``photo`` or ``scan`` replaces those degradations by
    :func:`~ecgtrace.render.photo.photo_style` (the printed page photographed on a desk) or
    :func:`~ecgtrace.render.photo.scan_style` (an office scan); ``clean`` draws none. Nothing
    depends on the method, so every method sees the same page. ``split`` ``validation`` (fold
    9) draws the records to tune on; the benchmark's fold 10 is only ever measured.
    """
    if style not in PAGE_STYLES:
        raise ValueError(f"unknown page style {style!r}; choose from {', '.join(PAGE_STYLES)}")
    ids = ids_500(split)
    if not ids:
        raise ValueError(f"no {split}-split record at 500 Hz in the shared data")
    rng = np.random.default_rng([seed, index])
    ecg_id = ids[int(rng.integers(len(ids)))]
    rich = rng.random() < overlap_share
    overlap = float(rng.uniform(*RICH_OVERLAP)) if rich else None
    spec = random_spec(rng, overlap=overlap, dpi=dpi)
    record = load_record(ecg_id, fs=500)
    page = render_page(record.p_signal, record.fs, spec, rng=rng)
    applied: tuple[str, ...] = ()
    if style in STYLES:
        page, applied = STYLES[style](page, rng=rng)
    elif style == "mixed" and rng.random() < degrade_share:
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
    style: str = "mixed",
) -> Iterator[RenderedCase]:
    """Rendered pages ``0 .. n - 1`` of ``seed``, each as :func:`rendered_case` draws it alone."""
    for k in range(n):
        yield rendered_case(
            seed, k, dpi=dpi, overlap_share=overlap_share, degrade_share=degrade_share,
            style=style,
        )  # fmt: skip


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
    reference = resample(truth.signal_plotted, truth.fs, fs)
    return score_page(
        page.image,
        reference,
        source="rendered",
        name=name,
        ecg_id=ecg_id,
        method=method,
        dpi=spec.dpi,
        layout=layout_name(spec.layout, spec.rhythm_leads),
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
    style: str = "mixed",
    fs: float = FS,
) -> Iterator[PageResult]:
    """Digitize and score rendered pages ``0 .. n - 1`` of ``seed`` (see :func:`rendered_case`)."""
    cases = rendered_cases(
        n=n, seed=seed, dpi=dpi, overlap_share=overlap_share, degrade_share=degrade_share,
        style=style,
    )  # fmt: skip
    for case in cases:
        yield score_rendered(
            case.page,
            name=case.name,
            ecg_id=case.ecg_id,
            method=method,
            degradations=case.degradations,
            fs=fs,
        )
