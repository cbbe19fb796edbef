"""Which layout a page has and which lead each cell shows.

The number of rows decides the layout (1 single, 3-5 3x4 + 0-2 rhythm strips, 6 3x4 + 3 or
6x2, 7 6x2 + 1, 12 12x1). The printed labels, where they can be read
(:mod:`ecgtrace.layout.labels`), name the rhythm strips and a lone strip, tell 3x4 + 3 strips
from 6x2 and the limb leads' order. Where they cannot, the traces do: a rhythm strip repeats,
sample for sample, the cell of the same lead above it; Cabrera's order is told from the
standard one by which assignment of limb leads satisfies Einthoven's and Goldberger's laws (the
six limb leads are two signals mixed).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ecgtrace.layout.labels import Reading
from ecgtrace.layout.traces import Traces
from ecgtrace.leads import (
    DEFAULT_RHYTHM,
    LEAD_ORDERS,
    LIMB_MIX,
    MAX_RHYTHM,
    N_COLUMNS,
    N_MAIN_STRIPS,
    LayoutError,
    LayoutName,
    cell_labels,
    label_inverted,
    label_lead,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowCount:
    """What a number of trace rows says of the layout: its ``base`` and number of rhythm
    strips, or ``six`` when 6 rows leave 3x4 + 3 strips and 6x2 to tell apart (``base`` is then
    6x2 until :func:`settle_six` decides)."""

    base: str
    n_rhythm: int
    six: bool = False


LABEL_SURE = 0.7  # a label reading counts at this probability or above


@dataclass(frozen=True)
class PageLabels:
    """The label readings of a page: ``readings[row][q]`` at the start of the row's quarter
    ``q`` of the span (q = 0..3: the cells of 3x4; 6x2's are at 0 and 2, 12x1's at 0)."""

    readings: tuple[tuple[Reading, ...], ...]

    def printed(self, rows: range, quarters: tuple[int, ...]) -> float:
        """The mean probability that a label stands at these rows' quarters (rows past the
        page's end are left out)."""
        p = [1.0 - self.readings[r][q].p("none") for r in rows if r < len(self.readings)
             for q in quarters]  # fmt: skip
        return float(np.mean(p)) if p else 0.0


def six_from_labels(labels: PageLabels) -> str | None:
    """``3x4`` when labels stand at the 2nd and 4th cells of 3x4's rows (6x2 has none
    there), ``6x2`` when none stand there but at the starts of all six rows; None if unsure."""
    inner = labels.printed(range(3), (1, 3))
    if inner >= LABEL_SURE:
        return "3x4"
    if inner <= 1.0 - LABEL_SURE and labels.printed(range(6), (0,)) >= LABEL_SURE:
        return "6x2"
    return None


def order_from_labels(labels: PageLabels, base: str) -> str | None:
    """The limb leads' order the printed labels show: the cells where the orders differ read
    as one order's labels (mean probability >= :data:`LABEL_SURE`, twice the other's); None
    if unsure."""
    if base == "single":
        return None
    per_order = {o: cell_labels(base, o, ()) for o in LEAD_ORDERS}
    n_cols = N_COLUMNS[base]
    scores: dict[str, list[float]] = {o: [] for o in LEAD_ORDERS}
    first, *others = LEAD_ORDERS
    for r, row in enumerate(per_order[first]):
        for k, label in enumerate(row):
            if r >= len(labels.readings) or all(per_order[o][r][k] == label for o in others):
                continue
            reading = labels.readings[r][k * 4 // n_cols]
            for o in LEAD_ORDERS:
                scores[o].append(reading.p(per_order[o][r][k]))
    mean = {o: float(np.mean(v)) if v else 0.0 for o, v in scores.items()}
    best = max(mean, key=lambda o: mean[o])
    rest = max((mean[o] for o in LEAD_ORDERS if o != best), default=0.0)
    return best if mean[best] >= LABEL_SURE and mean[best] >= 2.0 * rest else None


def lead_from_label(reading: Reading, taken: Sequence[str] = ()) -> str | None:
    """The lead a strip's label names, if read surely and not ``taken`` by another strip."""
    label, p = reading.best
    lead = label_lead(label)
    return lead if label != "none" and p >= LABEL_SURE and lead not in taken else None


def spurious_row(labels: PageLabels) -> int | None:
    """The top or bottom row that is no trace row, if the labels show one: no label at any
    of its quarters (each read ``none`` at p >= 0.95) on a page where the other rows carry
    labels read surely, naming at least half as many different leads as there are rows. None
    otherwise."""

    def bare(r: int) -> bool:
        return all(x.p("none") >= 0.95 for x in labels.readings[r])

    def labelled(r: int) -> bool:
        return any(x.best[0] != "none" and x.best[1] >= LABEL_SURE for x in labels.readings[r])

    def lead(r: int) -> str:
        read = [x.best for x in labels.readings[r] if x.best[0] != "none"]
        return label_lead(max(read, key=lambda b: b[1])[0])

    n = len(labels.readings)
    for r in (n - 1, 0):
        others = [k for k in range(n) if k != r and labelled(k)]
        # Labels name different leads: one mark read alike on every row (a pulse's stroke
        # read as I) is no label.
        if n > 1 and bare(r) and len({lead(k) for k in others}) >= 0.5 * (n - 1):
            return r
    return None


def labels_trusted(labels: PageLabels, base: str) -> bool:
    """Whether the main rows' readings show the labels ``base`` prints (in either order) in
    at least 60 % of its cells: only then do the rhythm strips' readings count."""
    if base not in ("3x4", "6x2"):
        return True
    n_cols = N_COLUMNS[base]
    grids = [cell_labels(base, o, ()) for o in LEAD_ORDERS]
    hits = []
    for r in range(min(N_MAIN_STRIPS[base], len(labels.readings))):
        for k in range(n_cols):
            reading = labels.readings[r][k * 4 // n_cols]
            hits.append(max(reading.p(g[r][k]) for g in grids))
    return bool(hits) and float(np.mean(hits)) >= 0.6


def limb_misfit(traces: Traces, base: str, order: str) -> float:
    """How badly the limb leads, named in ``order``, break Einthoven's and Goldberger's laws:
    the residual's share of the signal (RMS), inf when not testable.

    In each time window (a column of the layout) the limb leads drawn are mixes of leads I and
    II: stacked (leads, time) they have rank 2 when named right. Only cols where every trace is
    flat count (a steep stroke's centre is not its sample's level).
    """
    labels = cell_labels(base, order, ())
    n_cols = N_COLUMNS[base]
    resid_sq, total_sq = 0.0, 0.0
    for k in range(n_cols):
        cols = traces.window(k, n_cols)
        names, rows, ok = [], [], []
        for r, row_labels in enumerate(labels):
            if k < len(row_labels) and label_lead(row_labels[k]) in LIMB_MIX:
                names.append(row_labels[k])
                sign = -1.0 if label_inverted(row_labels[k]) else 1.0
                rows.append(sign * (traces.baselines[r] - traces.levels[r][cols]))
                ok.append(traces.flat[r][cols])
        if len(rows) < 3:
            continue
        y = np.array(rows)
        y = y[:, np.all(np.isfinite(y), axis=0) & np.all(ok, axis=0)]
        if y.shape[1] < 20:
            continue
        y -= y.mean(axis=1, keepdims=True)
        mix = np.array([LIMB_MIX[label_lead(n)] for n in names])
        resid = y - mix @ np.linalg.lstsq(mix, y, rcond=None)[0]
        resid_sq += float(np.sum(resid**2))
        total_sq += float(np.sum(y**2))
    return math.sqrt(resid_sq / total_sq) if total_sq > 0 else math.inf


def settle_six(traces: Traces, labels: PageLabels | None = None) -> str:
    """``3x4`` (with 3 rhythm strips) or ``6x2`` for a page of 6 rows: as the labels show
    (:func:`six_from_labels`), else by the traces: 3x4's strips repeat cells above them; 6x2's
    first column holds the six limb leads, which Einthoven's and Goldberger's laws tie
    together."""
    said = None if labels is None else six_from_labels(labels)
    if said is not None:
        log.debug("6 rows: %s (the labels)", said)
        return said
    fits = [traces.best_cell(r, 3, 4).fit for r in range(3, 6)]
    misfit_6x2 = min(limb_misfit(traces, "6x2", o) for o in LEAD_ORDERS)
    repeat = float(np.mean(fits))
    base = "3x4" if repeat >= 0.5 and (misfit_6x2 > 0.3 or repeat >= 0.85) else "6x2"
    log.debug(
        "6 rows: strips repeat cells above by %s, 6x2 limb misfit %.2f: %s",
        np.round(fits, 2),
        misfit_6x2,
        base,
    )
    return base


def lead_order(traces: Traces, base: str, labels: PageLabels | None = None) -> str:
    """The order the labels show (:func:`order_from_labels`), else Cabrera's when it fits the
    limb leads' laws at least twice as well, else standard."""
    if base == "single":
        return "standard"
    said = None if labels is None else order_from_labels(labels, base)
    if said is not None:
        log.debug("limb-lead order %s (the labels)", said)
        return said
    misfit = {o: limb_misfit(traces, base, o) for o in LEAD_ORDERS}
    order = "cabrera" if misfit["cabrera"] < 0.5 * misfit["standard"] else "standard"
    log.debug("limb-lead misfit %s: %s order", misfit, order)
    return order


def rhythm_names(
    traces: Traces, base: str, order: str, n_rhythm: int, labels: PageLabels | None = None
) -> tuple[str, ...]:
    """The leads of the rhythm strips: the one each strip's label names (on a page whose cell
    labels are read, :func:`labels_trusted`), else the cell it repeats, else the usual II, V1,
    V5."""
    n_main, n_cols = N_MAIN_STRIPS[base], N_COLUMNS[base]
    main_labels = cell_labels(base, order, ())
    named: list[str] = []
    if labels is not None and not labels_trusted(labels, base):
        labels = None  # the cells' labels are not read: neither are the strips'.
    for strip in range(n_main, n_main + n_rhythm):
        best = traces.best_cell(strip, n_main, n_cols)
        lead = label_lead(main_labels[best.row][best.col])
        # A clear match, or a weak one well ahead of the rest (rows crowded by overlap).
        sure = best.fit >= 0.6 or (best.fit >= 0.3 and best.fit >= 1.6 * best.runner_up)
        read = None if labels is None else lead_from_label(labels.readings[strip][0], named)
        # The label wins, unless the traces surely repeat another cell, far better than the
        # label's (a label crossed by the trace's spike reads II as I).
        overruled = (
            best.fit >= 0.6
            and lead != read
            and _fit_of(traces, strip, str(read), main_labels) < 0.6 * best.fit
        )
        if read is not None and not overruled:
            log.debug("rhythm strip %d: %s (its label)", strip, read)
            named.append(read)
            continue
        if not sure or lead in named:
            lead = next(x for x in DEFAULT_RHYTHM if x not in named)
        log.debug(
            "rhythm strip %d: %s (match %.2f, next %.2f)", strip, lead, best.fit, best.runner_up
        )
        named.append(lead)
    return tuple(named)


def _fit_of(traces: Traces, strip: int, lead: str, main_labels: list[list[str]]) -> float:
    """How well a rhythm strip repeats the cell of ``lead`` (0 when no cell shows it)."""
    n_cols = len(main_labels[0])
    for r, row in enumerate(main_labels):
        for k, label in enumerate(row):
            if label_lead(label) == lead:
                return traces.fit(strip, r, k, n_cols)
    return 0.0


def max_rows(asked: LayoutName) -> int:
    """The most trace rows the asked-for layout can have."""
    if asked.base == "single":
        return 1
    n_rhythm = MAX_RHYTHM[asked.base] if asked.rhythm is None else len(asked.rhythm)
    return N_MAIN_STRIPS[asked.base] + n_rhythm


def classify(n: int, asked: LayoutName | None) -> RowCount:
    """The layout that has ``n`` trace rows (checked against ``asked`` when given).

    Raises :class:`LayoutError` when no layout, or not the asked one, has that many rows."""
    if asked is not None:
        n_main = N_MAIN_STRIPS[asked.base]
        lo = n_main + (0 if asked.rhythm is None else len(asked.rhythm))
        hi = max_rows(asked)
        if asked.base == "single":
            lo = hi = 1
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo}-{hi}"
            raise LayoutError(f"found {n} trace rows; layout {asked.base} has {want}")
        return RowCount(asked.base, n - n_main if asked.base != "single" else 0)
    if n == 1:
        return RowCount("single", 0)
    if 3 <= n <= 5:
        return RowCount("3x4", n - 3)
    if n == 6:
        return RowCount("6x2", 0, six=True)
    if n == 7:
        return RowCount("6x2", 1)
    if n == 12:
        return RowCount("12x1", 0)
    raise LayoutError(
        f"found {n} trace rows: no layout has that many (3x4: 3-6, 6x2: 6-7, 12x1: 12, single: 1)"
    )
