"""Grid benchmarks (`ecgtrace eval grid`): they measure, return rows and summaries, never print.

(a) Seeded renders of validation-split PTB-XL records with random page specs (72-600 DPI, every
grid colour and style) and random degradations, against the renderer's exact truth.
(b) The ECGtizer PDFs (test-fold records, a foreign renderer) rasterised at several DPIs, where
the truth is DPI / 25.4 px/mm. Evaluate there only: never tune on them.
(c) Overlays of the detected grid on the real scans, for a visual check.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.grid import MAJOR_MM, Grid, detect_grid
from ecgtrace.render import GRID_COLOURS, Rendered, random_spec, render_page
from ecgtrace.render import degrade as deg

log = logging.getLogger(__name__)

PPM_TOL = 0.005  # relative px/mm error counted as right on renders
ROT_TOL_DEG = 0.2
PDF_TOL = 0.01
DPI_BANDS: tuple[tuple[float, float], ...] = ((72, 150), (150, 250), (250, 400), (400, 601))
# Degradations that change the scale or the angle across the page: one px/mm or one angle
# cannot describe such a page exactly, so they are reported apart.
NONUNIFORM: frozenset[str] = frozenset({"perspective", "curl"})


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


def render_case(
    index: int, ecg_id: int, seed: int, *, dpi: tuple[float, float] = (72.0, 600.0)
) -> tuple[Rendered, tuple[str, ...]]:
    """The seeded page of case ``index``: a random spec, drawn, then randomly degraded."""
    from ecgtrace import data

    rng = np.random.default_rng([seed, index])
    rec = data.load_record(ecg_id)
    spec = random_spec(rng, dpi=dpi)
    page = render_page(rec.p_signal, rec.fs, spec, rng=rng)
    return deg.random_degradations(page, rng=rng)


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


def spreads(page: Rendered) -> tuple[float, float]:
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
    return max(scale), ang


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
        scale_spread=spread[0],
        angle_spread_deg=spread[1],
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
        page, names = render_case(i, ecg_id, seed, dpi=dpi)
        rows.append(measure(page, names, index=i, ecg_id=ecg_id))
        if progress is not None:
            progress(i + 1)
    return rows


def _share(flags: Iterable[bool]) -> float:
    v = list(flags)
    return float(np.mean(v)) if v else math.nan


def _group(cases: list[RenderCase]) -> dict[str, Any]:
    """The headline numbers of a group of renders that have a grid."""
    errs = [max(abs(c.err_row), abs(c.err_col)) for c in cases if c.found]
    rot = [abs(c.err_rot) for c in cases if c.found]
    return {
        "n": len(cases),
        "found": _share(c.found for c in cases),
        "ppm_ok": _share(c.ok_ppm for c in cases),
        "row_ok": _share(c.found and abs(c.err_row) <= PPM_TOL for c in cases),
        "col_ok": _share(c.found and abs(c.err_col) <= PPM_TOL for c in cases),
        "rot_ok": _share(c.ok_rot for c in cases),
        "median_err_pct": 100 * float(np.median(errs)) if errs else math.nan,
        "p95_err_pct": 100 * float(np.percentile(errs, 95)) if errs else math.nan,
        "median_rot_err_deg": float(np.median(rot)) if rot else math.nan,
    }


def summarise_renders(rows: list[RenderCase]) -> dict[str, Any]:
    """Shares within tolerance overall and by grid style, colour, DPI band and degradation."""
    grid = [c for c in rows if c.has_grid]
    none = [c for c in rows if c.style == "none"]
    erased = [c for c in rows if c.grid_erased]
    uniform = [c for c in grid if not (set(c.degradations) & NONUNIFORM)]
    by_style = {s: _group([c for c in grid if c.style == s]) for s in ("solid", "dotted")}
    by_colour = {k: _group([c for c in grid if c.colour == k]) for k in GRID_COLOURS}
    by_dpi = {
        f"{lo:g}-{min(hi, 600):g}": _group([c for c in grid if lo <= c.dpi < hi])
        for lo, hi in DPI_BANDS
    }
    by_deg = {
        name: _group([c for c in grid if name in c.degradations]) for name in deg.DEGRADATIONS
    }
    by_deg["(none)"] = _group([c for c in grid if not c.degradations])
    failures = [
        {
            "index": c.index,
            "ecg_id": c.ecg_id,
            "layout": c.layout,
            "dpi": round(c.dpi, 1),
            "colour": c.colour,
            "style": c.style,
            "degradations": list(c.degradations),
            "found": c.found,
            "confidence": round(c.confidence, 3),
            "err_row_pct": round(100 * c.err_row, 3) if c.found else None,
            "err_col_pct": round(100 * c.err_col, 3) if c.found else None,
            "err_rot_deg": round(c.err_rot, 3) if c.found else None,
            "scale_spread_pct": round(100 * c.scale_spread, 2),
            "angle_spread_deg": round(c.angle_spread_deg, 2),
        }
        for c in grid
        if not (c.ok_ppm and c.ok_rot)
    ]
    ms = [c.ms for c in rows]
    return {
        "all": _group(grid),
        "uniform_scale": _group(uniform),
        "locally_uniform": _group([c for c in grid if c.uniform]),
        "no_grid": {
            "n": len(none),
            "found_false": _share(not c.found for c in none),
            "max_confidence": max((c.confidence for c in none), default=math.nan),
        },
        "grid_erased": {
            "n": len(erased),
            "found_false": _share(not c.found for c in erased),
            "indices": [c.index for c in erased],
        },
        "by_style": by_style,
        "by_colour": by_colour,
        "by_dpi": by_dpi,
        "by_degradation": by_deg,
        "failures": failures,
        "false_grids": [
            {
                "index": c.index,
                "dpi": round(c.dpi, 1),
                "degradations": list(c.degradations),
                "confidence": round(c.confidence, 3),
            }
            for c in none
            if c.found
        ],
        "ms_median": float(np.median(ms)) if ms else math.nan,
        "ms_max": float(np.max(ms)) if ms else math.nan,
    }


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


def summarise_pdfs(rows: list[PdfCase]) -> dict[str, Any]:
    """Per DPI: max and mean |relative error| (%) and the share within 1 %."""
    out: dict[str, Any] = {}
    for dpi in sorted({r.dpi for r in rows}):
        sel = [r for r in rows if r.dpi == dpi]
        errs = [max(abs(r.err_row), abs(r.err_col)) if r.found else math.inf for r in sel]
        finite = [e for e in errs if math.isfinite(e)]
        out[f"{dpi:g}"] = {
            "n": len(sel),
            "found": _share(r.found for r in sel),
            "max_err_pct": 100 * max(errs) if errs else math.nan,
            "mean_err_pct": 100 * float(np.mean(finite)) if finite else math.nan,
            "within_1pct": _share(e <= PDF_TOL for e in errs),
            "max_abs_rotation_deg": max(abs(r.rotation_deg) for r in sel),
        }
    return out


# ---- (c) overlays on real scans ----------------------------------------------------------------


def draw_overlay(
    image: NDArray[np.uint8], grid: Grid, *, max_width: int = 700
) -> NDArray[np.uint8]:
    """A downscaled grey copy of ``image`` (16 levels) with the detected major lines in blue.

    The lines are placed in the deskewed frame and turned by ``grid.rotation_deg`` about the
    image centre, so they should lie on the printed major lines.
    """
    rows, cols = image.shape[:2]
    s = min(1.0, max_width / cols)
    size = (max(1, round(cols * s)), max(1, round(rows * s)))
    small = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    # A grey background in 16 levels under blue lines: small PNGs, and the lines stand out.
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY) // 16 * 17
    small = np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if not grid.found:
        cv2.putText(small, "no grid", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 0, 0), 2)
        return small
    a = math.radians(grid.rotation_deg)
    ca, sa = math.cos(a), math.sin(a)
    cr, cc = (rows - 1) / 2, (cols - 1) / 2
    reach = math.hypot(rows, cols)

    def to_image(r0: NDArray[np.float64], c0: NDArray[np.float64]) -> NDArray[np.float64]:
        # Deskewed (r0, c0) back to the image: a counter-clockwise turn about the centre.
        r = cr + ca * (r0 - cr) - sa * (c0 - cc)
        c = cc + sa * (r0 - cr) + ca * (c0 - cc)
        return np.stack([r, c], axis=-1)

    lines = []
    for phase, pitch, horizontal in (
        (grid.phase_row, grid.px_per_mm_row * MAJOR_MM, True),
        (grid.phase_col, grid.px_per_mm_col * MAJOR_MM, False),
    ):
        if not (math.isfinite(phase) and math.isfinite(pitch) and pitch > 0):
            continue
        extent = rows if horizontal else cols
        ks = np.arange(math.floor(-reach / pitch), math.ceil((extent + reach) / pitch) + 1)
        pos = phase + ks * pitch
        ends = np.array([-reach, (cols if horizontal else rows) + reach])
        for p in pos:
            if horizontal:
                pts = to_image(np.array([p, p]), ends)
            else:
                pts = to_image(ends, np.array([p, p]))
            lines.append(pts * s)
    colour = (0, 90, 255)
    for pts in lines:
        xy = np.round(pts[:, ::-1] * 16).astype(np.int32)
        cv2.polylines(small, [xy], False, colour, 1, cv2.LINE_AA, shift=4)
    return small


@dataclass(frozen=True)
class ScanRow:
    """The grid detected on one real scan."""

    name: str
    shape: tuple[int, int]
    found: bool
    px_per_mm_row: float
    px_per_mm_col: float
    rotation_deg: float
    confidence: float
    minor_visible: bool
    ms: float


def scan_overlays(folder: Path, out_dir: Path) -> list[ScanRow]:
    """Detect the grid on every image in ``folder`` and write ``<out_dir>/<stem>.png`` overlays."""
    from ecgtrace.io.files import write_png
    from ecgtrace.io.images import read_image

    rows = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES):
        image = read_image(path)
        t0 = time.perf_counter()
        g = detect_grid(image)
        ms = (time.perf_counter() - t0) * 1000
        overlay = draw_overlay(image, g)
        write_png(out_dir / f"{path.stem}.png", overlay, compression=9)
        rows.append(
            ScanRow(
                name=path.name,
                shape=(image.shape[0], image.shape[1]),
                found=g.found,
                px_per_mm_row=g.px_per_mm_row,
                px_per_mm_col=g.px_per_mm_col,
                rotation_deg=g.rotation_deg,
                confidence=g.confidence,
                minor_visible=g.minor_visible,
                ms=ms,
            )
        )
    return rows


_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})


def as_json(rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Dataclass rows as JSON-ready dicts."""
    for r in rows:
        yield asdict(r)


# ---- tables ------------------------------------------------------------------------------------


def _pct(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{100 * v:.1f}"


def breakdown_rows(summary: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(section, group, cells) rows of the render summary: n, found %, px/mm within 0.5 % (both,
    row, col), rotation within 0.2 deg, median and p95 px/mm error (%), median rotation error."""
    out = []
    sections: list[tuple[str, dict[str, Any]]] = [
        ("all", {"renders with a grid": summary["all"]}),
        ("all", {"no perspective/curl": summary["uniform_scale"]}),
        ("all", {"one scale & angle fit the page": summary["locally_uniform"]}),
        ("style", summary["by_style"]),
        ("colour", summary["by_colour"]),
        ("DPI", summary["by_dpi"]),
        ("degradation", summary["by_degradation"]),
    ]
    for section, groups in sections:
        for name, g in groups.items():
            if not g["n"]:
                continue
            out.append(
                (
                    section,
                    name,
                    [
                        str(g["n"]),
                        _pct(g["found"]),
                        _pct(g["ppm_ok"]),
                        _pct(g["row_ok"]),
                        _pct(g["col_ok"]),
                        _pct(g["rot_ok"]),
                        f"{g['median_err_pct']:.3f}",
                        f"{g['p95_err_pct']:.2f}",
                        f"{g['median_rot_err_deg']:.3f}",
                    ],
                )
            )
    return out


BREAKDOWN_COLUMNS = (
    "n", "found %", "px/mm ok %", "row ok %", "col ok %", "rot ok %",
    "median err %", "p95 err %", "median rot err deg",
)  # fmt: skip
PDF_COLUMNS = ("DPI", "n", "found %", "max err %", "mean err %", "within 1 %")


def pdf_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            dpi,
            str(s["n"]),
            _pct(s["found"]),
            f"{s['max_err_pct']:.3f}",
            f"{s['mean_err_pct']:.3f}",
            _pct(s["within_1pct"]),
        ]
        for dpi, s in summary.items()
    ]


def markdown_report(
    renders: dict[str, Any] | None, pdfs: dict[str, Any] | None, *, command: str
) -> str:
    """The benchmark as Markdown tables."""
    lines = ["# Grid detection benchmark", "", f"Command: `{command}`", ""]
    if renders is not None:
        nog = renders["no_grid"]
        lines += [
            "## Renders (validation records, random specs 72-600 DPI, random degradations)",
            "",
            "px/mm ok: both pitches within 0.5 % of the truth; rot ok: within 0.2 deg. "
            "Perspective and curl change the scale and angle across the page (the truth is "
            "the local value at the page centre), so `no perspective/curl` leaves them out; "
            "`one scale & angle fit the page` keeps the renders whose lead segments' local "
            "scale is within 0.25 % and local angle within 0.1 deg of the centre's.",
            "",
            "| section | group | " + " | ".join(BREAKDOWN_COLUMNS) + " |",
            "| --- | --- | " + " | ".join("---:" for _ in BREAKDOWN_COLUMNS) + " |",
        ]
        for section, name, cells in breakdown_rows(renders):
            lines.append(f"| {section} | {name} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"Renders without a grid: {nog['n']}, reported as no grid: "
            f"{_pct(nog['found_false'])} % (highest confidence {nog['max_confidence']:.2f}).",
            f"Binarised renders whose grid the threshold erased (nothing left to detect; left "
            f"out above): {renders['grid_erased']['n']}, reported as no grid: "
            f"{_pct(renders['grid_erased']['found_false'])} %.",
            f"Time per image: median {renders['ms_median']:.0f} ms, max "
            f"{renders['ms_max']:.0f} ms.",
            "",
            f"Failures ({len(renders['failures'])}):",
            "",
            "| # | DPI | layout | colour | style | degradations | found | conf | row err % "
            "| col err % | rot err deg | scale spread % | angle spread deg |",
            "|" + " ---: |" * 2 + " --- |" * 5 + " ---: |" * 6,
        ]
        for f in renders["failures"]:
            lines.append(
                f"| {f['index']} | {f['dpi']} | {f['layout']} | {f['colour']} | {f['style']} | "
                f"{', '.join(f['degradations'])} | {f['found']} | {f['confidence']} | "
                f"{f['err_row_pct']} | {f['err_col_pct']} | {f['err_rot_deg']} | "
                f"{f['scale_spread_pct']} | {f['angle_spread_deg']} |"
            )
    if pdfs is not None:
        lines += [
            "",
            "## ECGtizer PDFs (test-fold records; evaluated, never tuned on)",
            "",
            "Truth px/mm = DPI / 25.4; error = the larger of the row and col relative errors.",
            "",
            "| " + " | ".join(PDF_COLUMNS) + " |",
            "| " + " | ".join("---:" for _ in PDF_COLUMNS) + " |",
        ]
        for row in pdf_rows(pdfs):
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
