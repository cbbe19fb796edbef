"""The page benchmark's summaries: rows per subset of pages, stage times, tables and JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgtrace.bench.pages import PageResult, nanmean
from ecgtrace.bench.table import Table, columns, table
from ecgtrace.digitization import StageTimes
from ecgtrace.leads import BASE_LAYOUTS, LEAD_NAMES
from ecgtrace.render.degrade import DEGRADATIONS

# ---- summaries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRow:
    """Means over a subset of pages (or of leads) for one source and method.

    ``n`` pages and ``n_leads`` plotted (page, lead) pairs in the subset; ``snr`` (dB), ``r``
    and ``mse`` (mV^2) are means over those pairs (NaN SNRs dropped); ``layout_acc`` the share
    of the pages whose layout was found right; ``kaggle_db`` the Kaggle 2025 score of the pages
    (10 log10 of the mean of their linear ratios; a lead subset takes its pages whole);
    ``errors`` the pages that failed; ``seconds`` and
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
    kaggle_db: float
    errors: int
    seconds: float
    p90_seconds: float


Pick = Callable[[PageResult], NDArray[np.bool_] | bool]


@dataclass(frozen=True)
class Subset:
    """A row of the summary: its ``name`` and which pages (or which of their leads) it holds."""

    name: str
    pick: Pick


def _subsets(results: Sequence[PageResult]) -> list[Subset]:
    """The subsets with at least one member, in table order."""
    out = [
        Subset("all", lambda p: True),
        Subset("clean", lambda p: not p.degradations),
        Subset("degraded", lambda p: bool(p.degradations)),
    ]
    out += [Subset(base, _layout_is(base)) for base in BASE_LAYOUTS]
    applied = dict.fromkeys([*DEGRADATIONS, *(n for p in results for n in p.degradations)])
    out += [Subset(name, _degraded_by(name)) for name in applied]
    out += [
        Subset("overlap leads", lambda p: p.overlap),
        Subset("no-overlap leads", lambda p: ~p.overlap),
        Subset("layout wrong", lambda p: not p.layout_ok),
        Subset("no grid", lambda p: p.grid == "none"),
        Subset("scale wrong", lambda p: p.error is None and not p.scale_ok),
        Subset("calibration wrong", lambda p: p.error is None and not p.calibration_ok),
        Subset("calibration unknowable", lambda p: not p.calibration_knowable),
        Subset("failed", lambda p: p.error is not None),
    ]
    return [s for s in out if any(_leads(s.pick, p).any() for p in results)]


def _layout_is(base: str) -> Pick:
    return lambda p: p.base_layout == base


def _degraded_by(name: str) -> Pick:
    return lambda p: name in p.degradations


def _leads(pick: Pick, page: PageResult) -> NDArray[np.bool_]:
    """(12,) bool: the plotted leads of ``page`` that the subset holds."""
    return page.plotted & np.asarray(pick(page), dtype=bool)


def _row(source: str, method: str, subset: Subset, pages: Sequence[PageResult]) -> PageRow:
    chosen = [(p, _leads(subset.pick, p)) for p in pages]
    chosen = [(p, m) for p, m in chosen if m.any()]
    sel = [p for p, _ in chosen]
    seconds = [p.seconds for p in sel]
    return PageRow(
        source=source,
        method=method,
        subset=subset.name,
        n=len(sel),
        n_leads=int(sum(int(m.sum()) for _, m in chosen)),
        snr=nanmean(np.concatenate([p.snr[m] for p, m in chosen])),
        r=nanmean(np.concatenate([p.r[m] for p, m in chosen])),
        mse=nanmean(np.concatenate([p.mse[m] for p, m in chosen])),
        layout_acc=float(np.mean([p.layout_ok for p in sel])),
        kaggle_db=_kaggle_db([p.kaggle_ratio for p in sel]),
        errors=sum(p.error is not None for p in sel),
        seconds=float(np.mean(seconds)),
        p90_seconds=float(np.percentile(seconds, 90)),
    )


def _kaggle_db(ratios: Sequence[float]) -> float:
    mean = float(np.mean(ratios)) if len(ratios) else float("nan")
    return 10.0 * float(np.log10(mean)) if mean > 0 else float("nan")


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
        for subset in _subsets(pages):
            rows.append(_row(source, method, subset, pages))
    return rows


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
    :class:`~ecgtrace.digitization.StageTimes` (pages that failed have none and are left out)."""
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


def pages_table(rows: Sequence[PageRow], title: str) -> Table:
    """The summary rows as the one table the CLI prints and the docs show."""
    heads = ("source", "method", "subset", "n", "leads", "MSE (mV^2)", "r", "SNR (dB)",
             "Kaggle dB", "layout ok", "s/page", "p90 s", "failed")  # fmt: skip
    return table(
        title,
        columns(heads, left=3),
        (
            (
                r.source,
                r.method,
                r.subset,
                str(r.n),
                str(r.n_leads),
                f"{r.mse:.4f}",
                f"{r.r:.3f}",
                f"{r.snr:.2f}",
                f"{r.kaggle_db:.2f}",
                f"{100 * r.layout_acc:.0f} %",
                f"{r.seconds:.2f}",
                f"{r.p90_seconds:.2f}",
                str(r.errors),
            )
            for r in rows
        ),
    )


def stages_table(rows: Sequence[StageRow]) -> Table:
    """The stage times as a table."""
    return table(
        "time per stage (s, pages digitized)",
        columns(("source", "method", "stage", "n", "mean", "p90"), left=6),
        (
            (r.source, r.method, r.stage, str(r.n), f"{r.mean_s:.3f}", f"{r.p90_s:.3f}")
            for r in rows
        ),
    )


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
        "kaggle_ratio": p.kaggle_ratio,
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


def summarise_pages_by_dpi(results: Iterable[PageResult]) -> list[PageRow]:
    """:func:`summarise_pages` of each method and DPI apart (in the order met), each row's
    source naming its DPI (``ecgtizer 200 DPI``): the ECGtizer PDFs read at several DPIs."""
    results = list(results)
    rows = []
    for method, dpi in dict.fromkeys((p.method, p.dpi) for p in results):
        batch = [p for p in results if p.method == method and p.dpi == dpi]
        rows += [replace(r, source=f"{r.source} {dpi:g} DPI") for r in summarise_pages(batch)]
    return rows
