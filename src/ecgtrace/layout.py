"""Page understanding: trace rows, lead boxes, calibration pulses and lead names of an ECG page.

:func:`find_layout` reads a deskewed RGB page and its :class:`~ecgtrace.grid.Grid` and returns a
:class:`Layout`: where each lead was drawn (a :class:`LeadBox` per cell of the layout: its band
in rows, its time span in cols, the row of 0 mV), which part of the recording it shows (start
time and duration, s), the calibration pulses and the gain they show. The method:

1. **Ink.** Per-pixel darkness with coloured grids suppressed
   (:func:`ecgtrace.segment.classical.darkness`), lines that run the whole page (a grey grid)
   taken out, thresholded at a third of the ink's darkness.
2. **Rows.** Traces are long, thin, horizontal ink, flat most of the time: the share of inked
   columns per pixel row, smoothed over ~1.5 mm, peaks at each trace row. The row spacing (its
   autocorrelation) sets how far apart two peaks must be; a peak is kept when the ink around it
   runs without a break over most of the page (text does not), is thin (noise is not) and
   crosses the row once per col (text crosses it two or three times). Rows are evenly spaced,
   so a gap of two spacings is searched again for a row drowned by crowded neighbours.
3. **Pulses.** Two vertical strokes of the same height ~0.2 s apart, joined by an inked plateau
   over an empty inside, at the start or end of a row. The foot is the row's 0 mV line; the
   height is the gain (mm per 1 mV).
4. **Time.** All rows span the same time: the ends of the traces (the end away from the pulses
   is exact, the one next to them is found from the pulse's geometry) over the paper speed give
   the duration, rounded to the 0.05 s per column the printers (and the renderer) use.
5. **Layout.** The number of rows decides it (1 single, 3-5 3x4 + 0-2 rhythm strips, 6 3x4 + 3
   or 6x2, 7 6x2 + 1, 12 12x1). Rhythm strips and the 6-row case are told apart by matching
   traces: a rhythm strip repeats, sample for sample, the cell of the same lead above it.
6. **Names.** The layout's order; Cabrera's order is told from the standard one by which
   assignment of limb leads satisfies Einthoven's and Goldberger's laws (the six limb leads are
   two signals mixed), when ``lead_order`` is not given.

Positions are px (row, col) in the image; times s; lengths mm; gain mm/mV; speed mm/s.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi
from scipy import signal

from ecgtrace.grid import Grid
from ecgtrace.segment.classical import darkness
from ecgtrace.types import LEAD_NAMES, Box

log = logging.getLogger(__name__)

LAYOUT_NAMES: tuple[str, ...] = ("3x4", "6x2", "12x1", "single")
LEAD_ORDERS: tuple[str, ...] = ("standard", "cabrera")
# Limb leads in the first six positions of a layout ("-aVR": aVR drawn inverted).
LIMB_ORDERS: dict[str, tuple[str, ...]] = {
    "standard": ("I", "II", "III", "aVR", "aVL", "aVF"),
    "cabrera": ("aVL", "I", "-aVR", "II", "aVF", "III"),
}
# Each limb lead as a mix of leads I and II (Einthoven's and Goldberger's laws).
_LIMB_MIX: dict[str, tuple[float, float]] = {
    "I": (1.0, 0.0),
    "II": (0.0, 1.0),
    "III": (-1.0, 1.0),
    "aVR": (-0.5, -0.5),
    "aVL": (1.0, -0.5),
    "aVF": (-0.5, 1.0),
}
_DEFAULT_RHYTHM = ("II", "V1", "V5")  # the usual strips, in the usual order
_MAX_RHYTHM = {"3x4": 3, "6x2": 1, "12x1": 0, "single": 1}
_N_COLS = {"3x4": 4, "6x2": 2, "12x1": 1, "single": 1}
_N_MAIN = {"3x4": 3, "6x2": 6, "12x1": 12, "single": 1}
_PULSE_GAP_MM = 0.5  # between a pulse's foot and the trace: the renderer's; printers leave 0-1
_STEP_S = 0.05  # printers cut columns to whole 0.05 s
_GAIN_TOLERANCE = 0.10
_LAYOUT_RE = re.compile(r"^(3x4|6x2|12x1|single)(?:\+([A-Za-z0-9]+(?:,[A-Za-z0-9]+)*))?$")


class LayoutError(ValueError):
    """The page's layout cannot be found or the requested one is not recognised."""


@dataclass(frozen=True)
class Pulse:
    """A calibration pulse (a 1 mV step): its ``box`` (px), ``height_mm`` (foot to plateau,
    centre to centre of the pen, = the gain in mm/mV), the ``foot_row`` (px, the row's 0 mV
    line), the ``row_index`` of its trace row (0 at the top), the ``side`` of the row it is
    on (``left`` or ``right``) and ``width_mm``, stroke to stroke (0.2 s of paper)."""

    box: Box
    height_mm: float
    foot_row: float
    row_index: int
    side: str
    width_mm: float = 0.0

    @property
    def gain_mm_mv(self) -> float:
        return self.height_mm  # the pulse is 1 mV tall


@dataclass(frozen=True)
class LeadBox:
    """One lead drawn over one time span (a cell of the layout or a rhythm strip).

    ``box`` (px) is the lead's band: its time span in cols, halfway to the neighbouring rows in
    rows. ``baseline_row`` (px) is the row of 0 mV; ``t0_s`` the start of the span in the
    recording and ``duration_s`` its length; ``col0`` (px) the col of ``t0_s``, so that time t
    lies at ``col0 + (t - t0_s) * speed_mm_s * px_per_mm_col``. ``inverted`` marks a lead drawn
    upside down (Cabrera's -aVR).
    """

    lead: str
    box: Box
    baseline_row: float
    t0_s: float
    duration_s: float
    col0: float
    is_rhythm: bool
    inverted: bool = False
    row_index: int = 0
    col_index: int = 0


@dataclass(frozen=True)
class Layout:
    """What is where on an ECG page.

    ``name`` is e.g. ``3x4+II``, ``3x4+II,V1,V5``, ``6x2``, ``12x1`` or ``single``; ``speed_mm_s``
    and ``gain_mm_mv`` are as given; ``pulse_gain_mm_mv`` is the gain the calibration pulses show
    (their median height, None without pulses) and ``gain_agrees`` whether it is within 10 % of
    ``gain_mm_mv`` (None without pulses). ``calibration`` is the side of the pulses (``left``,
    ``right`` or ``none``); ``duration_s`` the time every row spans; ``baseline_from`` tells
    where the 0 mV rows come from (``pulse``: exact; ``trace``: the traces' most common level,
    which carries the recording's own offset; ``pulse+trace``: some rows each).
    """

    name: str
    lead_order: str
    speed_mm_s: float
    gain_mm_mv: float
    pulse_gain_mm_mv: float | None
    gain_agrees: bool | None
    pulses: tuple[Pulse, ...]
    boxes: tuple[LeadBox, ...]
    rhythm_leads: tuple[str, ...]
    calibration: str
    duration_s: float
    baseline_from: str

    def lead_boxes(self, lead: str) -> tuple[LeadBox, ...]:
        """The boxes of one lead (a cell and maybe a rhythm strip), top to bottom."""
        return tuple(b for b in self.boxes if b.lead == lead)


# ---- the parts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    peak: float  # px: the row's profile peak (its traces' most common level)
    top: float  # px: the band, halfway to the neighbours
    bottom: float
    left: int  # px: the first and last inked col of the row's run of ink
    right: int


@dataclass(frozen=True)
class LayoutSpec:
    base: str
    rhythm: tuple[str, ...] | None  # None: detect


def parse_layout(layout: str) -> LayoutSpec:
    """``3x4``, ``3x4+II,V1,V5``, ``6x2+II``, ``12x1``, ``single+V5`` into its parts."""
    m = _LAYOUT_RE.match(layout.replace(" ", ""))
    if m is None:
        raise LayoutError(
            f"unknown layout {layout!r}; use {', '.join(LAYOUT_NAMES)}, with rhythm leads as "
            "in 3x4+II,V1,V5"
        )
    base = m.group(1)
    if m.group(2) is None:
        return LayoutSpec(base, None)
    aliases = {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}
    leads = tuple(aliases.get(x.upper(), x.upper()) for x in m.group(2).split(","))
    bad = [x for x in leads if x not in LEAD_NAMES]
    if bad:
        raise LayoutError(f"unknown lead {bad[0]!r} in layout {layout!r}")
    if len(leads) > _MAX_RHYTHM[base]:
        raise LayoutError(f"layout {base} takes at most {_MAX_RHYTHM[base]} rhythm leads")
    return LayoutSpec(base, leads)


def _layout_name(base: str, rhythm: tuple[str, ...]) -> str:
    if base in ("single", "12x1") or not rhythm:
        return base
    return f"{base}+{','.join(rhythm)}"


def _ink(image: NDArray[np.uint8], grid: Grid) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Darkness (rows, cols) float32 in [0, 1] with the grid's lines taken out, and the ink
    mask (rows, cols) bool.

    A grey grid's major lines are as dark as a thin pen's soft edges (0.4), so they are taken
    out first: the darkness along every row and every col, at its 20th percentile, is what a
    line running the whole page adds (a trace covers far less of any row or col).
    """
    ppm = 0.5 * (grid.px_per_mm_row + grid.px_per_mm_col)
    # The paper around (2.5 mm: wider than any pen stroke) is what darkness is measured against.
    d = darkness(image, background_px=max(3, round(2.5 * ppm)) | 1)
    lines = np.maximum(np.percentile(d, 20, axis=1)[:, None], np.percentile(d, 20, axis=0)[None, :])
    d = np.clip(d - lines, 0.0, 1.0).astype(np.float32)
    ink_level = float(np.percentile(d, 99.9))
    # A third of the ink's darkness: a thin pen's pixels are only partly covered.
    thr = max(0.35 * ink_level, 0.1)
    log.debug("ink level %.2f: threshold %.2f", ink_level, thr)
    return d, d > thr


def _longest_run(mask: NDArray[np.bool_], gap: int) -> tuple[int, int]:
    """(first, last) index of the longest run of True in a 1-D mask, bridging gaps <= ``gap``;
    (0, -1) when empty. The ends are real True entries."""
    if not mask.any():
        return 0, -1
    bridged = ndi.binary_closing(mask, np.ones(2 * gap + 1, bool)) if gap > 0 else mask
    bridged |= mask  # closing erodes the array's own ends
    edges = np.flatnonzero(np.diff(np.concatenate(([0], bridged.astype(np.int8), [0]))))
    starts, stops = edges[::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    idx = np.flatnonzero(mask[starts[k] : stops[k]]) + starts[k]
    return int(idx[0]), int(idx[-1])


def _row_spacing(ink: NDArray[np.bool_], ppm_row: float, ppm_col: float) -> float | None:
    """The trace rows' spacing (px) from the autocorrelation of the ink's row profile; None when
    nothing repeats (a single row).

    Profiled in 25 mm wide strips, their autocorrelations summed: within a strip each row holds
    one lead at one level, while across a row its leads sit at levels a few mm apart (their own
    offsets), which smears a whole-page profile.
    """
    width = max(8, round(25.0 * ppm_col))
    inked = np.flatnonzero(ink.any(axis=0))
    if inked.size == 0:
        return None
    total = np.zeros(ink.shape[0])
    for c0 in range(int(inked[0]), int(inked[-1]) + 1, width):
        prof = ndi.gaussian_filter1d(
            ink[:, c0 : c0 + width].mean(axis=1, dtype=np.float64), 0.75 * ppm_row
        )
        x = prof - prof.mean()
        total += signal.correlate(x, x, mode="full", method="fft")[x.size - 1 :]
    if not total[0] > 0:
        return None
    ac = total / total[0]
    lo = round(4 * ppm_row)  # no two rows are closer than 4 mm
    peaks, props = signal.find_peaks(ac[lo:], height=0.1)
    if peaks.size == 0:
        return None
    # The highest: rows repeat, a pulse's plateau above each baseline (a nearer peak) does not.
    return float(peaks[np.argmax(props["peak_heights"])] + lo)


def _find_rows(
    ink: NDArray[np.bool_], ppm_row: float, ppm_col: float, *, n_expected: int | None
) -> tuple[list[_Row], float | None]:
    """The trace rows of a page, top to bottom, and their spacing (px; None for one row)."""
    n_rows = ink.shape[0]
    profile = ndi.gaussian_filter1d(ink.mean(axis=1, dtype=np.float64), 0.75 * ppm_row)
    spacing = _row_spacing(ink, ppm_row, ppm_col)
    distance = max(1.0, 0.55 * spacing if spacing else 3.0 * ppm_row)
    peaks, _ = signal.find_peaks(
        profile, distance=distance, prominence=max(0.15 * profile.max(), 1e-3)
    )
    half = 0.5 * spacing if spacing else 20.0 * ppm_row  # a lone strip's waves reach far
    gap = max(1, round(1.0 * ppm_col))

    def candidate(p: int) -> tuple[int, int, int, float, float, float, float, float]:
        """(row, left, right, run in mm, thickness (<= 1: thin), profile height, coverage,
        share of cols crossed twice or more near the row's level)."""
        r0, r1 = max(0, round(p - half)), min(n_rows, round(p + half) + 1)
        band = ink[r0:r1]
        has = np.any(band, axis=0)
        # A trace may leave its band (a deep wave, rows crowded) for a while: bridge 3 mm.
        left, right = _longest_run(has, 3 * gap)
        run_mm = (right - left + 1) / ppm_col
        coverage = float(has[left : right + 1].mean()) if right >= left else 0.0
        # A trace is thin: a few px of ink per col of the band (noise fills it).
        thick = float(np.median(band[:, left : right + 1].sum(axis=0))) if right >= left else 0.0
        thick /= max(0.15 * band.shape[0], 1.5 * ppm_row)
        # Text crosses a line through it two or three times in many cols, a trace once.
        near = ink[max(0, round(p - 2.5 * ppm_row)) : round(p + 2.5 * ppm_row) + 1]
        crossings = np.count_nonzero(np.diff(near.astype(np.int8), axis=0) == 1, axis=0) + near[0]
        inked = crossings > 0
        multi = float(np.mean(crossings[inked] > 1)) if inked.any() else 1.0
        return int(p), left, right, run_mm, thick, float(profile[p]), coverage, multi

    cands = [candidate(int(p)) for p in peaks]
    if not cands:
        return [], spacing
    longest = max(c[3] for c in cands)

    def valid(
        c: tuple[int, int, int, float, float, float, float, float], share: float = 0.5
    ) -> bool:
        # Long, thin, unbroken (text has gaps between its letters and words) and not text.
        long = c[3] >= max(20.0, share * longest)
        return long and c[4] <= 1.0 and c[6] >= 0.85 and c[7] <= 0.2

    kept = [c for c in cands if valid(c)]
    if spacing and len(kept) >= 2:
        # Rows are evenly spaced: look again, more leniently, where one seems to be missing (its
        # peak drowned by crowded neighbours).
        for c_a, c_b in itertools.pairwise(kept):
            n_gap = round((c_b[0] - c_a[0]) / spacing)
            for j in range(1, n_gap):
                at = c_a[0] + j * (c_b[0] - c_a[0]) / n_gap
                lo, hi = max(0, round(at - 0.25 * spacing)), round(at + 0.25 * spacing) + 1
                extra = candidate(lo + int(np.argmax(profile[lo:hi])))
                if valid(extra, share=0.3):
                    kept.append(extra)
        kept.sort()
    log.debug("row candidates %s, spacing %s px: kept %d", cands, spacing, len(kept))
    if n_expected is not None and len(kept) > n_expected:
        # Keep the strongest rows (an override knows how many there are).
        kept = sorted(sorted(kept, key=lambda c: -c[5])[:n_expected])
    if not kept:
        return [], spacing
    centres = np.array([c[0] for c in kept], dtype=np.float64)
    step = float(np.median(np.diff(centres))) if centres.size > 1 else math.nan
    rows = []
    for i, (p, left, right, *_rest) in enumerate(kept):
        if centres.size > 1:
            up = (centres[i] - centres[i - 1]) / 2 if i > 0 else step / 2
            down = (centres[i + 1] - centres[i]) / 2 if i + 1 < centres.size else step / 2
        else:  # a single strip: its band is as tall as its ink
            r_ink = np.flatnonzero(ink[:, left : right + 1].any(axis=1))
            up = p - r_ink[0] + ppm_row
            down = r_ink[-1] - p + ppm_row
        rows.append(
            _Row(
                peak=float(p),
                top=max(-0.5, p - up),
                bottom=min(n_rows - 0.5, p + down),
                left=left,
                right=right,
            )
        )
    return rows, (step if centres.size > 1 else None)


def _stroke_px(ink: NDArray[np.bool_], rows: list[_Row], ppm_row: float) -> float:
    """The pen's width (px): the median vertical run of ink where the rows' traces are flat
    (near their level, and no taller than a thick pen, 1.2 mm)."""
    near, thickest = max(3.0, 1.5 * ppm_row), max(2.0, 1.2 * ppm_row)
    runs = []
    for row in rows:
        r0, r1 = max(0, math.ceil(row.peak - near)), math.floor(row.peak + near) + 1
        counts = np.count_nonzero(ink[r0:r1, row.left : row.right + 1], axis=0)
        runs.append(counts[(counts > 0) & (counts <= thickest)])
    all_runs = np.concatenate(runs) if runs else np.zeros(0)
    return float(np.median(all_runs)) if all_runs.size else 1.0


@dataclass(frozen=True)
class _Geometry:
    """Sizes (px) shared by the pulse search."""

    ppm_row: float
    ppm_col: float
    stroke: float
    half_band: float  # half the row spacing (or a guess for one row)
    gain_px: float  # the stated gain, px per mV


def _pulse_edges(
    ink: NDArray[np.bool_], row: _Row, side: str, geo: _Geometry
) -> tuple[float, float] | None:
    """The cols (px) of the two vertical strokes of a calibration pulse at one end of a row:
    equally tall, 2.5-12 mm apart (0.2 s at 12.5-60 mm/s), within 16 mm of the row's end (the
    pulse's inside can break the row's run of ink, so on either side of it); of several pairs,
    the one whose foot is nearest the row's level. None when there is no such pair."""
    reach = round(16.0 * geo.ppm_col)  # a pulse at 50 mm/s (1 + 10 + 1 mm) and its feet
    r0 = max(0, round(row.peak - 30.0 * geo.ppm_row))  # pulses stand above the baseline
    r1 = min(ink.shape[0], round(row.peak + geo.half_band) + 1)
    end = row.left if side == "left" else row.right
    c0, c1 = max(0, end - reach), min(ink.shape[1], end + reach + 1)
    win = ink[r0:r1, c0:c1]
    vert = ndi.binary_opening(win, np.ones((max(3, round(2.5 * geo.ppm_row)), 1), bool))
    labels, _ = ndi.label(vert, np.ones((3, 3), bool))
    strokes = []
    for k, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is not None:
            cols = np.flatnonzero((labels[sl] == k).any(axis=0)) + sl[1].start
            strokes.append((sl[0].start, sl[0].stop - 1, float(cols.mean())))
    tol = max(2.0, 0.6 * geo.ppm_row)
    best: tuple[float, float, float] | None = None
    for a in strokes:
        for b in strokes:
            if not 2.5 <= (b[2] - a[2]) / geo.ppm_col <= 12.0:
                continue
            if abs(a[0] - b[0]) > tol or abs(a[1] - b[1]) > tol:
                continue
            off = abs(r0 + 0.5 * (a[1] + b[1]) - row.peak)
            if best is None or off < best[0]:
                best = (off, c0 + a[2], c0 + b[2])
    return None if best is None else (best[1], best[2])


def _leading(mask: NDArray[np.bool_]) -> int:
    """How many entries a 1-D mask starts with that are True."""
    return int(mask.size if mask.all() else np.argmin(mask))


def _lines(profile: NDArray[np.float64], min_level: float) -> NDArray[np.float64]:
    """Rows (px, sub-pixel, relative to the profile) of the horizontal lines in a darkness
    profile: its peaks above ``min_level``, each refined to the centroid of its neighbours."""
    peaks, _ = signal.find_peaks(profile, height=min_level)
    out = []
    for p in peaks:
        lo, hi = max(0, p - 2), min(profile.size, p + 3)
        w = profile[lo:hi]
        out.append(float((w * np.arange(lo, hi)).sum() / w.sum()))
    return np.array(out, dtype=np.float64)


def _measure_pulse(
    d: NDArray[np.float32],
    ink: NDArray[np.bool_],
    row: _Row,
    index: int,
    side: str,
    edges: tuple[float, float],
    geo: _Geometry,
) -> tuple[Pulse, float] | None:
    """The pulse between ``edges`` (cols, px) of one row, and the col (px) of the trace's first
    (``side="left"``) or last sample. Its foot is the line outside the strokes nearest the row's
    traces; its plateau the line between them above the foot, nearest the stated gain (when the
    rows are tight, the pulses of the neighbours line up in the same cols)."""
    a, b = edges
    pen = 0.5 * geo.stroke
    r0 = max(0, round(row.peak - 40.0 * geo.ppm_row))
    r1 = min(d.shape[0], round(row.peak + geo.half_band) + 1)
    reach = max(2, round(0.8 * geo.ppm_col))
    inner = np.arange(math.ceil(a + geo.stroke), math.floor(b - geo.stroke) + 1)
    outer = np.concatenate(
        [
            np.arange(math.floor(a - geo.stroke) - reach + 1, math.floor(a - geo.stroke) + 1),
            np.arange(math.ceil(b + geo.stroke), math.ceil(b + geo.stroke) + reach),
        ]
    )
    outer = outer[(outer >= 0) & (outer < d.shape[1])]
    if inner.size < 2 or outer.size < 2:
        return None
    # Darkness near ink only: the pen's soft edges count, grid lines do not.
    near_ink = ndi.binary_dilation(ink[r0:r1], np.ones((3, 1), bool))
    sub = np.where(near_ink, d[r0:r1], 0.0).astype(np.float64)
    feet = _lines(sub[:, outer].mean(axis=1), 0.25) + r0
    tops = _lines(sub[:, inner].mean(axis=1), 0.5) + r0
    near = feet[np.abs(feet - row.peak) <= max(geo.half_band * 0.8, 3.0 * geo.ppm_row)]
    if near.size == 0:
        return None
    foot = float(near[np.argmin(np.abs(near - row.peak))])
    above = tops[(tops <= foot - 2.5 * geo.ppm_row) & (tops >= foot - 40.0 * geo.ppm_row)]
    if above.size == 0:
        return None
    top = float(above[np.argmin(np.abs(foot - above - geo.gain_px))])
    # Both strokes must run from the plateau down to the foot.
    span = slice(math.ceil(top + geo.stroke), math.floor(foot - geo.stroke) + 1)
    for c in (a, b):
        cols = slice(max(0, round(c) - 1), round(c) + 2)
        if span.stop > span.start and ink[span, cols].any(axis=1).mean() < 0.8:
            return None
    height_mm = (foot - top) / geo.ppm_row
    # The pulse's outer end: where the foot's ink stops, past the outer stroke.
    along = np.any(ink[max(0, round(foot) - 1) : round(foot) + 2], axis=0)
    limit = 4.0 * geo.ppm_col  # a foot is ~1 mm long
    if side == "left":
        c = math.floor(a - geo.stroke)
        c -= _leading(along[max(0, math.ceil(a - limit)) : c][::-1])
        edge = c - 0.5
        foot_len = a - edge - pen
        trace_col = b + foot_len + _PULSE_GAP_MM * geo.ppm_col
        cols_box = (edge, b + foot_len + pen)
    else:
        c = math.ceil(b + geo.stroke)
        c += _leading(along[c + 1 : math.floor(b + limit) + 1])
        edge = c + 0.5
        foot_len = edge - pen - b
        trace_col = a - foot_len - _PULSE_GAP_MM * geo.ppm_col
        cols_box = (a - foot_len - pen, edge)
    box = Box(top - geo.stroke, cols_box[0], foot + geo.stroke, cols_box[1])
    pulse = Pulse(
        box=box,
        height_mm=height_mm,
        foot_row=foot,
        row_index=index,
        side=side,
        width_mm=(b - a) / geo.ppm_col,
    )
    return pulse, float(trace_col)


def _find_pulses(
    d: NDArray[np.float32], ink: NDArray[np.bool_], rows: list[_Row], geo: _Geometry
) -> tuple[str, list[tuple[Pulse, float]]]:
    """The side of the calibration pulses (``left``, ``right`` or ``none``) and, per row that has
    one, its pulse and the col of its trace's end next to it. The strokes' cols are shared by
    all rows (their median), which keeps a row whose pulse is crowded by its neighbours'."""
    best: tuple[str, list[tuple[Pulse, float]]] = ("none", [])
    for side in ("left", "right"):
        found = [e for e in (_pulse_edges(ink, row, side, geo) for row in rows) if e is not None]
        if not found:
            continue
        edges = (float(np.median([e[0] for e in found])), float(np.median([e[1] for e in found])))
        hits = [_measure_pulse(d, ink, row, i, side, edges, geo) for i, row in enumerate(rows)]
        kept = [h for h in hits if h is not None]
        if len(kept) > len(best[1]):
            best = (side, kept)
    return best


def _row_baseline(ink: NDArray[np.bool_], row: _Row, ppm_row: float) -> float:
    """The row's most common trace level (px, sub-pixel): its traces' share of inked cols per
    pixel row, lightly smoothed, at its peak near the row's profile peak."""
    r0, r1 = max(0, math.ceil(row.top)), math.floor(row.bottom) + 1
    prof = ink[r0:r1, row.left : row.right + 1].mean(axis=1, dtype=np.float64)
    prof = ndi.gaussian_filter1d(prof, 0.4 * ppm_row)
    near = np.abs(np.arange(r0, r1) - row.peak) <= 3.0 * ppm_row
    k = int(np.argmax(np.where(near, prof, -1.0)))
    if 0 < k < prof.size - 1:  # parabola through the peak and its neighbours
        a, b, c = prof[k - 1], prof[k], prof[k + 1]
        den = a - 2 * b + c
        return r0 + k + (0.5 * (a - c) / den if den < 0 else 0.0)
    return float(r0 + k)


def _trace_levels(
    d: NDArray[np.float32], ink: NDArray[np.bool_], row: _Row, stroke: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The row's trace followed across its band: per col (all of the image's), the centre (px,
    darkness-weighted) of the run of ink that continues the previous col's, NaN where the band
    has none; and whether that run is steep (taller than two pens: a QRS, where the centre is
    not the sample's level).

    A neighbour's wave that enters the band can be followed for a while, but not for long: it
    leaves the band (halfway to its own row) and the nearest ink left is the row's own trace.
    """
    r0, r1 = max(0, math.ceil(row.top)), math.floor(row.bottom) + 1
    band = ink[r0:r1]
    h, w = band.shape
    edges = np.diff(np.pad(band, ((1, 1), (0, 0))).astype(np.int8), axis=0)
    s_col, s_row = np.nonzero(edges.T == 1)  # sorted by col, then row
    _, e_row = np.nonzero(edges.T == -1)
    # Darkness-weighted centre of each run, a pixel wider each side for the pen's soft edges.
    wd = np.pad(d[r0:r1].astype(np.float64), ((1, 1), (0, 0)))
    cw = np.concatenate([np.zeros((1, w)), np.cumsum(wd, axis=0)])
    cwr = np.concatenate([np.zeros((1, w)), np.cumsum(wd * np.arange(-1, h + 1)[:, None], axis=0)])
    lo, hi = s_row, e_row + 2  # padded coordinates: run [s, e) is [s + 1, e + 1), plus one each
    mass = cw[hi, s_col] - cw[lo, s_col]
    centre = (cwr[hi, s_col] - cwr[lo, s_col]) / np.maximum(mass, 1e-9)
    centre = np.where(mass > 0, centre, 0.5 * (s_row + e_row - 1))
    ptr = np.searchsorted(s_col, np.arange(w + 1)).tolist()
    starts, ends, centres = s_row.tolist(), e_row.tolist(), centre.tolist()
    levels = np.full(w, np.nan)
    steep = np.zeros(w, bool)
    steep_px = 2.0 * stroke + 2.0
    prev: tuple[float, float, float] | None = None  # start, end, centre of the last run
    guess = row.peak - r0
    for c in range(w):
        i0, i1 = ptr[c], ptr[c + 1]
        if i0 == i1:
            continue
        best, best_key = i0, (math.inf, math.inf)
        for i in range(i0, i1):
            if prev is None:
                key = (0.0, abs(centres[i] - guess))
            else:
                overlap = min(ends[i], prev[1] + 1) - max(starts[i], prev[0] - 1)
                key = (
                    (-overlap, abs(centres[i] - prev[2]))
                    if overlap > 0
                    else (1.0, abs(centres[i] - prev[2]))
                )
            if key < best_key:
                best, best_key = i, key
        prev = (starts[best], ends[best], centres[best])
        levels[c] = r0 + centres[best]
        steep[c] = ends[best] - starts[best] > steep_px
    return levels, steep


def _match(a: NDArray[np.float64], b: NDArray[np.float64], cols: slice, tol_px: float) -> float:
    """How well two traces (levels less their baselines, px) repeat each other over ``cols``:
    the share of the cols where either departs from its median level by over 3 ``tol_px`` (the
    waves, not the flat stretches every lead has) in which they agree within ``tol_px`` after
    removing their median difference; 0 when they barely overlap."""
    x, y = a[cols], b[cols]
    ok = np.isfinite(x) & np.isfinite(y)
    if x.size < 4 or ok.sum() < 0.5 * x.size:
        return 0.0
    x, y = x[ok], y[ok]
    x, y = x - np.median(x), y - np.median(y)
    active = (np.abs(x) > 3 * tol_px) | (np.abs(y) > 3 * tol_px)
    if active.sum() < 5:
        return 0.0
    return float(np.mean(np.abs(x - y)[active] <= tol_px))


def _cell_labels(base: str, order: str, rhythm: tuple[str, ...]) -> list[list[str]]:
    """The printed labels of each row, rhythm strips last (``-aVR`` for an inverted lead)."""
    twelve = (*LIMB_ORDERS[order], "V1", "V2", "V3", "V4", "V5", "V6")
    if base == "3x4":
        main = [[twelve[r + 3 * c] for c in range(4)] for r in range(3)]
    elif base == "6x2":
        main = [[twelve[r], twelve[6 + r]] for r in range(6)]
    elif base == "12x1":
        return [[lead] for lead in twelve]
    else:
        return [[rhythm[0] if rhythm else "II"]]
    return main + [[lead] for lead in rhythm]


def _limb_misfit(
    levels: list[NDArray[np.float64]],
    flat: list[NDArray[np.bool_]],
    baselines: list[float],
    base: str,
    order: str,
    windows: list[slice],
) -> float:
    """How badly the limb leads, named in ``order``, break Einthoven's and Goldberger's laws:
    the residual's share of the signal (RMS), inf when not testable.

    In each time window (a column of the layout) the limb leads drawn are mixes of leads I and
    II: stacked (leads, time) they have rank 2 when named right. Only cols where every trace is
    flat count (a steep stroke's centre is not its sample's level).
    """
    labels = _cell_labels(base, order, ())
    resid_sq, total_sq = 0.0, 0.0
    for k, cols in enumerate(windows):
        names, rows, ok = [], [], []
        for r, row_labels in enumerate(labels):
            if k < len(row_labels) and row_labels[k].lstrip("-") in _LIMB_MIX:
                names.append(row_labels[k])
                sign = -1.0 if row_labels[k].startswith("-") else 1.0
                rows.append(sign * (baselines[r] - levels[r][cols]))
                ok.append(flat[r][cols])
        if len(rows) < 3:
            continue
        y = np.array(rows)
        y = y[:, np.all(np.isfinite(y), axis=0) & np.all(ok, axis=0)]
        if y.shape[1] < 20:
            continue
        y -= y.mean(axis=1, keepdims=True)
        mix = np.array([_LIMB_MIX[n.lstrip("-")] for n in names])
        resid = y - mix @ np.linalg.lstsq(mix, y, rcond=None)[0]
        resid_sq += float(np.sum(resid**2))
        total_sq += float(np.sum(y**2))
    return math.sqrt(resid_sq / total_sq) if total_sq > 0 else math.inf


def _snap_duration(total_s: float, quantum_s: float) -> float:
    """The duration rounded to whole ``quantum_s`` when it lies within a third of one."""
    snapped = round(total_s / quantum_s) * quantum_s
    if abs(snapped - total_s) <= 0.35 * quantum_s and snapped > 0:
        return snapped
    log.info("trace duration %.3f s is not a whole %.2f s: kept as measured", total_s, quantum_s)
    return total_s


def _time_span(
    starts: NDArray[np.float64],
    ends: NDArray[np.float64],
    calibration: str,
    px_per_s: float,
    quantum_s: float,
) -> tuple[float, float]:
    """The col (px) of t = 0 and the duration (s) every row spans, from each row's first and last
    sample col; the end away from the pulses is exact, so it anchors the span."""
    start, end = float(np.median(starts)), float(np.median(ends))
    total_s = _snap_duration((end - start) / px_per_s, quantum_s)
    if calibration == "left":
        start = end - total_s * px_per_s
    elif calibration == "none":
        start = 0.5 * (start + end - total_s * px_per_s)
    return start, total_s


@dataclass(frozen=True)
class _Traces:
    """The rows' traces followed across the page, and the time span they share."""

    levels: list[NDArray[np.float64]]  # per row: (cols,) px, NaN where no ink
    flat: list[NDArray[np.bool_]]  # per row: (cols,) the trace is not steep there
    baselines: list[float]  # per row: px
    start: float  # px: the col of t = 0
    span_px: float  # px: the cols every row spans
    tol: float  # px: two traces agree within this
    margin: int  # px: kept off the ends of a cell

    def window(self, k: int, n_cols: int) -> slice:
        """The cols of column ``k`` of ``n_cols``, less a margin at each end."""
        step = self.span_px / n_cols
        return slice(
            round(self.start + k * step) + self.margin,
            round(self.start + (k + 1) * step) - self.margin,
        )

    def best_cell(self, strip: int, n_main: int, n_cols: int) -> tuple[float, float, int, int]:
        """The cell above (row, col) that a rhythm strip repeats best: (its match, the
        runner-up's match, row, col)."""
        mine = self.levels[strip] - self.baselines[strip]
        scores = sorted(
            (
                _match(mine, self.levels[r] - self.baselines[r], self.window(k, n_cols), self.tol),
                r,
                k,
            )
            for r in range(n_main)
            for k in range(n_cols)
        )
        runner_up = scores[-2][0] if len(scores) > 1 else 0.0
        return scores[-1][0], runner_up, scores[-1][1], scores[-1][2]

    def misfit(self, base: str, order: str) -> float:
        windows = [self.window(k, _N_COLS[base]) for k in range(_N_COLS[base])]
        return _limb_misfit(self.levels, self.flat, self.baselines, base, order, windows)


def _settle_six(traces: _Traces) -> str:
    """``3x4`` (with 3 rhythm strips) or ``6x2`` for a page of 6 rows: 3x4's strips repeat
    cells above them; 6x2's first column holds the six limb leads, which Einthoven's and
    Goldberger's laws tie together."""
    fits = [traces.best_cell(r, 3, 4)[0] for r in range(3, 6)]
    misfit_6x2 = min(traces.misfit("6x2", o) for o in LEAD_ORDERS)
    repeat = float(np.mean(fits))
    base = "3x4" if repeat >= 0.5 and (misfit_6x2 > 0.3 or repeat >= 0.85) else "6x2"
    log.debug(
        "6 rows: strips repeat cells above by %s, 6x2 limb misfit %.2f: %s",
        np.round(fits, 2),
        misfit_6x2,
        base,
    )
    return base


def _lead_order(traces: _Traces, base: str) -> str:
    """Cabrera's order when it fits the limb leads' laws at least twice as well, else standard."""
    if base == "single":
        return "standard"
    misfit = {o: traces.misfit(base, o) for o in LEAD_ORDERS}
    order = "cabrera" if misfit["cabrera"] < 0.5 * misfit["standard"] else "standard"
    log.debug("limb-lead misfit %s: %s order", misfit, order)
    return order


def _rhythm_names(traces: _Traces, base: str, order: str, n_rhythm: int) -> tuple[str, ...]:
    """The leads of the rhythm strips: the cell each repeats, else the usual II, V1, V5."""
    n_main, n_cols = _N_MAIN[base], _N_COLS[base]
    main_labels = _cell_labels(base, order, ())
    named: list[str] = []
    for strip in range(n_main, n_main + n_rhythm):
        fit, runner_up, r, k = traces.best_cell(strip, n_main, n_cols)
        lead = main_labels[r][k].lstrip("-")
        # A clear match, or a weak one well ahead of the rest (rows crowded by overlap).
        sure = fit >= 0.6 or (fit >= 0.3 and fit >= 1.6 * runner_up)
        if not sure or lead in named:
            lead = next(x for x in _DEFAULT_RHYTHM if x not in named)
        log.debug("rhythm strip %d: %s (match %.2f, next %.2f)", strip, lead, fit, runner_up)
        named.append(lead)
    return tuple(named)


def _lead_boxes(
    rows: list[_Row], labels: list[list[str]], traces: _Traces, total_s: float, n_main: int
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
                    lead=label.lstrip("-"),
                    box=Box(row.top, col0, row.bottom, col0 + step_px),
                    baseline_row=float(traces.baselines[i]),
                    t0_s=k * step_s,
                    duration_s=step_s,
                    col0=col0,
                    is_rhythm=i >= n_main,
                    inverted=label.startswith("-"),
                    row_index=i,
                    col_index=k,
                )
            )
    return tuple(boxes)


def find_layout(
    image: NDArray[np.uint8],
    grid: Grid,
    *,
    layout: str | None = None,
    speed_mm_s: float = 25.0,
    gain_mm_mv: float = 10.0,
    lead_order: str | None = None,
) -> Layout:
    """Find the lead boxes, calibration pulses and lead names of a deskewed ECG page.

    Parameters
    ----------
    image : (rows, cols, 3) uint8 RGB
        The page, deskewed (its grid lines along rows and cols).
    grid : Grid
        The page's grid (``px_per_mm_row``, ``px_per_mm_col``; the phases help take a grey grid
        out).
    layout : str, optional
        ``3x4``, ``6x2``, ``12x1`` or ``single`` to skip detecting it; rhythm leads may follow
        (``3x4+II,V1,V5``, ``6x2+II``, ``single+V5``), else their number and names are detected.
    speed_mm_s, gain_mm_mv : float
        Paper speed (mm/s) and gain (mm/mV) the page was printed at.
    lead_order : {"standard", "cabrera"}, optional
        The limb leads' order; None tells it from the traces (standard when unsure).

    Returns
    -------
    Layout
        Lead boxes (px), their times (s) and baselines (px), the pulses and their gain.

    Raises
    ------
    LayoutError
        When ``layout`` or ``lead_order`` is not recognised, the grid's pitch is unknown, no trace
        rows are found, or their number fits no layout.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 16 or img.shape[1] < 16:
        raise LayoutError(
            f"expected an RGB image (rows, cols, 3) of at least 16 px, got {img.shape}"
        )
    ppm_row, ppm_col = float(grid.px_per_mm_row), float(grid.px_per_mm_col)
    if not (math.isfinite(ppm_row) and math.isfinite(ppm_col) and ppm_row > 0 and ppm_col > 0):
        raise LayoutError("the grid's pitch (px/mm) is unknown: no layout without it")
    if not (speed_mm_s > 0 and gain_mm_mv > 0):
        raise LayoutError("paper speed (mm/s) and gain (mm/mV) must be > 0")
    if lead_order is not None and lead_order not in LEAD_ORDERS:
        raise LayoutError(f"unknown lead order {lead_order!r}; use standard or cabrera")
    spec = parse_layout(layout) if layout is not None else None

    d, ink = _ink(img, grid)
    if not ink.any() or ink.mean() > 0.25:
        raise LayoutError(f"no trace rows found: {100 * ink.mean():.1f} % of the page is ink")
    n_max = None
    if spec is not None:
        n_rhythm_max = _MAX_RHYTHM[spec.base] if spec.rhythm is None else len(spec.rhythm)
        n_max = 1 if spec.base == "single" else _N_MAIN[spec.base] + n_rhythm_max
    rows, spacing = _find_rows(ink, ppm_row, ppm_col, n_expected=n_max)
    if not rows:
        raise LayoutError("no trace rows found (no long, thin, horizontal ink)")
    base, n_rhythm = _classify(len(rows), spec)

    # Pulses, then the time every row spans.
    stroke = _stroke_px(ink, rows, ppm_row)
    geo = _Geometry(
        ppm_row=ppm_row,
        ppm_col=ppm_col,
        stroke=stroke,
        half_band=0.5 * spacing if spacing else 10.0 * ppm_row,
        gain_px=gain_mm_mv * ppm_row,
    )
    calibration, hits = _find_pulses(d, ink, rows, geo)
    pulses = tuple(p for p, _ in hits)
    pen = 0.5 * stroke
    starts = np.array([row.left - 0.5 + pen for row in rows])  # first and last samples' cols
    ends = np.array([row.right + 0.5 - pen for row in rows])
    if calibration == "left":
        starts = np.array([c for _, c in hits])
    elif calibration == "right":
        ends = np.array([c for _, c in hits])
    px_per_s = speed_mm_s * ppm_col
    quantum = _STEP_S * _N_COLS.get(base, 2)
    start, total_s = _time_span(starts, ends, calibration, px_per_s, quantum)

    # Baselines: the pulse's foot, else the traces' most common level.
    foot = {p.row_index: p.foot_row for p in pulses}
    baselines = [foot.get(i, _row_baseline(ink, row, ppm_row)) for i, row in enumerate(rows)]
    baseline_from = "pulse" if len(foot) == len(rows) else ("pulse+trace" if foot else "trace")
    followed = [_trace_levels(d, ink, row, stroke) for row in rows]
    traces = _Traces(
        levels=[f[0] for f in followed],
        flat=[~f[1] for f in followed],
        baselines=baselines,
        start=start,
        span_px=total_s * px_per_s,
        tol=max(1.0, 0.3 * ppm_row),
        margin=round(1.0 * ppm_col),
    )
    if base == "6x2?":
        base = _settle_six(traces)
        n_rhythm = 3 if base == "3x4" else 0
        start, total_s = _time_span(starts, ends, calibration, px_per_s, _STEP_S * _N_COLS[base])
        traces = replace(traces, start=start, span_px=total_s * px_per_s)
    if not 1.0 <= total_s <= 30.0:
        log.warning(
            "traces span %.1f s at %g mm/s: check the paper speed and the grid's pitch",
            total_s,
            speed_mm_s,
        )

    # Names.
    order = lead_order if lead_order is not None else _lead_order(traces, base)
    rhythm: tuple[str, ...]
    if spec is not None and spec.rhythm is not None:
        rhythm = spec.rhythm
    elif base == "single":
        rhythm = ("II",)  # which lead a lone strip shows only its label tells
    else:
        rhythm = _rhythm_names(traces, base, order, n_rhythm)
    labels = _cell_labels(base, order, rhythm)
    boxes = _lead_boxes(rows, labels, traces, total_s, _N_MAIN[base])

    pulse_gain = float(np.median([p.gain_mm_mv for p in pulses])) if pulses else None
    agrees = None
    if pulse_gain is not None:
        agrees = abs(pulse_gain / gain_mm_mv - 1.0) <= _GAIN_TOLERANCE
        if not agrees:
            log.warning(
                "the pulses show %.2f mm/mV, the page was said to be %.2f mm/mV",
                pulse_gain,
                gain_mm_mv,
            )
    result = Layout(
        name=_layout_name(base, rhythm),
        lead_order=order,
        speed_mm_s=float(speed_mm_s),
        gain_mm_mv=float(gain_mm_mv),
        pulse_gain_mm_mv=pulse_gain,
        gain_agrees=agrees,
        pulses=pulses,
        boxes=boxes,
        rhythm_leads=rhythm if base in ("3x4", "6x2") else (),
        calibration=calibration,
        duration_s=float(total_s),
        baseline_from=baseline_from,
    )
    log.info(
        "layout %s (%s order), %d rows, %.2f s, calibration %s, pulse gain %s",
        result.name,
        order,
        len(rows),
        total_s,
        calibration,
        pulse_gain,
    )
    return result


def _classify(n: int, spec: LayoutSpec | None) -> tuple[str, int]:
    """The layout (base, number of rhythm strips) that has ``n`` trace rows; ``6x2?`` when 6
    rows leave 3x4 + 3 and 6x2 to tell apart."""
    if spec is not None:
        lo = _N_MAIN[spec.base] + (0 if spec.rhythm is None else len(spec.rhythm))
        hi = _N_MAIN[spec.base] + (
            _MAX_RHYTHM[spec.base] if spec.rhythm is None else len(spec.rhythm)
        )
        if spec.base == "single":
            lo = hi = 1
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo}-{hi}"
            raise LayoutError(f"found {n} trace rows; layout {spec.base} has {want}")
        return spec.base, n - _N_MAIN[spec.base] if spec.base != "single" else 0
    if n == 1:
        return "single", 0
    if 3 <= n <= 5:
        return "3x4", n - 3
    if n == 6:
        return "6x2?", 3
    if n == 7:
        return "6x2", 1
    if n == 12:
        return "12x1", 0
    raise LayoutError(
        f"found {n} trace rows: no layout has that many (3x4: 3-6, 6x2: 6-7, 12x1: 12, single: 1)"
    )
