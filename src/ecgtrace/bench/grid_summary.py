"""The grid benchmark's summaries (shares within tolerance per group), tables and report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ecgtrace.bench.grid import PPM_TOL, PdfCase, RenderCase
from ecgtrace.bench.table import Column, Table, columns, table
from ecgtrace.render import GRID_COLOURS
from ecgtrace.render import degrade as deg

PDF_TOL = 0.01
DPI_BANDS: tuple[tuple[float, float], ...] = ((72, 150), (150, 250), (250, 400), (400, 601))
# Degradations that change the scale or the angle across the page: one px/mm or one angle
# cannot describe such a page exactly, so they are reported apart.
NONUNIFORM: frozenset[str] = frozenset({"perspective", "curl"})


@dataclass(frozen=True)
class GroupStats:
    """The headline numbers of a group of renders that have a grid: shares found and within
    tolerance (px/mm both ways, rows, cols, rotation), px/mm error (%) and rotation error."""

    n: int
    found: float
    ppm_ok: float
    row_ok: float
    col_ok: float
    rot_ok: float
    median_err_pct: float
    p95_err_pct: float
    median_rot_err_deg: float


@dataclass(frozen=True)
class NoGridStats:
    """Renders drawn without a grid: how many, the share reported as no grid, the highest
    confidence given one."""

    n: int
    found_false: float
    max_confidence: float


@dataclass(frozen=True)
class ErasedStats:
    """Binarised renders whose grid the threshold erased (their ``indices``)."""

    n: int
    found_false: float
    indices: tuple[int, ...]


@dataclass(frozen=True)
class Failure:
    """A render with a grid whose px/mm or rotation was off (errors in %, deg; None: not found)."""

    index: int
    ecg_id: int
    layout: str
    dpi: float
    colour: str
    style: str
    degradations: tuple[str, ...]
    found: bool
    confidence: float
    err_row_pct: float | None
    err_col_pct: float | None
    err_rot_deg: float | None
    scale_spread_pct: float
    angle_spread_deg: float


@dataclass(frozen=True)
class FalseGrid:
    """A render without a grid on which one was reported."""

    index: int
    dpi: float
    degradations: tuple[str, ...]
    confidence: float


@dataclass(frozen=True, eq=False)
class RenderSummary:
    """The render benchmark summed up, overall and by grid style, colour, DPI band and
    degradation (``by_*``: group name to its numbers); times per image in ms."""

    all: GroupStats
    uniform_scale: GroupStats
    locally_uniform: GroupStats
    no_grid: NoGridStats
    grid_erased: ErasedStats
    by_style: dict[str, GroupStats]
    by_colour: dict[str, GroupStats]
    by_dpi: dict[str, GroupStats]
    by_degradation: dict[str, GroupStats]
    failures: tuple[Failure, ...]
    false_grids: tuple[FalseGrid, ...]
    ms_median: float
    ms_max: float


@dataclass(frozen=True)
class PdfStats:
    """The PDFs at one DPI: shares found and within 1 %, max and mean |relative error| (%)."""

    dpi: float
    n: int
    found: float
    max_err_pct: float
    mean_err_pct: float
    within_1pct: float
    max_abs_rotation_deg: float


def _share(flags: Iterable[bool]) -> float:
    v = list(flags)
    return float(np.mean(v)) if v else math.nan


def group_stats(cases: Sequence[RenderCase]) -> GroupStats:
    """The :class:`GroupStats` of a group of renders that have a grid."""
    errs = [max(abs(c.err_row), abs(c.err_col)) for c in cases if c.found]
    rot = [abs(c.err_rot) for c in cases if c.found]
    return GroupStats(
        n=len(cases),
        found=_share(c.found for c in cases),
        ppm_ok=_share(c.ok_ppm for c in cases),
        row_ok=_share(c.found and abs(c.err_row) <= PPM_TOL for c in cases),
        col_ok=_share(c.found and abs(c.err_col) <= PPM_TOL for c in cases),
        rot_ok=_share(c.ok_rot for c in cases),
        median_err_pct=100 * float(np.median(errs)) if errs else math.nan,
        p95_err_pct=100 * float(np.percentile(errs, 95)) if errs else math.nan,
        median_rot_err_deg=float(np.median(rot)) if rot else math.nan,
    )


def _failure(c: RenderCase) -> Failure:
    return Failure(
        index=c.index,
        ecg_id=c.ecg_id,
        layout=c.layout,
        dpi=round(c.dpi, 1),
        colour=c.colour,
        style=c.style,
        degradations=c.degradations,
        found=c.found,
        confidence=round(c.confidence, 3),
        err_row_pct=round(100 * c.err_row, 3) if c.found else None,
        err_col_pct=round(100 * c.err_col, 3) if c.found else None,
        err_rot_deg=round(c.err_rot, 3) if c.found else None,
        scale_spread_pct=round(100 * c.scale_spread, 2),
        angle_spread_deg=round(c.angle_spread_deg, 2),
    )


def summarise_renders(rows: Sequence[RenderCase]) -> RenderSummary:
    """Shares within tolerance overall and by grid style, colour, DPI band and degradation."""
    grid = [c for c in rows if c.has_grid]
    none = [c for c in rows if c.style == "none"]
    erased = [c for c in rows if c.grid_erased]
    by_deg = {
        name: group_stats([c for c in grid if name in c.degradations]) for name in deg.DEGRADATIONS
    }
    by_deg["(none)"] = group_stats([c for c in grid if not c.degradations])
    ms = [c.ms for c in rows]
    return RenderSummary(
        all=group_stats(grid),
        uniform_scale=group_stats([c for c in grid if not (set(c.degradations) & NONUNIFORM)]),
        locally_uniform=group_stats([c for c in grid if c.uniform]),
        no_grid=NoGridStats(
            n=len(none),
            found_false=_share(not c.found for c in none),
            max_confidence=max((c.confidence for c in none), default=math.nan),
        ),
        grid_erased=ErasedStats(
            n=len(erased),
            found_false=_share(not c.found for c in erased),
            indices=tuple(c.index for c in erased),
        ),
        by_style={s: group_stats([c for c in grid if c.style == s]) for s in ("solid", "dotted")},
        by_colour={k: group_stats([c for c in grid if c.colour == k]) for k in GRID_COLOURS},
        by_dpi={
            f"{lo:g}-{min(hi, 600):g}": group_stats([c for c in grid if lo <= c.dpi < hi])
            for lo, hi in DPI_BANDS
        },
        by_degradation=by_deg,
        failures=tuple(_failure(c) for c in grid if not (c.ok_ppm and c.ok_rot)),
        false_grids=tuple(
            FalseGrid(
                index=c.index,
                dpi=round(c.dpi, 1),
                degradations=c.degradations,
                confidence=round(c.confidence, 3),
            )
            for c in none
            if c.found
        ),
        ms_median=float(np.median(ms)) if ms else math.nan,
        ms_max=float(np.max(ms)) if ms else math.nan,
    )


def summarise_pdfs(rows: Sequence[PdfCase]) -> tuple[PdfStats, ...]:
    """Per DPI (ascending): max and mean |relative error| (%) and the share within 1 %."""
    out = []
    for dpi in sorted({r.dpi for r in rows}):
        sel = [r for r in rows if r.dpi == dpi]
        errs = [max(abs(r.err_row), abs(r.err_col)) if r.found else math.inf for r in sel]
        finite = [e for e in errs if math.isfinite(e)]
        out.append(
            PdfStats(
                dpi=dpi,
                n=len(sel),
                found=_share(r.found for r in sel),
                max_err_pct=100 * max(errs) if errs else math.nan,
                mean_err_pct=100 * float(np.mean(finite)) if finite else math.nan,
                within_1pct=_share(e <= PDF_TOL for e in errs),
                max_abs_rotation_deg=max(abs(r.rotation_deg) for r in sel),
            )
        )
    return tuple(out)


def pdfs_json(stats: Sequence[PdfStats]) -> dict[str, dict[str, object]]:
    """The PDF summary as written to JSON: keyed by DPI (``100``, ``150``...)."""
    return {f"{s.dpi:g}": {k: v for k, v in asdict(s).items() if k != "dpi"} for s in stats}


# ---- tables ------------------------------------------------------------------------------------


def _pct(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{100 * v:.1f}"


BREAKDOWN_COLUMNS = (
    "n", "found %", "px/mm ok %", "row ok %", "col ok %", "rot ok %",
    "median err %", "p95 err %", "median rot err deg",
)  # fmt: skip
PDF_COLUMNS = ("DPI", "n", "found %", "max err %", "mean err %", "within 1 %")


def _breakdown_rows(s: RenderSummary) -> Iterator[tuple[str, ...]]:
    """The cells of each non-empty group, section by section."""
    sections: tuple[tuple[str, dict[str, GroupStats]], ...] = (
        ("all", {"renders with a grid": s.all}),
        ("all", {"no perspective/curl": s.uniform_scale}),
        ("all", {"one scale & angle fit the page": s.locally_uniform}),
        ("style", s.by_style),
        ("colour", s.by_colour),
        ("DPI", s.by_dpi),
        ("degradation", s.by_degradation),
    )
    for section, groups in sections:
        for name, g in groups.items():
            if g.n:
                yield (
                    section, name, str(g.n), _pct(g.found), _pct(g.ppm_ok), _pct(g.row_ok),
                    _pct(g.col_ok), _pct(g.rot_ok), f"{g.median_err_pct:.3f}",
                    f"{g.p95_err_pct:.2f}", f"{g.median_rot_err_deg:.3f}",
                )  # fmt: skip


def breakdown_table(summary: RenderSummary, title: str) -> Table:
    """One row per non-empty group: n, found %, px/mm within 0.5 % (both, row, col), rotation
    within 0.2 deg, median and p95 px/mm error (%), median rotation error (deg)."""
    return table(
        title, columns(("section", "group", *BREAKDOWN_COLUMNS), left=2), _breakdown_rows(summary)
    )


def pdf_table(stats: Sequence[PdfStats], title: str) -> Table:
    return table(
        title,
        columns(PDF_COLUMNS, left=0),
        (
            (
                f"{s.dpi:g}",
                str(s.n),
                _pct(s.found),
                f"{s.max_err_pct:.3f}",
                f"{s.mean_err_pct:.3f}",
                _pct(s.within_1pct),
            )
            for s in stats
        ),
    )


FAILURE_COLUMNS: tuple[Column, ...] = (
    *columns(("#", "DPI"), left=0),
    *columns(("layout", "colour", "style", "degradations", "found"), left=5),
    *columns(("conf", "row err %", "col err %", "rot err deg", "scale spread %",
              "angle spread deg"), left=0),
)  # fmt: skip


def failures_table(summary: RenderSummary) -> Table:
    return table(
        f"Failures ({len(summary.failures)})",
        FAILURE_COLUMNS,
        (
            (
                str(f.index),
                str(f.dpi),
                f.layout,
                f.colour,
                f.style,
                ", ".join(f.degradations),
                str(f.found),
                str(f.confidence),
                str(f.err_row_pct),
                str(f.err_col_pct),
                str(f.err_rot_deg),
                str(f.scale_spread_pct),
                str(f.angle_spread_deg),
            )
            for f in summary.failures
        ),
    )


def _renders_markdown(s: RenderSummary) -> list[str]:
    nog, gone = s.no_grid, s.grid_erased
    return [
        "## Renders (validation records, random specs 72-600 DPI, random degradations)",
        "",
        "px/mm ok: both pitches within 0.5 % of the truth; rot ok: within 0.2 deg. "
        "Perspective and curl change the scale and angle across the page (the truth is "
        "the local value at the page centre), so `no perspective/curl` leaves them out; "
        "`one scale & angle fit the page` keeps the renders whose lead segments' local "
        "scale is within 0.25 % and local angle within 0.1 deg of the centre's.",
        "",
        breakdown_table(s, "").to_markdown().rstrip("\n"),
        "",
        f"Renders without a grid: {nog.n}, reported as no grid: "
        f"{_pct(nog.found_false)} % (highest confidence {nog.max_confidence:.2f}).",
        f"Binarised renders whose grid the threshold erased (nothing left to detect; left "
        f"out above): {gone.n}, reported as no grid: {_pct(gone.found_false)} %.",
        f"Time per image: median {s.ms_median:.0f} ms, max {s.ms_max:.0f} ms.",
        "",
        f"Failures ({len(s.failures)}):",
        "",
        failures_table(s).to_markdown().rstrip("\n"),
    ]


def markdown_report(
    renders: RenderSummary | None, pdfs: Sequence[PdfStats] | None, *, command: str
) -> str:
    """The benchmark as Markdown tables."""
    lines = ["# Grid detection benchmark", "", f"Command: `{command}`", ""]
    if renders is not None:
        lines += _renders_markdown(renders)
    if pdfs is not None:
        lines += [
            "",
            "## ECGtizer PDFs (test-fold records; evaluated, never tuned on)",
            "",
            "Truth px/mm = DPI / 25.4; error = the larger of the row and col relative errors.",
            "",
            pdf_table(pdfs, "").to_markdown().rstrip("\n"),
        ]
    return "\n".join(lines) + "\n"
