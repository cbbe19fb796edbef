"""Benchmarks: they measure, return rows, and leave printing to the CLI."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace

import numpy as np

from ecgtrace.data import example_record
from ecgtrace.render import GridStyle, PageSpec, render_page


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
