"""Grid benchmarks (``ecgtrace eval grid``): they measure and return cases, never print.

(a) Seeded renders of validation-split PTB-XL records with random page specs (72-600 DPI, every
grid colour and style) and random degradations, against the renderer's exact truth.
(b) The ECGtizer PDFs (test-fold records, a foreign renderer) rasterised at several DPIs, where
the truth is DPI / 25.4 px/mm. Evaluate there only: never tune on them.
(c) Overlays of the detected grid on the real scans, for a visual check
(:mod:`ecgtrace.bench.scans`).

The summaries and tables are in :mod:`ecgtrace.bench.grid_summary`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.grid import Grid, detect_grid
from ecgtrace.render import GRID_COLOURS, Rendered, random_spec, render_page
from ecgtrace.render import degrade as deg

PPM_TOL = 0.005  # relative px/mm error counted as right on renders
ROT_TOL_DEG = 0.2


@dataclass(frozen=True)
class RenderCase:
    """One render and what the detector said about it (px/mm errors are relative)."""

    index: int
    ecg_id: int
    layout: str
    dpi: float
    colour: str
    style: str
    degradations: tuple[str, ...]
    shape: tuple[int, int]
    truth_row: float
    truth_col: float
    truth_rot: float
    found: bool
    confidence: float
    ppm_row: float
    ppm_col: float
    rotation_deg: float
    err_row: float
    err_col: float
    err_rot: float
    ms: float
    grid_erased: bool = False
    scale_spread: float = 0.0
    angle_spread_deg: float = 0.0

    @property
    def uniform(self) -> bool:
        """One px/mm and one angle describe the whole page (to 0.25 % and 0.1 deg)."""
        return self.scale_spread <= 0.0025 and self.angle_spread_deg <= 0.1

    @property
    def has_grid(self) -> bool:
        """A grid was drawn and is still in the image (binarisation can erase a faint one)."""
        return self.style != "none" and not self.grid_erased

    @property
    def ok_ppm(self) -> bool:
        return self.found and abs(self.err_row) <= PPM_TOL and abs(self.err_col) <= PPM_TOL

    @property
    def ok_rot(self) -> bool:
        return self.found and abs(self.err_rot) <= ROT_TOL_DEG


def colour_name(rgb: tuple[int, int, int]) -> str:
    """The :data:`GRID_COLOURS` name of a minor-line colour."""
    for name, (minor, _) in GRID_COLOURS.items():
        if tuple(minor) == tuple(rgb):
            return name
    return "other"


@dataclass(frozen=True, eq=False)
class DegradedPage:
    """A rendered page and the degradations applied to it."""

    page: Rendered
    degradations: tuple[str, ...]


def render_case(
    index: int, ecg_id: int, seed: int, *, dpi: tuple[float, float] = (72.0, 600.0)
) -> DegradedPage:
    """The seeded page of case ``index``: a random spec, drawn, then randomly degraded."""
    from ecgtrace import data

    rng = np.random.default_rng([seed, index])
    rec = data.load_record(ecg_id)
    spec = random_spec(rng, dpi=dpi)
    page = render_page(rec.p_signal, rec.fs, spec, rng=rng)
    degraded, names = deg.random_degradations(page, rng=rng)
    return DegradedPage(page=degraded, degradations=names)


def is_grid_erased(page: Rendered) -> bool:
    """Whether a binarised page lost its grid: almost no dark pixels away from traces and text.

    Grid lines cover at least ~5 % of the grid area; below 0.3 % dark pixels outside the
    (dilated) ink, labels, header and pulses, nothing of the grid is left to detect.
    """
    truth = page.truth
    grey = page.image.min(axis=2)
    drawn = (truth.instance_masks() >= 0).astype(np.uint8)
    grow = max(3, round(0.6 * 0.5 * (truth.px_per_mm_row + truth.px_per_mm_col)))
    ink = cv2.dilate(drawn, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0
    boxes = [*truth.marks, *(p.box for p in truth.pulses)]
    boxes += [s.label_box for s in truth.segments if s.label_box is not None]
    if truth.header_box is not None:
        boxes.append(truth.header_box)
    for box in boxes:
        rs, cs = box.slices(truth.shape)
        ink[rs, cs] = True
    free = ~ink
    if free.sum() < 100:
        return False
    return bool(np.mean(grey[free] < 128) < 0.003)


@dataclass(frozen=True)
class Spread:
    """How far a page's local scale (relative, ``scale``) and local angle (``angle_deg``) stray
    from its page-centre truth."""

    scale: float
    angle_deg: float


def spreads(page: Rendered) -> Spread:
    """How far the local scale (relative) and the local angle (deg) of the page's lead segments
    stray from the page-centre truth: 0 for a page that one scale and one angle describe."""
    truth = page.truth
    scale = [0.0]
    angles = []
    for seg in truth.segments:
        scale.append(abs(seg.px_per_mm_row / truth.px_per_mm_row - 1))
        scale.append(abs(seg.px_per_mm_col / truth.px_per_mm_col - 1))
        z = seg.zero_line[np.all(np.isfinite(seg.zero_line), axis=1)]
        if len(z) >= 2 and np.ptp(z[:, 1]) > 0:
            slope = np.polyfit(z[:, 1], z[:, 0], 1)[0]
            angles.append(math.degrees(math.atan(-slope)) - truth.rotation_deg)
    ang = max((abs(a) for a in angles), default=0.0)
    return Spread(scale=max(scale), angle_deg=ang)


def measure(
    page: Rendered,
    names: tuple[str, ...],
    *,
    index: int = 0,
    ecg_id: int = 0,
    detector: Callable[[NDArray[np.uint8]], Grid] = detect_grid,
) -> RenderCase:
    """Run the detector on one page and compare with its truth."""
    truth = page.truth
    spread = spreads(page)
    t0 = time.perf_counter()
    grid = detector(page.image)
    ms = (time.perf_counter() - t0) * 1000
    nan = math.nan
    return RenderCase(
        index=index,
        ecg_id=ecg_id,
        layout=truth.spec.layout,
        dpi=truth.spec.dpi,
        colour=colour_name(truth.spec.grid.minor_colour),
        style=truth.spec.grid.style,
        degradations=names,
        shape=truth.shape,
        truth_row=truth.px_per_mm_row,
        truth_col=truth.px_per_mm_col,
        truth_rot=truth.rotation_deg,
        found=grid.found,
        confidence=grid.confidence,
        ppm_row=grid.px_per_mm_row,
        ppm_col=grid.px_per_mm_col,
        rotation_deg=grid.rotation_deg,
        err_row=grid.px_per_mm_row / truth.px_per_mm_row - 1 if grid.found else nan,
        err_col=grid.px_per_mm_col / truth.px_per_mm_col - 1 if grid.found else nan,
        err_rot=grid.rotation_deg - truth.rotation_deg if grid.found else nan,
        ms=ms,
        grid_erased=(
            "binarise" in names and truth.spec.grid.style != "none" and is_grid_erased(page)
        ),
        scale_spread=spread.scale,
        angle_spread_deg=spread.angle_deg,
    )


def render_benchmark(
    n: int,
    seed: int = 0,
    *,
    dpi: tuple[float, float] = (72.0, 600.0),
    progress: Callable[[int], None] | None = None,
) -> list[RenderCase]:
    """Detect the grid on ``n`` seeded random renders of validation records."""
    from ecgtrace import data

    ids = data.split_ids("validation")
    order = np.random.default_rng(seed).permutation(len(ids))
    rows = []
    for i in range(n):
        ecg_id = int(ids[order[i % len(ids)]])
        drawn = render_case(i, ecg_id, seed, dpi=dpi)
        rows.append(measure(drawn.page, drawn.degradations, index=i, ecg_id=ecg_id))
        if progress is not None:
            progress(i + 1)
    return rows


# ---- (b) ECGtizer PDFs ------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfCase:
    """One PDF at one DPI: truth px/mm is DPI / 25.4."""

    name: str
    dpi: float
    found: bool
    confidence: float
    err_row: float
    err_col: float
    rotation_deg: float
    ms: float


def pdf_benchmark(
    folder: Path,
    dpis: tuple[float, ...] = (100.0, 150.0, 200.0, 300.0),
    *,
    progress: Callable[[int], None] | None = None,
) -> list[PdfCase]:
    """Detect the grid on every PDF in ``folder`` rasterised (first page) at each DPI."""
    from ecgtrace.io.pdf import rasterize_pdf

    rows = []
    done = 0
    for path in sorted(folder.glob("*.pdf")):
        for dpi in dpis:
            image = rasterize_pdf(path, dpi=dpi, pages=1)[0]
            t0 = time.perf_counter()
            g = detect_grid(image)
            ms = (time.perf_counter() - t0) * 1000
            truth = dpi / 25.4
            rows.append(
                PdfCase(
                    name=path.name,
                    dpi=dpi,
                    found=g.found,
                    confidence=g.confidence,
                    err_row=g.px_per_mm_row / truth - 1 if g.found else math.nan,
                    err_col=g.px_per_mm_col / truth - 1 if g.found else math.nan,
                    rotation_deg=g.rotation_deg,
                    ms=ms,
                )
            )
            done += 1
            if progress is not None:
                progress(done)
    return rows
