"""find_layout: a deskewed page and its grid in, the :class:`~ecgtrace.layout.types.Layout` out.

The order: ink -> trace rows -> pulses -> speed and gain settled
(:func:`ecgtrace.calibration.settle`) -> the time span the rows share -> baselines -> each row's
trace followed -> the layout told from the rows -> the cells named -> one box per cell.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace import calibration as cal
from ecgtrace.calibration import Calibration, CalibrationError
from ecgtrace.grid import Grid
from ecgtrace.layout import naming
from ecgtrace.layout.labels import Spot, read_labels
from ecgtrace.layout.pulses import PulseGeometry, PulseSearch, find_pulses
from ecgtrace.layout.rows import TraceRow, find_rows, ink_map, row_baseline, stroke_px
from ecgtrace.layout.traces import Traces, follow_trace, time_span
from ecgtrace.layout.types import Layout, LeadBox
from ecgtrace.leads import (
    LEAD_ORDERS,
    N_COLUMNS,
    N_MAIN_STRIPS,
    SINGLE_LEAD,
    LayoutError,
    LayoutName,
    cell_labels,
    label_inverted,
    label_lead,
    layout_name,
    parse_layout,
)
from ecgtrace.types import Box

log = logging.getLogger(__name__)

STEP_S = 0.05  # printers cut columns to whole 0.05 s


def _check(image: NDArray[np.uint8], grid: Grid, lead_order: str | None) -> tuple[float, float]:
    """The grid's pitch (px/mm along rows, along cols); raises :class:`LayoutError` for an
    image, pitch or lead order that no layout can be found with."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 16 or img.shape[1] < 16:
        raise LayoutError(
            f"expected an RGB image (rows, cols, 3) of at least 16 px, got {img.shape}"
        )
    ppm_row, ppm_col = float(grid.px_per_mm_row), float(grid.px_per_mm_col)
    if not (math.isfinite(ppm_row) and math.isfinite(ppm_col) and ppm_row > 0 and ppm_col > 0):
        raise LayoutError("the grid's pitch (px/mm) is unknown: no layout without it")
    if lead_order is not None and lead_order not in LEAD_ORDERS:
        raise LayoutError(f"unknown lead order {lead_order!r}; use standard or cabrera")
    return ppm_row, ppm_col


def _gain_hint(speed_mm_s: float | None, gain_mm_mv: float | None) -> float:
    """The gain (mm/mV) to look for pulses at; raises :class:`LayoutError` for a stated speed
    or gain that is not > 0."""
    try:
        if speed_mm_s is not None and not speed_mm_s > 0:
            raise CalibrationError(f"paper speed must be > 0 mm/s, got {speed_mm_s}")
        return cal.gain_hint(gain_mm_mv)
    except CalibrationError as exc:
        raise LayoutError(str(exc)) from None


def _pulses_and_calibration(
    d: NDArray[np.float32],
    ink: NDArray[np.bool_],
    rows: list[TraceRow],
    geo: PulseGeometry,
    stated: tuple[float | None, float | None],
) -> tuple[PulseSearch, Calibration]:
    """The pulses and the speed and gain they settle; pulses are looked for nearest the stated
    gain (else the default), and again at the settled gain when it differs."""
    speed_mm_s, gain_mm_mv = stated
    search = find_pulses(d, ink, rows, geo)
    settled = cal.settle(
        widths_mm=[h.pulse.width_mm for h in search.hits],
        heights_mm=[h.pulse.height_mm for h in search.hits],
        speed_mm_s=speed_mm_s,
        gain_mm_mv=gain_mm_mv,
    )
    if settled.gain_mm_mv * geo.ppm_row != geo.gain_px:
        geo = PulseGeometry(geo.ppm_row, geo.ppm_col, geo.stroke, geo.half_band,
                            settled.gain_mm_mv * geo.ppm_row)  # fmt: skip
        search = find_pulses(d, ink, rows, geo)
        settled = cal.remeasured(settled, [h.pulse.height_mm for h in search.hits])
    return search, settled


def _span(
    rows: list[TraceRow], search: PulseSearch, stroke: float, px_per_s: float, n_cols: int
) -> tuple[float, float]:
    """The col (px) of t = 0 and the duration (s) every row spans."""
    pen = 0.5 * stroke
    starts = np.array([row.left - 0.5 + pen for row in rows])  # first and last samples' cols
    ends = np.array([row.right + 0.5 - pen for row in rows])
    if search.side == "left":
        starts = np.array([h.trace_col for h in search.hits])
    elif search.side == "right":
        ends = np.array([h.trace_col for h in search.hits])
    return time_span(starts, ends, search.side, px_per_s, STEP_S * n_cols)


def _lead_boxes(
    rows: list[TraceRow], labels: list[list[str]], traces: Traces, total_s: float, n_main: int
) -> tuple[LeadBox, ...]:
    """One box per cell: the row's band, the column's time span."""
    boxes = []
    for i, (row, row_labels) in enumerate(zip(rows, labels, strict=True)):
        step_s = total_s / len(row_labels)
        step_px = traces.span_px / len(row_labels)
        for k, label in enumerate(row_labels):
            col0 = traces.start + k * step_px
            boxes.append(
                LeadBox(
                    lead=label_lead(label),
                    box=Box(row.top, col0, row.bottom, col0 + step_px),
                    baseline_row=float(traces.baselines[i]),
                    t0_s=k * step_s,
                    duration_s=step_s,
                    col0=col0,
                    is_rhythm=i >= n_main,
                    inverted=label_inverted(label),
                    row_index=i,
                    col_index=k,
                )
            )
    return tuple(boxes)


def _traces(
    d: NDArray[np.float32],
    ink: NDArray[np.bool_],
    rows: list[TraceRow],
    search: PulseSearch,
    stroke: float,
    ppm: tuple[float, float],
) -> Traces:
    """The rows' traces, baselines (the pulse's foot, else the traces' most common level) and
    tolerances; the span is set later, once the layout is known."""
    ppm_row, ppm_col = ppm
    foot = {h.pulse.row_index: h.pulse.foot_row for h in search.hits}
    followed = [follow_trace(d, ink, row, stroke) for row in rows]
    return Traces(
        levels=[f.levels for f in followed],
        flat=[f.flat for f in followed],
        baselines=[foot.get(i, row_baseline(ink, row, ppm_row)) for i, row in enumerate(rows)],
        start=0.0,
        span_px=0.0,
        tol=max(1.0, 0.3 * ppm_row),
        margin=round(1.0 * ppm_col),
    )


def _rows(
    img: NDArray[np.uint8], grid: Grid, asked: LayoutName | None
) -> tuple[NDArray[np.float32], NDArray[np.bool_], list[TraceRow], float | None]:
    """The page's darkness and ink, its trace rows and their spacing (px; None for one)."""
    d, ink = ink_map(img, grid)
    if not ink.any() or ink.mean() > 0.25:
        raise LayoutError(f"no trace rows found: {100 * ink.mean():.1f} % of the page is ink")
    n_max = naming.max_rows(asked) if asked is not None else None
    rows, spacing = find_rows(ink, grid.px_per_mm_row, grid.px_per_mm_col, n_expected=n_max)
    if not rows:
        raise LayoutError("no trace rows found (no long, thin, horizontal ink)")
    return d, ink, rows, spacing


def _labels(
    image: NDArray[np.uint8], traces: Traces, ppm: tuple[float, float]
) -> naming.PageLabels:
    """The label readings at the start of each row's quarters (one batched call)."""
    spots = [
        Spot(float(base), traces.start + q * traces.span_px / 4)
        for base in traces.baselines
        for q in range(4)
    ]
    readings = read_labels(image, spots, px_per_mm_row=ppm[0], px_per_mm_col=ppm[1])
    return naming.PageLabels(tuple(tuple(readings[4 * r : 4 * r + 4])
                                   for r in range(len(traces.baselines))))  # fmt: skip


def _names(
    traces: Traces,
    count: naming.RowCount,
    asked: LayoutName | None,
    lead_order: str | None,
    labels: naming.PageLabels | None,
) -> tuple[str, tuple[str, ...]]:
    """The lead order and the rhythm strips' leads (``single``: the strip's lead, which only
    its label tells)."""
    if lead_order is not None:
        order = lead_order
    else:
        order = naming.lead_order(traces, count.base, labels)
    if asked is not None and asked.rhythm is not None:
        return order, asked.rhythm
    if count.base == "single":
        read = None if labels is None else naming.lead_from_label(labels.readings[0][0])
        return order, (read or SINGLE_LEAD,)
    return order, naming.rhythm_names(traces, count.base, order, count.n_rhythm, labels)


def find_layout(
    image: NDArray[np.uint8],
    grid: Grid,
    *,
    layout: str | None = None,
    speed_mm_s: float | None = None,
    gain_mm_mv: float | None = None,
    lead_order: str | None = None,
) -> Layout:
    """Find the lead boxes, calibration pulses and lead names of a deskewed ECG page.

    Parameters
    ----------
    image : (rows, cols, 3) uint8 RGB
        The page, deskewed (its grid lines along rows and cols).
    grid : Grid
        The page's grid (``px_per_mm_row``, ``px_per_mm_col``).
    layout : str, optional
        ``3x4``, ``6x2``, ``12x1`` or ``single`` to skip detecting it; rhythm leads may follow
        (``3x4+II,V1,V5``, ``6x2+II``, ``single+V5``), else their number and names are detected.
    speed_mm_s, gain_mm_mv : float, optional
        Paper speed (mm/s) and gain (mm/mV) the page was printed at, if known; None: from the
        calibration pulses, else 25 mm/s and 10 mm/mV (:func:`ecgtrace.calibration.settle`).
    lead_order : {"standard", "cabrera"}, optional
        The limb leads' order; None tells it from the traces (standard when unsure).

    Returns
    -------
    Layout
        Lead boxes (px), their times (s) and baselines (px), the pulses and the calibration.

    Raises
    ------
    LayoutError
        When ``layout`` or ``lead_order`` is not recognised, the grid's pitch is unknown, the
        speed or gain is not > 0, no trace rows are found, or their number fits no layout.
    """
    ppm_row, ppm_col = _check(image, grid, lead_order)
    hint = _gain_hint(speed_mm_s, gain_mm_mv)
    asked = parse_layout(layout) if layout is not None else None
    request = _Request(asked, hint, (speed_mm_s, gain_mm_mv), lead_order)
    found, extra = _find(np.asarray(image), (ppm_row, ppm_col), grid, request)
    if extra is not None:
        # A row of ink with no label on a labelled page (a header line, the sheet's edge).
        try:
            found = _find(np.asarray(image), (ppm_row, ppm_col), grid, request, drop=extra)[0]
            log.info("row %d dropped: it has no label where every other row has one", extra)
        except LayoutError:
            pass
    return found


@dataclass(frozen=True)
class _Request:
    """What the caller asked for: the layout, the gain to look for pulses at, the stated speed
    and gain, the lead order."""

    asked: LayoutName | None
    hint: float
    stated: tuple[float | None, float | None]
    lead_order: str | None


def _find(
    image: NDArray[np.uint8],
    ppm: tuple[float, float],
    grid: Grid,
    request: _Request,
    drop: int | None = None,
) -> tuple[Layout, int | None]:
    """The layout with the trace rows found, less row ``drop``; and the row that seems to be
    no trace row (:func:`_spurious`), if any."""
    ppm_row, ppm_col = ppm
    asked, lead_order = request.asked, request.lead_order
    d, ink, rows, spacing = _rows(image, grid, asked)
    if drop is not None:
        rows = rows[:drop] + rows[drop + 1 :]
    count = naming.classify(len(rows), asked)

    stroke = stroke_px(ink, rows, ppm_row)
    half_band = 0.5 * spacing if spacing else 10.0 * ppm_row
    geo = PulseGeometry(ppm_row, ppm_col, stroke, half_band, request.hint * ppm_row)
    search, settled = _pulses_and_calibration(d, ink, rows, geo, request.stated)
    px_per_s = settled.speed_mm_s * ppm_col
    start, total_s = _span(rows, search, stroke, px_per_s, N_COLUMNS[count.base])
    traces = _traces(d, ink, rows, search, stroke, (ppm_row, ppm_col))
    traces = traces.spanning(start, total_s * px_per_s)
    told = asked is not None and asked.rhythm is not None and lead_order is not None
    printed = None if told else _labels(image, traces, (ppm_row, ppm_col))
    if count.six:
        base = naming.settle_six(traces, printed)
        count = naming.RowCount(base, 3 if base == "3x4" else 0)
        start, total_s = _span(rows, search, stroke, px_per_s, N_COLUMNS[base])
        traces = traces.spanning(start, total_s * px_per_s)
    if not 1.0 <= total_s <= 30.0:
        log.warning("traces span %.1f s at %g mm/s: check the speed and the grid's pitch",
                    total_s, settled.speed_mm_s)  # fmt: skip
    order, rhythm = _names(traces, count, asked, lead_order, printed)
    labels = cell_labels(count.base, order, rhythm)
    n_feet = len(search.hits)
    result = Layout(
        name=layout_name(count.base, rhythm),
        lead_order=order,
        calibration=settled,
        pulses=search.pulses,
        boxes=_lead_boxes(rows, labels, traces, total_s, N_MAIN_STRIPS[count.base]),
        rhythm_leads=rhythm if count.base in ("3x4", "6x2") else (),
        pulse_side=search.side,
        duration_s=float(total_s),
        baseline_from="pulse" if n_feet == len(rows) else ("pulse+trace" if n_feet else "trace"),
    )
    log.info("layout %s (%s order), %d rows, %.2f s, pulses %s, pulse gain %s", result.name,
             order, len(rows), total_s, search.side, settled.pulse_gain_mm_mv)  # fmt: skip
    extra = None if printed is None or asked is not None else _spurious(printed, traces, count)
    return result, extra


def _spurious(printed: naming.PageLabels, traces: Traces, count: naming.RowCount) -> int | None:
    """The edge row the labels show to be no trace row (:func:`naming.spurious_row`), unless
    it is a rhythm strip that repeats a cell above it (some printers leave those unlabelled)."""
    extra = naming.spurious_row(printed)
    n_main = N_MAIN_STRIPS.get(count.base, 1)
    if extra is not None and extra >= n_main and count.base in ("3x4", "6x2"):
        if traces.best_cell(extra, n_main, N_COLUMNS[count.base]).fit >= 0.3:
            return None
    return extra
