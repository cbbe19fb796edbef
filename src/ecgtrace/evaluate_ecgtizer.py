"""Single-lead crops cut from the ECGtizer PDFs (a foreign renderer), with their truth signals.

The ECGtizer PDFs (``$ECGTRACE_DATA/ecgtizer-pdf``) are A4-landscape vector printouts of PTB-XL
test-fold records: a red 1 mm / 5 mm grid, black traces at 25 mm/s, a 3x4 layout (rows
I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6, columns 2.5 s each, no separators) and a 10 s
lead-II rhythm strip as a 4th row. Each row starts at the left with a 1 mV calibration pulse
(a rectangle standing on the row's 0 mV baseline), a gap of about 1 mm, then the trace.

The page geometry is read from the page itself, never from the PDF's drawing commands:

* **Ink.** A pixel is trace ink when its brightest channel is dark: ``max(R, G, B) < INK_MAX``
  (110). The grid is pink (its brightest channel stays >= ~230), so this keeps black ink only.
  At 100 DPI the 0.25 mm strokes are one pixel wide and anti-aliased, and a few % of the trace's
  columns hold no pixel below 110; structure is therefore found on the laxer
  ``max(R, G, B) < FAINT_MAX`` (170), still far below any grid pixel.
* **Scale.** px/mm along rows and cols from :func:`ecgtrace.grid.detect_grid`.
* **Rows.** Exactly four calibration pulses (hollow rectangles at the left of the page). The
  darkness-weighted centre of each pulse's feet is the row's 0 mV baseline; the centre of its
  top stroke is 1 mV above it, which gives the gain (mm/mV), snapped to 5, 10 or 20 when within
  3 %. The row pitch is the median distance between consecutive baselines.
* **Time.** The first column of trace ink right of the pulse, per row (the median over the four
  rows is used). ECGtizer draws its polylines through every 4th sample starting at sample 4,
  so this first inked column is 4 samples (8 ms, 0.2 mm at 25 mm/s) after t = 0:
  ``col(t) = first_col - 0.5 + (t - 0.008 s) * 25 mm/s * px_per_mm_col`` (the ``- 0.5`` puts
  the stroke's butt end at the first inked pixel's left edge). Checked against the truth by a
  least-squares fit of the drawn trace, and by the rhythm strip's end.

Each crop mirrors :func:`ecgtrace.render.crops.crop_segment`: it spans the lead's time span plus
``margin_mm`` aside and is centred (vertically) on the lead's baseline with half-height
``row_pitch / 2 + margin_mm``. With ``whole_trace`` it grows, still centred, until it holds the
lead's own trace: the ink (``FAINT_MAX``) within ``OWN_REACH_MM`` of the rows that the truth
polyline sweeps in each of the lead's columns, and the truth polyline itself. Ink further away
(other rows, lead names) is not the lead's. ``overlap`` is computed from the truth: another
row's truth signal, drawn at its baseline, comes within half a row pitch of this lead's
baseline in the lead's columns.
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
FIRST_VERTEX_S = 0.008  # the first vertex drawn is sample 4 of 500 Hz
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
    ``strip_end_error_mm`` is the rhythm strip's last inked column minus where its last drawn
    sample should be, in mm.
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

    def col_of(self, t_s: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """Column (px) of time ``t_s`` (s) on this page."""
        return self.col_t0 + np.asarray(t_s, np.float64) * SPEED_MM_S * self.px_per_mm_col


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
    firsts = []
    half = pitch / 2
    reach = round(4 * ppm_c)
    for i, (_top, _left, _bottom, right) in enumerate(boxes):
        r0, r1 = max(0, round(bases[i] - half)), min(image.shape[0], round(bases[i] + half))
        c0 = right + 2  # the pulse's anti-aliased edge may spill one column
        cols = np.nonzero(faint[r0:r1, c0 : c0 + reach].any(axis=0))[0]
        if cols.size == 0:
            raise ValueError(f"{name}: no trace after the calibration pulse of row {i + 1}")
        firsts.append(c0 + int(cols[0]))
    first = float(np.median(firsts))
    if np.ptp(firsts) > 2:
        log.warning("%s: the rows' traces start at different columns %s", name, firsts)
    col_t0 = first - 0.5 - FIRST_VERTEX_S * SPEED_MM_S * ppm_c

    # The rhythm strip's last drawn sample (4996 of 5000 at 500 Hz): 9.992 s.
    r0, r1 = round(bases[3] - half), min(image.shape[0], round(bases[3] + half))
    expect_end = col_t0 + (STRIP_S - FIRST_VERTEX_S) * SPEED_MM_S * ppm_c
    cols = np.nonzero(faint[r0:r1, round(col_t0) :].any(axis=0))[0]
    last = round(col_t0) + int(cols[-1]) + 0.5 if cols.size else math.nan
    end_error = (last - expect_end) / ppm_c
    if not abs(end_error) <= 1.0:
        raise ValueError(f"{name}: the rhythm strip ends {end_error:+.2f} mm from 10 s at 25 mm/s")
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
        strip_end_error_mm=end_error,
    )


# ---- crops ------------------------------------------------------------------------------------


def row_signals(p_signal: NDArray[np.float64], fs: float) -> NDArray[np.float64]:
    """(4, n) mV: what each row draws at each sample of the first 10 s, NaN past the record.

    Rows 1-3 hold the 3x4 layout's leads in turn (2.5 s each), row 4 the lead-II rhythm strip.
    """
    n = round(STRIP_S * fs)
    out = np.full((4, n), np.nan)
    m = min(n, p_signal.shape[0])
    t = np.arange(m) / fs
    col = np.minimum((t / COLUMN_S + 1e-9).astype(int), 3)
    for r, leads in enumerate(LAYOUT_3X4):
        idx = np.asarray([LEAD_NAMES.index(lead) for lead in leads])
        out[r, :m] = p_signal[np.arange(m), idx[col]]
    out[3, :m] = p_signal[:m, LEAD_NAMES.index(RHYTHM_LEAD)]
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
    rows_sig = row_signals(p_signal, fs)
    n_total = rows_sig.shape[1]
    faint = image.max(axis=2) < FAINT_MAX
    half_pitch = g.row_pitch / 2
    segments: list[tuple[int, str, int, int]] = []  # row, lead, first and end sample
    n_col = round(COLUMN_S * fs)
    for r, leads in enumerate(LAYOUT_3X4):
        for k, lead in enumerate(leads):
            segments.append((r, lead, k * n_col, min((k + 1) * n_col, n_total)))
    segments.append((3, RHYTHM_LEAD, 0, n_total))

    crops = []
    for r, lead, i0, i1 in segments:
        idx = np.arange(i0, i1)
        times = idx / fs
        signal = np.asarray(p_signal[i0 : min(i1, p_signal.shape[0]), LEAD_NAMES.index(lead)])
        times = times[: signal.size]
        base = float(g.baselines[r])
        cols = g.col_of(times)
        poly = np.stack([base - signal * gain_px, cols], axis=1)
        zero = np.stack([np.full_like(cols, base), cols], axis=1)
        left = float(g.col_of(i0 / fs))
        right = float(g.col_of(i1 / fs))

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
        for j in range(4):
            if j == r:
                continue
            other = g.baselines[j] - rows_sig[j, i0:i1] * gain_px
            if np.any(np.abs(other[np.isfinite(other)] - base) < half_pitch):
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
