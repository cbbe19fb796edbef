"""Benchmarks: they measure, return rows, and leave printing to the CLI."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.data import Split, example_record, load_record, split_ids
from ecgtrace.extract import LeadGeometry, extract_lead
from ecgtrace.metrics import (
    Counts,
    challenge_align,
    challenge_snr,
    confusion,
    iou,
    mse,
    pearson_r,
)
from ecgtrace.render import GridStyle, PageSpec, render_page
from ecgtrace.render.crops import Crop, crop_segment, iter_crops
from ecgtrace.segment import refine_with_ink, segment_classical


@dataclass(frozen=True)
class SpeedRow:
    """Wall time of one rendering case over ``n`` runs, ms."""

    case: str
    dpi: float
    shape: tuple[int, int]
    n: int
    median_ms: float
    p90_ms: float
    min_ms: float


RENDER_CASES: tuple[tuple[str, PageSpec], ...] = (
    ("3x4+II clean", PageSpec()),
    ("3x4 no rhythm", PageSpec(rhythm_leads=())),
    ("6x2+II", PageSpec(layout="6x2")),
    ("12x1", PageSpec(layout="12x1", rhythm_leads=())),
    ("3x4+3 dotted", PageSpec(rhythm_leads=("II", "V1", "V5"), grid=GridStyle(style="dotted"))),
)


def render_speed(
    *, n: int = 10, dpis: tuple[float, ...] = (200.0,), warmup: int = 1
) -> list[SpeedRow]:
    """Time :func:`render_page` on the bundled example record for each case and DPI."""
    rec = example_record()
    rows = []
    for dpi in dpis:
        for name, base in RENDER_CASES:
            spec = replace(base, dpi=dpi)
            times = []
            for i in range(warmup + n):
                t0 = time.perf_counter()
                page = render_page(rec.p_signal, rec.fs, spec, rng=i)
                if i >= warmup:
                    times.append((time.perf_counter() - t0) * 1000)
            rows.append(
                SpeedRow(
                    case=name,
                    dpi=dpi,
                    shape=page.truth.shape,
                    n=n,
                    median_ms=statistics.median(times),
                    p90_ms=float(np.percentile(times, 90)),
                    min_ms=min(times),
                )
            )
    return rows


@dataclass(frozen=True)
class UNetSpeed:
    """U-Net inference time on one lead crop (resize, network, resize back), ms, one thread."""

    lead: str
    dpi: float
    duration_s: float
    crop_shape: tuple[int, int]
    input_shape: tuple[int, int]
    n: int
    median_ms: float
    p90_ms: float
    min_ms: float


def unet_speed(
    *, n: int = 20, dpi: float = 200.0, leads: tuple[int, ...] = (0, 12), warmup: int = 2
) -> list[UNetSpeed]:
    """Time :func:`~ecgtrace.segment.unet.segment_unet` on crops of a clean 3x4+II page.

    Segment 0 is lead I (2.5 s), segment 12 the 10 s lead II rhythm strip.
    """
    from ecgtrace.segment.unet import default_model, segment_unet

    rec = example_record()
    page = render_page(rec.p_signal, rec.fs, PageSpec(dpi=dpi), rng=0)
    model = default_model()
    rows = []
    for k in leads:
        crop = crop_segment(page, k, whole_trace=True)
        times = []
        for i in range(warmup + n):
            t0 = time.perf_counter()
            segment_unet(
                crop.image,
                px_per_mm_row=crop.px_per_mm_row,
                px_per_mm_col=crop.px_per_mm_col,
                model=model,
            )
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000)
        prep = model.prep
        rows.append(
            UNetSpeed(
                lead=crop.lead,
                dpi=dpi,
                duration_s=crop.times_s.size / rec.fs,
                crop_shape=(crop.image.shape[0], crop.image.shape[1]),
                input_shape=(
                    round(crop.image.shape[0] * prep.px_per_mm / crop.px_per_mm_row),
                    round(crop.image.shape[1] * prep.px_per_mm / crop.px_per_mm_col),
                ),
                n=n,
                median_ms=statistics.median(times),
                p90_ms=float(np.percentile(times, 90)),
                min_ms=min(times),
            )
        )
    return rows


# ---- single-lead crops ------------------------------------------------------------------------

Segmenter = Callable[[Crop], NDArray[np.float32]]

# Crop-level evaluation starts after the page has been deskewed: turning and warping the page
# is scored by the page benchmark, not here.
PAGE_LEVEL_DEGRADATIONS = frozenset({"rotate", "perspective", "curl"})


def _true_mask(crop: Crop) -> NDArray[np.float32]:
    return crop.mask.astype(np.float32)


def _classical(crop: Crop) -> NDArray[np.float32]:
    return segment_classical(crop.image, px_per_mm=crop.px_per_mm_row)


def _unet(crop: Crop) -> NDArray[np.float32]:
    from ecgtrace.segment.unet import segment_unet

    return segment_unet(
        crop.image, px_per_mm_row=crop.px_per_mm_row, px_per_mm_col=crop.px_per_mm_col
    )


def _unet_ink(crop: Crop) -> NDArray[np.float32]:
    return refine_with_ink(_unet(crop), _classical(crop))


def _working_target(crop: Crop) -> NDArray[np.float32]:
    """The U-Net's training target (the true mask at its working resolution), resized back:
    what a perfect U-Net would output, so the ceiling its resolution sets on IoU and SNR."""
    from ecgtrace.segment.unet import DEFAULT_PREP, resize_to_mm

    kw = {"px_per_mm_row": crop.px_per_mm_row, "px_per_mm_col": crop.px_per_mm_col}
    small = resize_to_mm(crop.mask.astype(np.float32), px_per_mm=DEFAULT_PREP.px_per_mm, **kw)
    target = np.clip(small * 2.0, 0.0, 1.0).astype(np.float32)
    rows, cols = crop.mask.shape
    return np.asarray(cv2.resize(target, (cols, rows), interpolation=cv2.INTER_LINEAR))


SEGMENTERS: dict[str, Segmenter] = {
    "true mask": _true_mask,
    "classical": _classical,
    "unet": _unet,
    "unet+ink": _unet_ink,
    "unet target": _working_target,
}


@dataclass(frozen=True)
class CropResult:
    """One crop scored for one method: pixel counts, signal errors (mV, mV^2, dB), time (ms)."""

    method: str
    lead: str
    overlap: bool
    degradations: tuple[str, ...]
    counts: Counts | None
    mse: float
    r: float
    snr: float
    ms: float


@dataclass(frozen=True)
class CropRow:
    """Means over a subset of crops for one method."""

    method: str
    subset: str
    n: int
    iou: float
    mse: float
    r: float
    snr: float
    ms: float

    @property
    def iou_text(self) -> str:
        """IoU to 3 decimals, or n/a where the crops had no pixel truth."""
        return "n/a" if np.isnan(self.iou) else f"{self.iou:.3f}"


def crop_geometry(crop: Crop, fs: float) -> LeadGeometry:
    """The crop's paper geometry from its truth: px/mm, speed, gain and where its time starts.

    The baseline is left to the extractor (estimated from the trace), as on a real page.
    """
    return LeadGeometry(
        px_per_mm_row=crop.px_per_mm_row,
        px_per_mm_col=crop.px_per_mm_col,
        t0_s=float(crop.times_s[0]),
        col0=float(crop.polyline[0, 1]),
        duration_s=crop.times_s.size / fs,
        speed_mm_s=crop.speed_mm_s,
        gain_mm_mv=crop.gain_mm_mv,
    )


def lead_columns(geometry: LeadGeometry, cols: int) -> slice:
    """The crop columns (px) the lead's time span covers, as a layout's lead box gives them."""
    c0 = int(np.floor(geometry.col0))
    span = geometry.duration_s * geometry.speed_mm_s * geometry.px_per_mm_col
    return slice(max(0, c0), min(cols, int(np.ceil(geometry.col0 + span)) + 1))


def score_crop(crop: Crop, method: str, segmenter: Segmenter, *, fs: float) -> CropResult:
    """Segment and extract one crop, and score it against its truth.

    Every method sees the lead's box: its probability is kept only in the lead's own columns
    (the margins hold the row's next lead, which continues the same line). IoU needs pixel
    truth; crops without it (``mask_known`` False) score signals only.
    """
    geometry = crop_geometry(crop, fs)
    t0 = time.perf_counter()
    rows, cols = crop.image.shape[:2]
    prob = np.zeros((rows, cols), dtype=np.float32)
    keep = lead_columns(geometry, cols)
    prob[:, keep] = segmenter(crop)[:, keep]
    sig = extract_lead(prob, geometry, fs=fs)
    ms = (time.perf_counter() - t0) * 1000
    ref = crop.signal_mv
    est = sig.mv[: ref.size]
    aligned = challenge_align(ref, est, fs=fs).aligned[: ref.size]
    return CropResult(
        method=method,
        lead=crop.lead,
        overlap=crop.overlap,
        degradations=crop.degradations,
        counts=confusion(prob >= 0.5, crop.mask) if crop.mask_known else None,
        mse=mse(ref, aligned),
        r=pearson_r(ref, aligned),
        snr=challenge_snr(ref, est, fs=fs),
        ms=ms,
    )


def _mean_iou(results: Sequence[CropResult]) -> float:
    values = [iou(r.counts) for r in results if r.counts is not None]
    return float(np.nanmean(values)) if values else float("nan")


def summarise_crops(results: Sequence[CropResult]) -> list[CropRow]:
    """Per method, means over the overlap, no-overlap and all subsets (IoU: mean per crop)."""
    rows = []
    for method in dict.fromkeys(r.method for r in results):
        for subset, keep in (("overlap", True), ("no overlap", False), ("all", None)):
            sel = [r for r in results if r.method == method and (keep is None or r.overlap == keep)]
            if not sel:
                continue
            rows.append(
                CropRow(
                    method=method,
                    subset=subset,
                    n=len(sel),
                    iou=_mean_iou(sel),
                    mse=float(np.nanmean([r.mse for r in sel])),
                    r=float(np.nanmean([r.r for r in sel])),
                    snr=float(np.nanmean([r.snr for r in sel])),
                    ms=float(np.mean([r.ms for r in sel])),
                )
            )
    return rows


def evaluate_crops(
    n: int,
    *,
    seed: int,
    split: Split = "test",
    methods: Sequence[str] = ("true mask", "classical", "unet", "unet+ink"),
    overlap_fraction: float = 0.5,
    dpi: tuple[float, float] = (100.0, 300.0),
    degrade: float = 1.0,
    max_records: int = 200,
    progress: Callable[[], None] | None = None,
) -> list[CropResult]:
    """Render ``n`` seeded single-lead crops from a PTB-XL split and score each method on them.

    Half overlap (``overlap_fraction``); DPI in the ``dpi`` range; degradations mixed up to
    ``degrade`` strength (0: clean), page-level geometric ones excluded. Each crop holds its
    lead's whole trace (however tall), so extraction is not judged on what a window cut off.
    ``progress`` is called once per crop.
    """
    unknown = [m for m in methods if m not in SEGMENTERS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {', '.join(SEGMENTERS)}")
    ids = split_ids(split)
    pick = np.random.default_rng(seed).permutation(len(ids))[:max_records]
    records = [load_record(ids[i], fs=500) for i in sorted(pick)]
    crops = iter_crops(
        [(r.p_signal, r.fs) for r in records],
        n,
        overlap_fraction=overlap_fraction,
        dpi=dpi,
        degrade=degrade,
        exclude=PAGE_LEVEL_DEGRADATIONS,
        whole_trace=True,
        rng=seed,
    )
    return score_crops(crops, methods=methods, fs=500.0, progress=progress)


def score_crops(
    crops: Iterable[Crop],
    *,
    methods: Sequence[str],
    fs: float,
    progress: Callable[[], None] | None = None,
) -> list[CropResult]:
    """Score each method on each crop (signals at ``fs`` Hz); ``progress`` once per crop."""
    unknown = [m for m in methods if m not in SEGMENTERS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {', '.join(SEGMENTERS)}")
    results = []
    for crop in crops:
        for method in methods:
            if method in ("true mask", "unet target") and not crop.mask_known:
                continue
            results.append(score_crop(crop, method, SEGMENTERS[method], fs=fs))
        if progress is not None:
            progress()
    return results


def crop_rows_markdown(rows: Sequence[CropRow]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| method | subset | n | IoU | MSE (mV^2) | Pearson r | SNR (dB) | ms per crop |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.method} | {r.subset} | {r.n} | {r.iou_text} | {r.mse:.4f} | {r.r:.3f} | "
            f"{r.snr:.2f} | {r.ms:.0f} |"
        )
    return "\n".join(lines) + "\n"
