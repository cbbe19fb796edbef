"""Single-lead crops cut from the ECGtizer PDFs (a foreign renderer), with their truth signals.

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
  top stroke is 1 mV above it, which gives the gain (mm/mV), snapped to 5, 10 or 20 when within
  3 %. The row pitch is the median distance between consecutive baselines.
* **Time.** Per row, the column where the first stroke right of the pulse begins (the first
  ``FAINT_MAX`` column, refined by its share of ink); the median over the rows is the first
  vertex, 8 ms after t = 0. Checked by each row's end: the rhythm strip's last vertex (sample
  4996) and the 3x4 rows' (sample 4998, column 3) must lie within 1 mm of where this time axis
  and the column shift put them.

Each crop mirrors :func:`ecgtrace.render.crops.crop_segment`: it spans the lead's time span as
drawn plus ``margin_mm`` aside and is centred (vertically) on the lead's baseline with
half-height ``row_pitch / 2 + margin_mm``. With ``whole_trace`` it grows, still centred, until it
holds the lead's own trace: the ``FAINT_MAX`` ink within ``OWN_REACH_MM`` (rows) of what the
truth polyline sweeps in each of the lead's columns, and the truth polyline itself; ink further
away (other rows, lead names) is not the lead's. ``overlap`` comes from the truth: another row's
truth, drawn at its baseline, comes within half a row pitch of this lead's baseline in the
lead's columns. The truth is the raw record, so the polyline departs from the drawn (smoothed)
trace by up to ~1 mm at sharp QRS peaks.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.data import data_dir, load_record
from ecgtrace.grid import detect_grid
from ecgtrace.render.crops import Crop
from ecgtrace.render.truth import paste_slices
from ecgtrace.types import LEAD_NAMES

log = logging.getLogger(__name__)

FOLDER = "ecgtizer-pdf"
LAYOUT_3X4: tuple[tuple[str, ...], ...] = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)
RHYTHM_LEAD = "II"
SPEED_MM_S = 25.0
COLUMN_S = 2.5
STRIP_S = 10.0
FIRST_VERTEX_S = 0.008  # each polyline's first vertex is its segment's sample 4 (of 500 Hz)
COLUMN_SHIFT_MM = 0.5  # column k of the 3x4 rows is drawn k * 0.5 mm left of its time
RHYTHM_LAST_S = 9.992  # last vertex of the rhythm strip: sample 4996
SHORT_LAST_S = 9.996  # last vertex of the 3x4 rows: sample 4998
INK_MAX = 110  # max(R, G, B) below this: trace ink
FAINT_MAX = 170  # max(R, G, B) below this: ink or its anti-aliased edge (grid pixels are >= ~230)
OWN_REACH_MM = 1.0  # ink this close (rows) to the truth polyline's sweep belongs to the lead
STANDARD_GAINS = (5.0, 10.0, 20.0)
GAIN_SNAP = 0.03
PAPER = 255

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


# ---- page geometry ----------------------------------------------------------------------------


def _band(centre: float, half: float, rows: int) -> tuple[int, int]:
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


def snap_gain(measured: float) -> float:
    """``measured`` (mm/mV) snapped to the nearest of 5, 10, 20 when within 3 %, else as is."""
    nearest = min(STANDARD_GAINS, key=lambda g: abs(measured / g - 1))
    return nearest if abs(measured / nearest - 1) <= GAIN_SNAP else measured


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
    boxes = find_pulses(image, ppm_r, ppm_c)
    if len(boxes) != 4:
        raise ValueError(f"{name}: found {len(boxes)} calibration pulses, expected 4 rows")
    if np.ptp(boxes[:, 1]) > 2 * ppm_c:
        raise ValueError(f"{name}: the calibration pulses are not aligned in one column")
    dark = _darkness(image)
    faint = dark > 0
    tops = np.empty(4)
    bases = np.empty(4)
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
    heights = (bases - tops) / ppm_r
    measured = float(np.median(heights))
    if np.ptp(heights) > 0.05 * measured:
        log.warning("%s: calibration pulses differ: %s mm", name, np.round(heights, 2))
    gain = snap_gain(measured)
    log.info(
        "%s: pulse %.3f mm/mV -> gain %.4g mm/mV (%s)",
        name,
        measured,
        gain,
        "snapped" if gain != measured else "measured, not within 3 % of 5/10/20",
    )

    # t = 0: the first trace column right of each pulse, within half a pitch of its baseline.
    half = pitch / 2
    firsts = []
    brightest = image.max(axis=2)
    for i, right in enumerate(boxes[:, 3]):
        r0, r1 = _band(bases[i], half, image.shape[0])
        start = trace_start(brightest[r0:r1], right + 2, round(4 * ppm_c))
        if start is None:
            raise ValueError(f"{name}: no trace after the calibration pulse of row {i + 1}")
        firsts.append(start)
    first = float(np.median(firsts))
    if np.ptp(firsts) > 2:
        log.warning("%s: the rows' traces start at different columns %s", name, firsts)
    col_t0 = first - FIRST_VERTEX_S * SPEED_MM_S * ppm_c

    # The time axis' end: each row's last inked column against its last drawn sample.
    ends = np.empty(4)
    for i in range(4):
        r0, r1 = _band(bases[i], half, image.shape[0])
        cols = np.nonzero(faint[r0:r1, round(col_t0) :].any(axis=0))[0]
        ends[i] = round(col_t0) + int(cols[-1]) + 0.5 if cols.size else math.nan
    t0_mm = col_t0 / ppm_c
    strip_err = ends[3] / ppm_c - (t0_mm + RHYTHM_LAST_S * SPEED_MM_S)
    rows_err = float(
        np.median(ends[:3] / ppm_c - (t0_mm + SHORT_LAST_S * SPEED_MM_S - 3 * COLUMN_SHIFT_MM))
    )
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
        baselines=bases,
        pulse_tops=tops,
        pulse_boxes=boxes,
        col_t0=col_t0,
        row_pitch=pitch,
        gain_measured=measured,
        gain_mm_mv=gain,
        strip_end_error_mm=float(strip_err),
        rows_end_error_mm=rows_err,
    )


# ---- crops ------------------------------------------------------------------------------------


def row_polylines(
    p_signal: NDArray[np.float64], fs: float, geometry: PageGeometry
) -> list[NDArray[np.float64]]:
    """Where the truth of each of the 4 rows lies on the page: (n, 2) (row, col) px each.

    Rows 1-3 hold the 3x4 layout's leads in turn (2.5 s each, column k shifted as drawn), row 4
    the 10 s lead-II rhythm strip; ``p_signal`` (n, 12) mV at ``fs`` Hz, first 10 s used.
    """
    g = geometry
    n = min(round(STRIP_S * fs), p_signal.shape[0])
    t = np.arange(n) / fs
    column = np.minimum((t / COLUMN_S + 1e-9).astype(int), 3)
    gain_px = g.gain_mm_mv * g.px_per_mm_row
    out = []
    for r, leads in enumerate(LAYOUT_3X4):
        idx = np.asarray([LEAD_NAMES.index(lead) for lead in leads])
        values = p_signal[np.arange(n), idx[column]]
        out.append(np.stack([g.baselines[r] - values * gain_px, g.col_of(t, column)], axis=1))
    values = p_signal[:n, LEAD_NAMES.index(RHYTHM_LEAD)]
    out.append(np.stack([g.baselines[3] - values * gain_px, g.col_of(t)], axis=1))
    return out


def _sweep(poly: NDArray[np.float64], cols: NDArray[np.int_]) -> tuple[NDArray, NDArray]:
    """Per column in ``cols`` (sorted ints), the lowest and highest row (px) the polyline
    (n, 2) (row, col) sweeps over that column's width; NaN where it does not reach."""
    step = 0.25
    dense_c = np.arange(cols[0] - 0.5, cols[-1] + 0.5 + step, step)
    dense_r = np.interp(dense_c, poly[:, 1], poly[:, 0], left=np.nan, right=np.nan)
    k = np.clip(np.round(dense_c).astype(int) - cols[0], 0, cols.size - 1)
    lo = np.full(cols.size, np.inf)
    hi = np.full(cols.size, -np.inf)
    ok = np.isfinite(dense_r)
    np.minimum.at(lo, k[ok], dense_r[ok])
    np.maximum.at(hi, k[ok], dense_r[ok])
    lo[~np.isfinite(lo)] = np.nan
    hi[~np.isfinite(hi)] = np.nan
    return lo, hi


def own_ink_extent(
    faint: NDArray[np.bool_], poly: NDArray[np.float64], reach_px: float
) -> tuple[float, float]:
    """Top and bottom rows (px) of a lead's own trace on a page mask ``faint`` (rows, cols).

    The own trace is the ink within ``reach_px`` rows of what the truth polyline (n, 2)
    (row, col) sweeps in each column it spans, together with the polyline itself.
    """
    finite = np.all(np.isfinite(poly), axis=1)
    poly = poly[finite]
    top, bottom = float(poly[:, 0].min()), float(poly[:, 0].max())
    c_lo = max(0, math.ceil(poly[:, 1].min()))
    c_hi = min(faint.shape[1] - 1, math.floor(poly[:, 1].max()))
    if c_hi < c_lo:
        return top, bottom
    cols = np.arange(c_lo, c_hi + 1)
    lo, hi = _sweep(poly, cols)
    r0 = max(0, math.floor(np.nanmin(lo) - reach_px))
    r1 = min(faint.shape[0], math.ceil(np.nanmax(hi) + reach_px) + 1)
    if r1 <= r0:
        return top, bottom
    rows = np.arange(r0, r1)[:, None]
    near = (rows >= lo - reach_px) & (rows <= hi + reach_px) & faint[r0:r1, c_lo : c_hi + 1]
    hit = np.nonzero(near.any(axis=1))[0]
    if hit.size:
        top = min(top, float(r0 + hit[0]))
        bottom = max(bottom, float(r0 + hit[-1]))
    return top, bottom


def page_crops(
    image: NDArray[np.uint8],
    p_signal: NDArray[np.float64],
    fs: float,
    geometry: PageGeometry,
    *,
    margin_mm: float = 5.0,
    whole_trace: bool = True,
) -> list[Crop]:
    """The 13 crops (12 short leads row by row, then the rhythm strip) of a measured page.

    ``image`` (rows, cols, 3) uint8 is the page, ``p_signal`` (n, 12) mV its record in
    :data:`~ecgtrace.types.LEAD_NAMES` order at ``fs`` Hz. See the module docstring.
    """
    g = geometry
    ppm_r, ppm_c = g.px_per_mm_row, g.px_per_mm_col
    gain_px = g.gain_mm_mv * ppm_r  # px per mV
    n_total = min(round(STRIP_S * fs), p_signal.shape[0])
    rows_truth = row_polylines(p_signal, fs, g)
    faint = image.max(axis=2) < FAINT_MAX
    half_pitch = g.row_pitch / 2
    segments: list[tuple[int, int, str, int, int]] = []  # row, column, lead, first, end sample
    n_col = round(COLUMN_S * fs)
    for r, leads in enumerate(LAYOUT_3X4):
        for k, lead in enumerate(leads):
            segments.append((r, k, lead, k * n_col, min((k + 1) * n_col, n_total)))
    segments.append((3, 0, RHYTHM_LEAD, 0, n_total))

    crops = []
    for r, k, lead, i0, i1 in segments:
        times = np.arange(i0, i1) / fs
        signal = np.asarray(p_signal[i0:i1, LEAD_NAMES.index(lead)], dtype=np.float64)
        base = float(g.baselines[r])
        cols = g.col_of(times, k)
        poly = np.stack([base - signal * gain_px, cols], axis=1)
        zero = np.stack([np.full_like(cols, base), cols], axis=1)
        left = float(g.col_of(i0 / fs, k))
        right = float(g.col_of(i1 / fs, k))

        half = half_pitch + margin_mm * ppm_r
        if whole_trace:
            top, bottom = own_ink_extent(faint, poly, OWN_REACH_MM * ppm_r)
            half = max(half, base - top + 1, bottom - base + 1)
        r0 = math.floor(base - half)
        r1 = math.ceil(base + half) + 1
        c0 = math.floor(left - margin_mm * ppm_c)
        c1 = math.ceil(right + margin_mm * ppm_c) + 1
        shape = (r1 - r0, c1 - c0)
        crop = np.full((*shape, 3), PAPER, dtype=np.uint8)
        in_page, in_crop = paste_slices((r0, c0), shape, image.shape[:2])
        crop[in_crop] = image[in_page]

        overlap = False
        for j, other in enumerate(rows_truth):
            if j == r:
                continue
            inside = (other[:, 1] >= left) & (other[:, 1] < right)
            if np.any(np.abs(other[inside, 0] - base) < half_pitch):
                overlap = True
                break
        crops.append(
            Crop(
                image=crop,
                mask=np.zeros(shape, dtype=bool),
                others=np.zeros(shape, dtype=bool),
                lead=lead,
                times_s=times,
                signal_mv=signal,
                polyline=poly - (r0, c0),
                zero_line=zero - (r0, c0),
                px_per_mm_row=ppm_r,
                px_per_mm_col=ppm_c,
                speed_mm_s=SPEED_MM_S,
                gain_mm_mv=g.gain_mm_mv,
                overlap=overlap,
                origin=(r0, c0),
                degradations=("ecgtizer",),
                mask_known=False,
            )
        )
    return crops


def ecgtizer_crops(
    *,
    dpi: float = 200.0,
    ids: Sequence[int] | None = None,
    margin_mm: float = 5.0,
    whole_trace: bool = True,
) -> Iterator[Crop]:
    """Yield the 13 crops of each ECGtizer PDF (sorted by ecg id; only ``ids`` if given).

    Each PDF's first page is rasterised at ``dpi`` and measured with :func:`page_geometry`;
    the truth is the PTB-XL record at 500 Hz. Raises :class:`ValueError` naming the file when a
    page does not look like the ECGtizer 3x4 + rhythm layout, or an id has no PDF.
    """
    from ecgtrace.io.pdf import rasterize_pdf

    available = ecgtizer_ids()
    wanted = available if ids is None else sorted(ids)
    for ecg_id in wanted:
        path = ecgtizer_path(ecg_id)
        if ecg_id not in available:
            raise ValueError(f"{path}: no such ECGtizer PDF")
        t0 = time.perf_counter()
        image = rasterize_pdf(path, dpi=dpi, pages=1)[0]
        geometry = page_geometry(image, name=str(path))
        record = load_record(ecg_id, fs=500)
        crops = page_crops(
            image,
            record.p_signal,
            record.fs,
            geometry,
            margin_mm=margin_mm,
            whole_trace=whole_trace,
        )
        log.debug("%s: 13 crops in %.2f s", path.name, time.perf_counter() - t0)
        yield from crops
