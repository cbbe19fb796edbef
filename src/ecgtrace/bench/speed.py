"""Speed benchmarks (``ecgtrace bench``): rendering, U-Net inference per crop, whole pages.

They time, return rows and their tables, and leave printing to the CLI.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from ecgtrace.bench.table import Table, columns, table
from ecgtrace.data import example_record
from ecgtrace.digitization import DigitizeOptions, StageTimes
from ecgtrace.render import GridStyle, PageSpec, render_page
from ecgtrace.render.crops import crop_segment


def _timing(times_ms: Sequence[float]) -> tuple[float, float, float]:
    """Median, 90th percentile and minimum of the timed runs, ms."""
    return statistics.median(times_ms), float(np.percentile(times_ms, 90)), min(times_ms)


# ---- rendering ---------------------------------------------------------------------------------


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
            median, p90, low = _timing(times)
            rows.append(
                SpeedRow(
                    case=name,
                    dpi=dpi,
                    shape=page.truth.shape,
                    n=n,
                    median_ms=median,
                    p90_ms=p90,
                    min_ms=low,
                )
            )
    return rows


def render_speed_table(rows: Sequence[SpeedRow], n: int) -> Table:
    return table(
        f"render speed, 1 core, {n} runs each (ms)",
        columns(("case", "DPI", "pixels", "median", "p90", "min")),
        (
            (
                r.case,
                f"{r.dpi:g}",
                f"{r.shape[1]}x{r.shape[0]}",
                f"{r.median_ms:.0f}",
                f"{r.p90_ms:.0f}",
                f"{r.min_ms:.0f}",
            )
            for r in rows
        ),
    )


# ---- U-Net per crop ----------------------------------------------------------------------------


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
        ppm = model.prep.px_per_mm
        rows_px, cols_px = crop.image.shape[:2]
        median, p90, low = _timing(times)
        rows.append(
            UNetSpeed(
                lead=crop.lead,
                dpi=dpi,
                duration_s=crop.times_s.size / rec.fs,
                crop_shape=(rows_px, cols_px),
                input_shape=(
                    round(rows_px * ppm / crop.px_per_mm_row),
                    round(cols_px * ppm / crop.px_per_mm_col),
                ),
                n=n,
                median_ms=median,
                p90_ms=p90,
                min_ms=low,
            )
        )
    return rows


def unet_speed_table(rows: Sequence[UNetSpeed], n: int) -> Table:
    return table(
        f"U-Net inference, onnxruntime, 1 core, {n} runs each (ms)",
        columns(("lead", "s", "crop px", "input px", "median", "p90", "min")),
        (
            (
                r.lead,
                f"{r.duration_s:g}",
                f"{r.crop_shape[1]}x{r.crop_shape[0]}",
                f"{r.input_shape[1]}x{r.input_shape[0]}",
                f"{r.median_ms:.1f}",
                f"{r.p90_ms:.1f}",
                f"{r.min_ms:.1f}",
            )
            for r in rows
        ),
    )


# ---- whole pages -------------------------------------------------------------------------------

PAGE_CASES: tuple[tuple[str, PageSpec], ...] = (
    ("3x4+II", PageSpec()),
    ("6x2+II", PageSpec(layout="6x2", rhythm_leads=("II",))),
    ("12x1", PageSpec(layout="12x1")),
)


@dataclass(frozen=True)
class PageSpeed:
    """Digitization time of one clean 200 DPI page: the median of each stage over ``n`` runs
    (s) and the fastest total."""

    page: str
    shape: tuple[int, int]
    median: StageTimes
    min_total_s: float


def page_speed(*, n: int = 5, threads: int = 2) -> list[PageSpeed]:
    """Time :func:`~ecgtrace.pipeline.digitize_image` on the bundled record in each
    :data:`PAGE_CASES` layout, after one warm-up run (the model loads once per process)."""
    from ecgtrace.pipeline import digitize_image

    rec = example_record()
    options = DigitizeOptions(threads=threads)
    rows = []
    for name, spec in PAGE_CASES:
        image = render_page(rec.p_signal, rec.fs, spec, rng=0).image
        digitize_image(image, options)
        runs = [digitize_image(image, options).times for _ in range(n)]
        median = StageTimes(
            **{
                f.name: float(np.median([getattr(r, f.name) for r in runs]))
                for f in fields(StageTimes)
            }
        )
        rows.append(
            PageSpeed(
                page=name,
                shape=(image.shape[0], image.shape[1]),
                median=median,
                min_total_s=min(r.total_s for r in runs),
            )
        )
    return rows


def page_speed_table(rows: Sequence[PageSpeed], *, n: int, threads: int) -> Table:
    cols = ("page", "px", "total", "rectify", "grid", "layout", "segment", "extract", "min total")
    return table(
        f"digitize, 200 DPI page, {threads} thread(s), median of {n} runs (s)",
        columns(cols),
        (
            (
                r.page,
                f"{r.shape[1]}x{r.shape[0]}",
                f"{r.median.total_s:.2f}",
                f"{r.median.rectify_s:.2f}",
                f"{r.median.grid_s:.2f}",
                f"{r.median.layout_s:.2f}",
                f"{r.median.segment_s:.2f}",
                f"{r.median.extract_s:.2f}",
                f"{r.min_total_s:.2f}",
            )
            for r in rows
        ),
    )


def page_speed_json(rows: Sequence[PageSpeed], *, n: int, threads: int) -> dict[str, object]:
    """The timings as written by ``ecgtrace bench pages --json``."""
    return {
        "threads": threads,
        "n": n,
        "cpu_count": os.cpu_count(),
        "pages": {r.page: {"px": list(r.shape), "median_s": asdict(r.median)} for r in rows},
    }
