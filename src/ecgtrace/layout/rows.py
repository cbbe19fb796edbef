"""The page's ink and its trace rows: long, thin, horizontal ink, evenly spaced.

Traces are long, thin, horizontal ink, flat most of the time: the share of inked cols per pixel
row, smoothed over ~1.5 mm, peaks at each trace row. The row spacing (its autocorrelation) sets
how far apart two peaks must be; a peak is kept when the ink around it runs without a break over
most of the page (text does not), is thin (noise is not) and crosses the row once per col (text
crosses it two or three times). Rows are evenly spaced, so a gap of two spacings is searched
again for a row drowned by crowded neighbours.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi
from scipy import signal

from ecgtrace._arrays import parabolic_offset, true_runs
from ecgtrace.grid import Grid
from ecgtrace.segment.classical import darkness

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TraceRow:
    """One row of the layout (a strip of cells or a rhythm strip), in px."""

    peak: float  # the row's profile peak (its traces' most common level)
    top: float  # the band, halfway to the neighbours
    bottom: float
    left: int  # the first and last inked col of the row's run of ink
    right: int


@dataclass(frozen=True, order=True)
class _Candidate:
    """A profile peak that may be a trace row (ordered top to bottom)."""

    row: int  # px
    left: int  # px: the first and last col of its longest run of ink
    right: int
    run_mm: float
    thickness: float  # <= 1: thin
    height: float  # the profile's height at the peak
    coverage: float  # inked share of the run's cols
    multi: float  # share of cols crossed twice or more near the row's level (text)

    def valid(self, longest_mm: float, share: float = 0.5) -> bool:
        """Long, thin, unbroken (text has gaps between its letters and words) and not text."""
        long = self.run_mm >= max(20.0, share * longest_mm)
        return long and self.thickness <= 1.0 and self.coverage >= 0.85 and self.multi <= 0.2


def ink_map(image: NDArray[np.uint8], grid: Grid) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
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
    starts, stops = true_runs(bridged)
    k = int(np.argmax(stops - starts))
    idx = np.flatnonzero(mask[starts[k] : stops[k]]) + starts[k]
    return int(idx[0]), int(idx[-1])


def row_spacing(ink: NDArray[np.bool_], ppm_row: float, ppm_col: float) -> float | None:
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


def _candidate(
    ink: NDArray[np.bool_],
    profile: NDArray[np.float64],
    p: int,
    half: float,
    ppm: tuple[float, float],
) -> _Candidate:
    """Measure the ink around profile peak ``p`` (px) within ``half`` px of it."""
    ppm_row, ppm_col = ppm
    r0, r1 = max(0, round(p - half)), min(ink.shape[0], round(p + half) + 1)
    band = ink[r0:r1]
    has = np.any(band, axis=0)
    # A trace may leave its band (a deep wave, rows crowded) for a while: bridge 3 mm.
    left, right = _longest_run(has, 3 * max(1, round(1.0 * ppm_col)))
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
    return _Candidate(int(p), left, right, run_mm, thick, float(profile[p]), coverage, multi)


def _fill_gaps(
    kept: list[_Candidate],
    measure: Callable[[int], _Candidate],
    profile: NDArray[np.float64],
    spacing: float,
    longest_mm: float,
) -> list[_Candidate]:
    """Rows are evenly spaced: look again, more leniently, where one seems to be missing (its
    peak drowned by crowded neighbours)."""
    out = list(kept)
    for c_a, c_b in itertools.pairwise(kept):
        n_gap = round((c_b.row - c_a.row) / spacing)
        for j in range(1, n_gap):
            at = c_a.row + j * (c_b.row - c_a.row) / n_gap
            lo, hi = max(0, round(at - 0.25 * spacing)), round(at + 0.25 * spacing) + 1
            extra = measure(lo + int(np.argmax(profile[lo:hi])))
            if extra.valid(longest_mm, share=0.3):
                out.append(extra)
    return sorted(out)


def _bands(ink: NDArray[np.bool_], kept: list[_Candidate], ppm_row: float) -> list[TraceRow]:
    """Each kept row's band: halfway to its neighbours (a lone strip: as tall as its ink)."""
    centres = np.array([c.row for c in kept], dtype=np.float64)
    step = float(np.median(np.diff(centres))) if centres.size > 1 else math.nan
    rows = []
    for i, c in enumerate(kept):
        p = c.row
        if centres.size > 1:
            up = (centres[i] - centres[i - 1]) / 2 if i > 0 else step / 2
            down = (centres[i + 1] - centres[i]) / 2 if i + 1 < centres.size else step / 2
        else:  # a single strip: its band is as tall as its ink
            r_ink = np.flatnonzero(ink[:, c.left : c.right + 1].any(axis=1))
            up = p - r_ink[0] + ppm_row
            down = r_ink[-1] - p + ppm_row
        rows.append(
            TraceRow(
                peak=float(p),
                top=max(-0.5, p - up),
                bottom=min(ink.shape[0] - 0.5, p + down),
                left=c.left,
                right=c.right,
            )
        )
    return rows


def find_rows(
    ink: NDArray[np.bool_], ppm_row: float, ppm_col: float, *, n_expected: int | None
) -> tuple[list[TraceRow], float | None]:
    """The trace rows of a page, top to bottom, and their spacing (px; None for one row).

    ``ink`` (rows, cols) bool; ``n_expected`` keeps at most that many (the strongest)."""
    profile = ndi.gaussian_filter1d(ink.mean(axis=1, dtype=np.float64), 0.75 * ppm_row)
    spacing = row_spacing(ink, ppm_row, ppm_col)
    distance = max(1.0, 0.55 * spacing if spacing else 3.0 * ppm_row)
    peaks, _ = signal.find_peaks(
        profile, distance=distance, prominence=max(0.15 * profile.max(), 1e-3)
    )
    half = 0.5 * spacing if spacing else 20.0 * ppm_row  # a lone strip's waves reach far

    def measure(p: int) -> _Candidate:
        return _candidate(ink, profile, p, half, (ppm_row, ppm_col))

    cands = [measure(int(p)) for p in peaks]
    if not cands:
        return [], spacing
    longest = max(c.run_mm for c in cands)
    kept = [c for c in cands if c.valid(longest)]
    if spacing and len(kept) >= 2:
        kept = _fill_gaps(kept, measure, profile, spacing, longest)
    log.debug("row candidates %s, spacing %s px: kept %d", cands, spacing, len(kept))
    if n_expected is not None and len(kept) > n_expected:
        # Keep the strongest rows (an override knows how many there are).
        kept = sorted(sorted(kept, key=lambda c: -c.height)[:n_expected])
    if not kept:
        return [], spacing
    rows = _bands(ink, kept, ppm_row)
    return rows, (float(np.median(np.diff([r.peak for r in rows]))) if len(rows) > 1 else None)


def stroke_px(ink: NDArray[np.bool_], rows: list[TraceRow], ppm_row: float) -> float:
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


def row_baseline(ink: NDArray[np.bool_], row: TraceRow, ppm_row: float) -> float:
    """The row's most common trace level (px, sub-pixel): its traces' share of inked cols per
    pixel row, lightly smoothed, at its peak near the row's profile peak."""
    r0, r1 = max(0, math.ceil(row.top)), math.floor(row.bottom) + 1
    prof = ink[r0:r1, row.left : row.right + 1].mean(axis=1, dtype=np.float64)
    prof = ndi.gaussian_filter1d(prof, 0.4 * ppm_row)
    near = np.abs(np.arange(r0, r1) - row.peak) <= 3.0 * ppm_row
    k = int(np.argmax(np.where(near, prof, -1.0)))
    if 0 < k < prof.size - 1:  # parabola through the peak and its neighbours
        return r0 + k + parabolic_offset(prof[k - 1], prof[k], prof[k + 1])
    return float(r0 + k)
