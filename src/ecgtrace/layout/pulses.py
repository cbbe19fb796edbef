"""Calibration pulses: two vertical strokes of the same height ~0.2 s apart, joined by an inked
plateau over an empty inside, at the start or end of a row. The foot is the row's 0 mV line;
the height is the gain (mm per 1 mV); the width, stroke to stroke, is 0.2 s of paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi
from scipy import signal

from ecgtrace import calibration as cal
from ecgtrace.layout.rows import TraceRow
from ecgtrace.layout.types import Pulse
from ecgtrace.types import Box

PULSE_GAP_MM = 0.5  # between a pulse's foot and the trace: the renderer's; printers leave 0-1


@dataclass(frozen=True)
class PulseGeometry:
    """Sizes (px) shared by the pulse search."""

    ppm_row: float
    ppm_col: float
    stroke: float
    half_band: float  # half the row spacing (or a guess for one row)
    gain_px: float  # the stated gain, px per mV


@dataclass(frozen=True)
class PulseHit:
    """A pulse found at one end of a row, ``trace_col`` (px): the col of the trace's first
    (pulse on the left) or last (on the right) sample next to it, and ``heights_mm``: the
    heights of every line above its foot that its strokes reach (where the rows are tighter
    than the pulses are tall, the neighbours' pulses stand in the same cols)."""

    pulse: Pulse
    trace_col: float
    heights_mm: tuple[float, ...] = ()  # every plateau its strokes reach (mm above the foot)


@dataclass(frozen=True)
class PulseSearch:
    """The ``side`` of the rows the pulses stand on (``left``, ``right`` or ``none``) and the
    pulse of each row that has one, top to bottom."""

    side: str
    hits: tuple[PulseHit, ...]

    @property
    def pulses(self) -> tuple[Pulse, ...]:
        return tuple(h.pulse for h in self.hits)


def _stroke_pairs(
    ink: NDArray[np.bool_], row: TraceRow, side: str, geo: PulseGeometry
) -> list[tuple[float, float, float, float]]:
    """Every pair of vertical strokes that could be a calibration pulse at one end of a row:
    equally tall, 2.5-12 mm apart (0.2 s at 12.5-60 mm/s), within 16 mm of the row's end (the
    pulse's inside can break the row's run of ink, so on either side of it). Each as (distance
    (px) of its foot from the row's level, col of the first and of the second stroke (px), how
    far (px) above the row's level their tops are)."""
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
    pairs = []
    for a in strokes:
        for b in strokes:
            if not 2.5 <= (b[2] - a[2]) / geo.ppm_col <= 12.0:
                continue
            if abs(a[0] - b[0]) > tol or abs(a[1] - b[1]) > tol:
                continue
            off = abs(r0 + 0.5 * (a[1] + b[1]) - row.peak)
            pairs.append((off, c0 + a[2], c0 + b[2], row.peak - r0 - 0.5 * (a[0] + b[0])))
    return pairs


def _shared_edges(
    per_row: list[list[tuple[float, float, float, float]]], geo: PulseGeometry
) -> tuple[tuple[float, float], list[float | None]] | None:
    """The cols (px) of the pulses' two strokes, shared by all rows: the pair most rows have
    (a stroke in a trace is one row's, the pulses' strokes stand in every row's window; ties
    to the pair whose foot is nearest its row), and per row the rise (px) of that pair's tops
    above the row's level (None where the row has no such pair). None without any pair."""
    tol = max(2.0, 0.5 * geo.ppm_col)

    def members(a: float, b: float) -> list[list[tuple[float, float, float, float]]]:
        return [[p for p in ps if abs(p[1] - a) <= tol and abs(p[2] - b) <= tol] for ps in per_row]

    best: tuple[tuple[int, float], list[list[tuple[float, float, float, float]]]] | None = None
    for _, a, b, _ in (p for ps in per_row for p in ps):
        near = members(a, b)
        offs = [min(near_row)[0] for near_row in near if near_row]
        key = (len(offs), -float(np.median(offs)))
        if best is None or key > best[0]:
            best = (key, near)
    if best is None:
        return None
    pairs = [p for ps in best[1] for p in ps]
    edges = (float(np.median([p[1] for p in pairs])), float(np.median([p[2] for p in pairs])))
    return edges, [min(ps)[3] if ps else None for ps in best[1]]


def _plateau(
    above: NDArray[np.float64], foot: float, stroke_top: float | None, geo: PulseGeometry
) -> float:
    """The pulse's plateau among the lines ``above`` its foot: the one where its strokes end
    (row ``stroke_top``, when they were seen, if it makes a pulse of 2.5-25 mm), else the one
    nearest the stated gain (a grid line inside a tall pulse must not pass for a short pulse's
    top)."""
    if stroke_top is not None:
        near = float(above[np.argmin(np.abs(above - stroke_top))])
        close = abs(near - stroke_top) <= max(2.0, geo.ppm_row) + geo.stroke
        if close and 2.5 <= (foot - near) / geo.ppm_row <= 25.0:
            return near
    return float(above[np.argmin(np.abs(foot - above - geo.gain_px))])


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
    row: TraceRow,
    index: int,
    side: str,
    edges: tuple[float, float],
    geo: PulseGeometry,
    stroke_rise: float | None = None,
) -> PulseHit | None:
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
    # Levels relative to the pen's own darkness: a photo's pen is grey, not black.
    pen = float(np.median(sub[near_ink & ink[r0:r1]])) if ink[r0:r1].any() else 1.0
    feet = _lines(sub[:, outer].mean(axis=1), 0.25 * pen) + r0
    tops = _lines(sub[:, inner].mean(axis=1), 0.5 * pen) + r0
    near = feet[np.abs(feet - row.peak) <= max(geo.half_band * 0.8, 3.0 * geo.ppm_row)]
    if near.size == 0:
        return None
    foot = float(near[np.argmin(np.abs(near - row.peak))])
    above = tops[(tops <= foot - 2.5 * geo.ppm_row) & (tops >= foot - 40.0 * geo.ppm_row)]
    if above.size == 0:
        return None
    top = _plateau(above, foot, None if stroke_rise is None else row.peak - stroke_rise, geo)
    if not _strokes_reach(ink, top, foot, edges, geo.stroke):
        return None
    heights = tuple(
        float((foot - line) / geo.ppm_row)
        for line in above
        if _strokes_reach(ink, float(line), foot, edges, geo.stroke)
    )
    height_mm = (foot - top) / geo.ppm_row
    # The pulse's outer end: where the foot's ink stops, past the outer stroke.
    along = np.any(ink[max(0, round(foot) - 1) : round(foot) + 2], axis=0)
    limit = 4.0 * geo.ppm_col  # a foot is ~1 mm long
    if side == "left":
        c = math.floor(a - geo.stroke)
        c -= _leading(along[max(0, math.ceil(a - limit)) : c][::-1])
        edge = c - 0.5
        foot_len = a - edge - pen
        trace_col = b + foot_len + PULSE_GAP_MM * geo.ppm_col
        cols_box = (edge, b + foot_len + pen)
    else:
        c = math.ceil(b + geo.stroke)
        c += _leading(along[c + 1 : math.floor(b + limit) + 1])
        edge = c + 0.5
        foot_len = edge - pen - b
        trace_col = a - foot_len - PULSE_GAP_MM * geo.ppm_col
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
    return PulseHit(pulse, float(trace_col), heights)


def _strokes_reach(
    ink: NDArray[np.bool_], top: float, foot: float, edges: tuple[float, float], stroke: float
) -> bool:
    """Whether both strokes (cols ``edges``, px) run from row ``top`` down to row ``foot``."""
    span = slice(math.ceil(top + stroke), math.floor(foot - stroke) + 1)
    for c in edges:
        cols = slice(max(0, round(c) - 1), round(c) + 2)
        if span.stop > span.start and ink[span, cols].any(axis=1).mean() < 0.8:
            return False
    return True


def _agreed(hits: list[PulseHit], geo: PulseGeometry) -> list[PulseHit]:
    """The hits at one gain: the standard gain that most pulses' strokes reach a plateau at
    (ties to the one nearest the smallest first reading, the top row's, which no pulse stands
    above); a hit that first took another line keeps the one at that gain. As they are when no
    pulse reaches a standard gain."""

    def at(h: PulseHit, g: float) -> list[float]:
        return [x for x in h.heights_mm if abs(x / g - 1.0) <= cal.GAIN_SNAP]

    if not hits:
        return hits
    support = {g: sum(1 for h in hits if at(h, g)) for g in cal.STANDARD_GAINS_MM_MV}
    lowest = max(min(h.pulse.height_mm for h in hits), 1e-3)
    gain = max(support, key=lambda g: (support[g], -abs(math.log(g / lowest))))
    if not support[gain]:
        return hits
    out = []
    for h in hits:
        near = at(h, gain)
        if near and abs(h.pulse.height_mm / gain - 1.0) > cal.GAIN_SNAP:
            height = min(near, key=lambda x: abs(x - gain))
            box = replace(h.pulse.box, top=h.pulse.foot_row - height * geo.ppm_row - geo.stroke)
            h = replace(h, pulse=replace(h.pulse, height_mm=height, box=box))
        out.append(h)
    return out


def find_pulses(
    d: NDArray[np.float32], ink: NDArray[np.bool_], rows: list[TraceRow], geo: PulseGeometry
) -> PulseSearch:
    """The side of the calibration pulses and, per row that has one, its pulse and the col of
    its trace's end next to it. The strokes' cols are shared by all rows (the pair most rows
    have), which keeps a row whose pulse is crowded by its neighbours'; the pulses agree on one
    gain where their strokes allow it."""
    best = PulseSearch("none", ())
    for side in ("left", "right"):
        shared = _shared_edges([_stroke_pairs(ink, row, side, geo) for row in rows], geo)
        if shared is None:
            continue
        edges, rises = shared
        # A row whose strokes were crowded out takes the others' rise above their rows.
        rise = float(np.median([r for r in rises if r is not None]))
        hits = [
            _measure_pulse(d, ink, row, i, side, edges, geo, rise if r is None else r)
            for i, (row, r) in enumerate(zip(rows, rises, strict=True))
        ]
        kept = tuple(_agreed([h for h in hits if h is not None], geo))
        if len(kept) > len(best.hits):
            best = PulseSearch(side, kept)
    return best
