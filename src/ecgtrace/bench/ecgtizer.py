"""The ECGtizer PDFs (a foreign renderer): where they are, and each page's geometry read off it.

The ECGtizer PDFs (``$ECGTRACE_DATA/ecgtizer-pdf``) are A4-landscape vector printouts of PTB-XL
test-fold records: a red 1 mm / 5 mm grid, black traces at 25 mm/s and 10 mm/mV, a 3x4 layout
(rows I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6, columns of 2.5 s, no separators) and a 10 s
lead-II rhythm strip as a 4th row. Each row starts at the left with a 1 mV calibration pulse
(a rectangle standing on the row's 0 mV baseline), a gap of about 1 mm, then the trace.

What the renderer does (read once from the PDFs' drawing commands, for the record; this module
measures the raster): each trace is a polyline through every 4th sample of a centred 5-sample
moving average of the 500 Hz record, starting at the segment's sample 4 (8 ms); rows are 40 mm
apart; the 3x4 columns are 62 mm apart, not 62.5, so column k is drawn ``k * 0.5 mm`` (20 ms)
left of where 25 mm/s from the rhythm strip's t = 0 puts it.

The page geometry is measured on the raster:

* **Ink.** A pixel is trace ink when its brightest channel is dark, ``max(R, G, B) < INK_MAX``
  (110); the grid is pink (its brightest channel stays >= ~230). At 100 DPI the 0.24 mm strokes
  are under a pixel wide and anti-aliased, and a few % of a trace's columns hold no pixel below
  110, so structure is found on the laxer ``max(R, G, B) < FAINT_MAX`` (170), still far from
  any grid pixel.
* **Scale.** px/mm along rows and cols from :func:`ecgtrace.grid.detect_grid`.
* **Rows.** Exactly four calibration pulses (hollow rectangles at the left of the page). The
  darkness-weighted centre of each pulse's feet is the row's 0 mV baseline; the centre of its
  top stroke is 1 mV above it, which gives the gain (mm/mV), snapped to one of
  :data:`READER_GAINS_MM_MV` when within :data:`READER_GAIN_TOLERANCE`. The row pitch is the
  median distance between consecutive baselines.
* **Time.** Per row, the column where the first stroke right of the pulse begins (the first
  ``FAINT_MAX`` column, refined by its share of ink); the median over the rows is the first
  vertex, 8 ms after t = 0. Checked by each row's end: the rhythm strip's last vertex (sample
  4996) and the 3x4 rows' (sample 4998, column 3) must lie within 1 mm of where this time axis
  and the column shift put them.

The crops cut from these pages are in :mod:`ecgtrace.bench.ecgtizer_crops`.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.calibration import snap
from ecgtrace.data import data_dir
from ecgtrace.grid import detect_grid
from ecgtrace.leads import N_MAIN_STRIPS, cell_labels, layout_name

log = logging.getLogger(__name__)

FOLDER = "ecgtizer-pdf"
BASE_LAYOUT = "3x4"
RHYTHM_LEADS: tuple[str, ...] = ("II",)
LAYOUT = layout_name(BASE_LAYOUT, RHYTHM_LEADS)  # 3x4+II
# The printed leads of each row (standard order, none inverted): three 3x4 rows, the strip.
CELLS: tuple[tuple[str, ...], ...] = tuple(
    tuple(row) for row in cell_labels(BASE_LAYOUT, "standard", RHYTHM_LEADS)
)
MAIN_ROWS = CELLS[: N_MAIN_STRIPS[BASE_LAYOUT]]
RHYTHM_LEAD = RHYTHM_LEADS[0]
SPEED_MM_S = 25.0
GAIN_MM_MV = 10.0  # the gain the traces are drawn at
ROW_PITCH_MM = 40.0
COLUMN_S = 2.5
STRIP_S = 10.0
FIRST_VERTEX_S = 0.008  # each polyline's first vertex is its segment's sample 4 (of 500 Hz)
COLUMN_SHIFT_MM = 0.5  # column k of the 3x4 rows is drawn k * 0.5 mm left of its time
RHYTHM_LAST_S = 9.992  # last vertex of the rhythm strip: sample 4996
SHORT_LAST_S = 9.996  # last vertex of the 3x4 rows: sample 4998
INK_MAX = 110  # max(R, G, B) below this: trace ink
FAINT_MAX = 170  # max(R, G, B) below this: ink or its anti-aliased edge (grid pixels are >= ~230)
# The gains this renderer's pulses are read as, and how near (relative) a pulse must be.
READER_GAINS_MM_MV: tuple[float, ...] = (5.0, 10.0, 20.0)
READER_GAIN_TOLERANCE = 0.03
N_ROWS = len(CELLS)

_NAME = re.compile(r"^(\d+)_hr\.pdf$")


@dataclass(frozen=True)
class PageGeometry:
    """Where an ECGtizer page puts its four rows and its time axis.

    ``baselines`` and ``pulse_tops`` (4,) are rows (px) of the 0 mV baselines and of the 1 mV
    pulse tops (3 lead rows, then the rhythm strip); ``pulse_boxes`` (4, 4) are the pulses'
    (top, left, bottom, right) pixel extents (inclusive); ``col_t0`` is the column (px) of
    t = 0 s; ``row_pitch`` (px) the median baseline spacing; ``gain_measured`` (mm/mV) the pulse
    height and ``gain_mm_mv`` the gain used (snapped to a standard one when within 3 %).
    ``strip_end_error_mm`` and ``rows_end_error_mm`` are the rhythm strip's and the 3x4 rows'
    (median) last inked column minus where their last drawn sample should be, in mm.
    """

    px_per_mm_row: float
    px_per_mm_col: float
    baselines: NDArray[np.float64]
    pulse_tops: NDArray[np.float64]
    pulse_boxes: NDArray[np.int_]
    col_t0: float
    row_pitch: float
    gain_measured: float
    gain_mm_mv: float
    strip_end_error_mm: float
    rows_end_error_mm: float

    def col_of(
        self, t_s: NDArray[np.float64] | float, column: int | NDArray[np.int_] = 0
    ) -> NDArray[np.float64]:
        """Column (px) where time ``t_s`` (s) is drawn in 3x4 column ``column`` (0-3).

        The rhythm strip is column 0; column k is drawn ``k * COLUMN_SHIFT_MM`` to the left.
        """
        mm = np.asarray(t_s, np.float64) * SPEED_MM_S - column * COLUMN_SHIFT_MM
        return self.col_t0 + mm * self.px_per_mm_col


def ecgtizer_folder() -> Path:
    """The folder of the ECGtizer PDFs in the shared data."""
    return data_dir() / FOLDER


def ecgtizer_ids() -> list[int]:
    """The ecg ids (sorted) with a 3x4 ECGtizer PDF (``NNNNN_hr.pdf``; the 6x2 variant is not)."""
    folder = ecgtizer_folder()
    if not folder.is_dir():
        return []
    ids = []
    for path in folder.glob("*_hr.pdf"):
        m = _NAME.match(path.name)
        if m:
            ids.append(int(m.group(1)))
    return sorted(ids)


def ecgtizer_path(ecg_id: int) -> Path:
    """The 3x4 PDF of ``ecg_id``."""
    return ecgtizer_folder() / f"{ecg_id:05d}_hr.pdf"


@dataclass(frozen=True)
class Cell:
    """One lead drawn on an ECGtizer page: its row (0-3), 3x4 column, lead and the record's
    samples ``first`` .. ``end`` it shows."""

    row: int
    column: int
    lead: str
    first: int
    end: int


def page_cells(n_total: int, fs: float) -> list[Cell]:
    """The 13 cells of a page (12 short leads row by row, then the rhythm strip) of a record
    of ``n_total`` samples at ``fs`` Hz."""
    n_col = round(COLUMN_S * fs)
    cells = [
        Cell(r, k, lead, k * n_col, min((k + 1) * n_col, n_total))
        for r, leads in enumerate(MAIN_ROWS)
        for k, lead in enumerate(leads)
    ]
    return [*cells, Cell(len(MAIN_ROWS), 0, CELLS[-1][0], 0, n_total)]


# ---- page geometry ----------------------------------------------------------------------------


def band(centre: float, half: float, rows: int) -> tuple[int, int]:
    """First and end row (px) of the rows within ``half`` of ``centre``, clipped to ``rows``."""
    return max(0, round(centre - half)), min(rows, round(centre + half))


def _darkness(image: NDArray[np.uint8]) -> NDArray[np.float64]:
    """(rows, cols) float: ``FAINT_MAX - max(R, G, B)`` clipped at 0 (0 on paper and grid)."""
    return np.clip(FAINT_MAX - image.max(axis=2).astype(np.float64), 0.0, None)


def _centroid(weights: NDArray[np.float64], first_row: int) -> float:
    """Darkness-weighted mean row of a (rows, cols) window whose first row is ``first_row``."""
    w = weights.sum(axis=1)
    if w.sum() <= 0:
        return math.nan
    return first_row + float(np.average(np.arange(w.size), weights=w))


def _is_pulse(comp: NDArray[np.bool_]) -> bool:
    """Whether a component's (h, w) bool mask is a hollow rectangle open at the bottom."""
    h, w = comp.shape
    t = max(2, round(0.15 * h))
    top = comp[:t, round(0.2 * w) : max(round(0.8 * w), round(0.2 * w) + 1)].any(axis=0)
    mid = slice(round(0.2 * h), max(round(0.8 * h), round(0.2 * h) + 1))
    left = comp[mid, : max(1, round(0.35 * w))].any(axis=1)
    right = comp[mid, round(0.65 * w) :].any(axis=1)
    inside = comp[round(0.3 * h) : round(0.8 * h), round(0.35 * w) : round(0.65 * w)]
    return bool(
        top.mean() >= 0.9
        and left.mean() >= 0.9
        and right.mean() >= 0.9
        and (inside.size == 0 or inside.mean() < 0.05)
    )


def find_pulses(
    image: NDArray[np.uint8], px_per_mm_row: float, px_per_mm_col: float
) -> NDArray[np.int_]:
    """The calibration pulses in the left quarter of a page, top to bottom.

    A pulse is a component of ``FAINT_MAX`` ink 3-40 mm tall and 2-12 mm wide shaped as a
    rectangle open at the bottom (top stroke, two sides, empty inside). Returns (n, 4) int
    (top, left, bottom, right) inclusive pixel extents, sorted by row.
    """
    faint = (image.max(axis=2) < FAINT_MAX).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(faint, connectivity=8)
    found = []
    for k in range(1, n):
        left, top, w, h, _area = (int(v) for v in stats[k])
        if left > image.shape[1] / 4:
            continue
        if not (3 <= h / px_per_mm_row <= 40 and 2 <= w / px_per_mm_col <= 12):
            continue
        if _is_pulse(labels[top : top + h, left : left + w] == k):
            found.append((top, left, top + h - 1, left + w - 1))
    found.sort()
    return np.asarray(found, dtype=np.int_).reshape(-1, 4)


def trace_start(brightest: NDArray[np.uint8], col: int, reach: int) -> float | None:
    """Sub-pixel column (px) where the first stroke at or right of ``col`` begins.

    ``brightest`` (rows, cols) is ``max(R, G, B)`` of a row's band. The first column with
    ``FAINT_MAX`` ink within ``reach`` columns holds the stroke's (butt) end: its share of ink,
    against the next two columns (darkness above each column's median, summed over the
    stroke's rows), tells how far into that pixel the stroke begins. None when no ink.
    """
    window = brightest[:, col : col + reach]
    inked = np.nonzero((window < FAINT_MAX).any(axis=0))[0]
    if inked.size == 0:
        return None
    first = col + int(inked[0])
    cols = brightest[:, first : first + 3].astype(np.float64)
    rows = np.nonzero((cols < FAINT_MAX).any(axis=1))[0]
    dark = 255.0 - cols[max(rows[0] - 2, 0) : rows[-1] + 3]
    background = np.median(255.0 - cols, axis=0)
    sums = np.clip(dark - background, 0.0, None).sum(axis=0)
    full = float(sums[1:].max()) if sums.size > 1 else 0.0
    cover = float(np.clip(sums[0] / full, 0.0, 1.0)) if full > 0 else 1.0
    return first + 0.5 - cover


def reader_gain(measured: float) -> float:
    """``measured`` (mm/mV) snapped to the nearest of :data:`READER_GAINS_MM_MV` when within
    :data:`READER_GAIN_TOLERANCE`, else as is."""
    snapped = snap(measured, READER_GAINS_MM_MV, READER_GAIN_TOLERANCE)
    return measured if snapped is None else snapped


@dataclass(frozen=True)
class _Pulses:
    """The four pulses (``boxes``), their tops' and feet's rows (px) and the row pitch (px)."""

    boxes: NDArray[np.int_]
    tops: NDArray[np.float64]
    bases: NDArray[np.float64]
    pitch: float


def _measure_pulses(image: NDArray[np.uint8], ppm_r: float, ppm_c: float, name: str) -> _Pulses:
    """The page's four pulses and the 0 mV and 1 mV rows they give; raises ValueError when a
    page shows not four aligned, evenly spaced pulses."""
    boxes = find_pulses(image, ppm_r, ppm_c)
    if len(boxes) != N_ROWS:
        raise ValueError(f"{name}: found {len(boxes)} calibration pulses, expected 4 rows")
    if np.ptp(boxes[:, 1]) > 2 * ppm_c:
        raise ValueError(f"{name}: the calibration pulses are not aligned in one column")
    dark = _darkness(image)
    tops = np.empty(N_ROWS)
    bases = np.empty(N_ROWS)
    mm_r = max(1, round(ppm_r))
    for i, (top, left, bottom, right) in enumerate(boxes):
        w = right - left + 1
        r0 = max(top - 2, 0)
        mid = slice(left + w // 3, left + max(2 * w // 3, w // 3 + 1))
        tops[i] = _centroid(dark[r0 : top + mm_r, mid], r0)
        foot = max(1, round(0.3 * ppm_c))
        r0 = max(bottom - mm_r, 0)
        feet = np.r_[left : left + foot, right - foot + 1 : right + 1]
        bases[i] = _centroid(dark[r0 : bottom + 3][:, feet], r0)
    if not np.all(np.isfinite(tops) & np.isfinite(bases)):
        raise ValueError(f"{name}: cannot measure the calibration pulses")
    pitches = np.diff(bases)
    pitch = float(np.median(pitches))
    if pitch < 15 * ppm_r or np.ptp(pitches) > 0.1 * pitch:
        raise ValueError(f"{name}: rows not evenly spaced (baselines {np.round(bases, 1)} px)")
    return _Pulses(boxes=boxes, tops=tops, bases=bases, pitch=pitch)


def _pulse_gain(pulses: _Pulses, ppm_r: float, name: str) -> float:
    """The pulses' median height, mm (the gain they show, mm/mV)."""
    heights = (pulses.bases - pulses.tops) / ppm_r
    measured = float(np.median(heights))
    if np.ptp(heights) > 0.05 * measured:
        log.warning("%s: calibration pulses differ: %s mm", name, np.round(heights, 2))
    return measured


def _col_t0(image: NDArray[np.uint8], pulses: _Pulses, ppm_c: float, name: str) -> float:
    """The column (px) of t = 0: the first trace column right of each pulse, within half a
    pitch of its baseline (median over the rows), less the first vertex's 8 ms."""
    half = pulses.pitch / 2
    firsts = []
    brightest = image.max(axis=2)
    for i, right in enumerate(pulses.boxes[:, 3]):
        r0, r1 = band(pulses.bases[i], half, image.shape[0])
        start = trace_start(brightest[r0:r1], right + 2, round(4 * ppm_c))
        if start is None:
            raise ValueError(f"{name}: no trace after the calibration pulse of row {i + 1}")
        firsts.append(start)
    first = float(np.median(firsts))
    if np.ptp(firsts) > 2:
        log.warning("%s: the rows' traces start at different columns %s", name, firsts)
    return first - FIRST_VERTEX_S * SPEED_MM_S * ppm_c


def _row_ends(image: NDArray[np.uint8], pulses: _Pulses, col_t0: float) -> NDArray[np.float64]:
    """(4,) the last inked column (px) of each row right of t = 0 (NaN where none)."""
    faint = _darkness(image) > 0
    ends = np.empty(N_ROWS)
    for i in range(N_ROWS):
        r0, r1 = band(pulses.bases[i], pulses.pitch / 2, image.shape[0])
        cols = np.nonzero(faint[r0:r1, round(col_t0) :].any(axis=0))[0]
        ends[i] = round(col_t0) + int(cols[-1]) + 0.5 if cols.size else math.nan
    return ends


def page_geometry(image: NDArray[np.uint8], *, name: str = "page") -> PageGeometry:
    """Measure an ECGtizer page (rows, cols, 3) uint8: its rows, gain and time axis.

    See the module docstring for the method. ``name`` prefixes error messages. Raises
    :class:`ValueError` when the page does not look like a 3x4 + rhythm ECGtizer page (no grid,
    not four calibration pulses, no trace after a pulse, a rhythm strip not 10 s long).
    """
    grid = detect_grid(image)
    if not grid.found:
        raise ValueError(f"{name}: no ECG grid found")
    ppm_r, ppm_c = grid.px_per_mm_row, grid.px_per_mm_col
    pulses = _measure_pulses(image, ppm_r, ppm_c, name)
    measured = _pulse_gain(pulses, ppm_r, name)
    gain = reader_gain(measured)
    log.info(
        "%s: pulse %.3f mm/mV -> gain %.4g mm/mV (%s)",
        name,
        measured,
        gain,
        "snapped" if gain != measured else "measured, not within 3 % of 5/10/20",
    )
    col_t0 = _col_t0(image, pulses, ppm_c, name)
    # The time axis' end: each row's last inked column against its last drawn sample.
    ends = _row_ends(image, pulses, col_t0) / ppm_c
    t0_mm = col_t0 / ppm_c
    strip_err = float(ends[3] - (t0_mm + RHYTHM_LAST_S * SPEED_MM_S))
    last_mm = t0_mm + SHORT_LAST_S * SPEED_MM_S - 3 * COLUMN_SHIFT_MM
    rows_err = float(np.median(ends[:3] - last_mm))
    log.debug(
        "%s: rhythm strip ends %+.2f mm, short rows %+.2f mm from where expected",
        name,
        strip_err,
        rows_err,
    )
    if not (abs(strip_err) <= 1.0 and abs(rows_err) <= 1.0):
        raise ValueError(
            f"{name}: the rows end {strip_err:+.2f} mm (rhythm strip) and {rows_err:+.2f} mm "
            "(3x4 rows) off 10 s at 25 mm/s"
        )
    return PageGeometry(
        px_per_mm_row=ppm_r,
        px_per_mm_col=ppm_c,
        baselines=pulses.bases,
        pulse_tops=pulses.tops,
        pulse_boxes=pulses.boxes,
        col_t0=col_t0,
        row_pitch=pulses.pitch,
        gain_measured=measured,
        gain_mm_mv=gain,
        strip_end_error_mm=strip_err,
        rows_end_error_mm=rows_err,
    )
