"""The crop benchmark (``ecgtrace eval crops``): single-lead crops segmented and extracted by the
code the page pipeline ships, scored against their truth.

Each crop stands for one lead box of a deskewed page: its box and grid come from the crop's
truth (:func:`crop_box`, :func:`crop_grid`), and the segmenters run through
:func:`ecgtrace.segment.box.segment_box`, as the pipeline runs them, with its context margins
and white padding. Two oracles are scored beside them on the crop itself: ``true mask`` (the
lead's own pixels) and ``unet target`` (what a perfect U-Net would output at its working
resolution, the ceiling that resolution sets).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.bench.table import Table, columns, table
from ecgtrace.data import Split, load_record, split_ids
from ecgtrace.extract import LeadGeometry, extract_lead
from ecgtrace.grid import Grid
from ecgtrace.layout import LeadBox
from ecgtrace.metrics import Counts, challenge_align, challenge_snr, confusion, iou, mse, pearson_r
from ecgtrace.render.crops import Crop, iter_crops
from ecgtrace.render.truth import paste_slices
from ecgtrace.segment.box import CROP_MARGIN_MM, METHODS, segment_box
from ecgtrace.types import Box

ORACLES: tuple[str, ...] = ("true mask", "unet target")
CROP_METHODS: tuple[str, ...] = (*ORACLES, *METHODS)
DEFAULT_METHODS: tuple[str, ...] = ("true mask", "classical", "unet", "unet+ink")

# Crop-level evaluation starts after the page has been deskewed: turning and warping the page
# is scored by the page benchmark, not here.
PAGE_LEVEL_DEGRADATIONS = frozenset({"rotate", "perspective", "curl"})


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


# ---- a crop as a lead box ----------------------------------------------------------------------


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


def crop_box(crop: Crop, geometry: LeadGeometry) -> LeadBox:
    """The lead box a layout would give the crop's lead, in the crop's pixels.

    Cols: the lead's time span (``col0`` on). Rows: centred on the true baseline, the crop's
    rows less the context margin :func:`~ecgtrace.segment.box.segment_box` adds back, so that
    its window holds the crop's rows (more where it reaches further, padded white).
    """
    g = geometry
    baseline = float(np.nanmean(crop.zero_line[:, 0]))
    rows = crop.image.shape[0]
    reach = max(baseline, rows - 1 - baseline) - CROP_MARGIN_MM * g.px_per_mm_row
    span = g.duration_s * g.speed_mm_s * g.px_per_mm_col
    return LeadBox(
        lead=crop.lead,
        box=Box(top=baseline - reach, left=g.col0, bottom=baseline + reach, right=g.col0 + span),
        baseline_row=baseline,
        t0_s=g.t0_s,
        duration_s=g.duration_s,
        col0=g.col0,
        is_rhythm=False,  # not known to a crop, and not read by segment_box
        inverted=False,
        row_index=0,
        col_index=0,
    )


def crop_grid(crop: Crop) -> Grid:
    """The grid of the crop's page as its truth gives it (found, square to the crop)."""
    return Grid(
        px_per_mm_row=crop.px_per_mm_row,
        px_per_mm_col=crop.px_per_mm_col,
        rotation_deg=0.0,
        phase_row=math.nan,
        phase_col=math.nan,
        confidence=1.0,
        found=True,
    )


def lead_columns(geometry: LeadGeometry, cols: int) -> slice:
    """The crop columns (px) the lead's time span covers (where the oracles are kept)."""
    c0 = int(np.floor(geometry.col0))
    span = geometry.duration_s * geometry.speed_mm_s * geometry.px_per_mm_col
    return slice(max(0, c0), min(cols, int(np.ceil(geometry.col0 + span)) + 1))


def _working_target(crop: Crop) -> NDArray[np.float32]:
    """The U-Net's training target (the true mask at its working resolution), resized back:
    what a perfect U-Net would output, so the ceiling its resolution sets on IoU and SNR."""
    from ecgtrace.segment.unet import DEFAULT_PREP, resize_to_mm

    kw = {"px_per_mm_row": crop.px_per_mm_row, "px_per_mm_col": crop.px_per_mm_col}
    small = resize_to_mm(crop.mask.astype(np.float32), px_per_mm=DEFAULT_PREP.px_per_mm, **kw)
    target = np.clip(small * 2.0, 0.0, 1.0).astype(np.float32)
    rows, cols = crop.mask.shape
    return np.asarray(cv2.resize(target, (cols, rows), interpolation=cv2.INTER_LINEAR))


def segment_crop(crop: Crop, method: str, geometry: LeadGeometry) -> NDArray[np.float32]:
    """The trace probability (rows, cols) of the crop's lead in the crop's pixels, zero outside
    its box's cols: an oracle's, or what :func:`segment_box` gives the crop's lead box."""
    rows, cols = crop.image.shape[:2]
    prob = np.zeros((rows, cols), dtype=np.float32)
    if method in ORACLES:
        oracle = crop.mask.astype(np.float32) if method == "true mask" else _working_target(crop)
        keep = lead_columns(geometry, cols)
        prob[:, keep] = oracle[:, keep]
        return prob
    found = segment_box(crop.image, crop_box(crop, geometry), crop_grid(crop), method=method)
    in_crop, in_window = paste_slices(
        (found.origin_row, found.origin_col), found.prob.shape, (rows, cols)
    )
    prob[in_crop] = found.prob[in_window]
    return prob


# ---- scoring -----------------------------------------------------------------------------------


def score_crop(crop: Crop, method: str, *, fs: float) -> CropResult:
    """Segment and extract one crop with ``method`` (see :func:`segment_crop`), and score it
    against its truth. IoU needs pixel truth; crops without it (``mask_known`` False) score
    signals only."""
    geometry = crop_geometry(crop, fs)
    t0 = time.perf_counter()
    prob = segment_crop(crop, method, geometry)
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


def _check_methods(methods: Sequence[str]) -> None:
    unknown = [m for m in methods if m not in CROP_METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {', '.join(CROP_METHODS)}")


def score_crops(
    crops: Iterable[Crop],
    *,
    methods: Sequence[str],
    fs: float,
    progress: Callable[[], None] | None = None,
) -> list[CropResult]:
    """Score each method on each crop (signals at ``fs`` Hz); ``progress`` once per crop.

    The oracles skip crops without pixel truth."""
    _check_methods(methods)
    results = []
    for crop in crops:
        for method in methods:
            if method in ORACLES and not crop.mask_known:
                continue
            results.append(score_crop(crop, method, fs=fs))
        if progress is not None:
            progress()
    return results


def evaluate_crops(
    n: int,
    *,
    seed: int,
    split: Split = "test",
    methods: Sequence[str] = DEFAULT_METHODS,
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
    _check_methods(methods)
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


# ---- summary -----------------------------------------------------------------------------------


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


def crops_table(rows: Sequence[CropRow], title: str) -> Table:
    """The summary rows as the one table the CLI prints and the docs show."""
    return table(
        title,
        columns(("method", "subset", "n", "IoU", "MSE (mV^2)", "r", "SNR (dB)", "ms/crop"), left=2),
        (
            (
                r.method,
                r.subset,
                str(r.n),
                r.iou_text,
                f"{r.mse:.4f}",
                f"{r.r:.3f}",
                f"{r.snr:.2f}",
                f"{r.ms:.0f}",
            )
            for r in rows
        ),
    )
