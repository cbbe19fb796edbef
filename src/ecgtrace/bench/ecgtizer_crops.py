"""Single-lead crops cut from the ECGtizer PDFs, with their truth signals.

Each page is measured by :func:`ecgtrace.bench.ecgtizer.page_geometry`. Each crop mirrors
:func:`ecgtrace.render.crops.crop_segment`: it spans the lead's time span as drawn plus
``margin_mm`` aside and is centred (vertically) on the lead's baseline with half-height
``row_pitch / 2 + margin_mm``. With ``whole_trace`` it grows, still centred, until it holds the
lead's own trace: the ``FAINT_MAX`` ink within ``OWN_REACH_MM`` (rows) of what the truth
polyline sweeps in each of the lead's columns, and the truth polyline itself; ink further away
(other rows, lead names) is not the lead's. ``overlap`` comes from the truth: another row's
truth, drawn at its baseline, comes within half a row pitch of this lead's baseline in the
lead's columns. The truth is the raw record, so the polyline departs from the drawn (smoothed)
trace by up to ~1 mm at sharp QRS peaks.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace.bench.ecgtizer import (
    COLUMN_S,
    FAINT_MAX,
    MAIN_ROWS,
    RHYTHM_LEAD,
    SPEED_MM_S,
    STRIP_S,
    Cell,
    PageGeometry,
    ecgtizer_ids,
    ecgtizer_path,
    page_cells,
    page_geometry,
)
from ecgtrace.data import load_record
from ecgtrace.leads import LEAD_NAMES
from ecgtrace.render.crops import Crop
from ecgtrace.render.truth import paste_slices

log = logging.getLogger(__name__)

OWN_REACH_MM = 1.0  # ink this close (rows) to the truth polyline's sweep belongs to the lead
PAPER = 255


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
    for r, leads in enumerate(MAIN_ROWS):
        idx = np.asarray([LEAD_NAMES.index(lead) for lead in leads])
        values = p_signal[np.arange(n), idx[column]]
        out.append(np.stack([g.baselines[r] - values * gain_px, g.col_of(t, column)], axis=1))
    values = p_signal[:n, LEAD_NAMES.index(RHYTHM_LEAD)]
    out.append(np.stack([g.baselines[len(MAIN_ROWS)] - values * gain_px, g.col_of(t)], axis=1))
    return out


@dataclass(frozen=True)
class Sweep:
    """Per column of a run of columns, the lowest (``lo``) and highest (``hi``) row (px) a
    polyline sweeps over that column's width; NaN where it does not reach."""

    lo: NDArray[np.float64]
    hi: NDArray[np.float64]


def sweep(poly: NDArray[np.float64], cols: NDArray[np.int_]) -> Sweep:
    """The :class:`Sweep` of the polyline (n, 2) (row, col) over ``cols`` (sorted ints)."""
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
    return Sweep(lo=lo, hi=hi)


@dataclass(frozen=True)
class RowExtent:
    """The top and bottom rows (px) of a lead's own trace on the page."""

    top: float
    bottom: float


def own_ink_extent(
    faint: NDArray[np.bool_], poly: NDArray[np.float64], reach_px: float
) -> RowExtent:
    """The rows a lead's own trace spans on a page mask ``faint`` (rows, cols).

    The own trace is the ink within ``reach_px`` rows of what the truth polyline (n, 2)
    (row, col) sweeps in each column it spans, together with the polyline itself.
    """
    finite = np.all(np.isfinite(poly), axis=1)
    poly = poly[finite]
    top, bottom = float(poly[:, 0].min()), float(poly[:, 0].max())
    c_lo = max(0, math.ceil(poly[:, 1].min()))
    c_hi = min(faint.shape[1] - 1, math.floor(poly[:, 1].max()))
    if c_hi < c_lo:
        return RowExtent(top, bottom)
    swept = sweep(poly, np.arange(c_lo, c_hi + 1))
    r0 = max(0, math.floor(np.nanmin(swept.lo) - reach_px))
    r1 = min(faint.shape[0], math.ceil(np.nanmax(swept.hi) + reach_px) + 1)
    if r1 <= r0:
        return RowExtent(top, bottom)
    rows = np.arange(r0, r1)[:, None]
    near = (rows >= swept.lo - reach_px) & (rows <= swept.hi + reach_px)
    hit = np.nonzero((near & faint[r0:r1, c_lo : c_hi + 1]).any(axis=1))[0]
    if hit.size:
        top = min(top, float(r0 + hit[0]))
        bottom = max(bottom, float(r0 + hit[-1]))
    return RowExtent(top, bottom)


def _overlaps(
    rows_truth: Sequence[NDArray[np.float64]],
    cell: Cell,
    left: float,
    right: float,
    g: PageGeometry,
) -> bool:
    """Whether another row's truth comes within half a row pitch of the cell's baseline in
    the cell's columns."""
    base = float(g.baselines[cell.row])
    for j, other in enumerate(rows_truth):
        if j == cell.row:
            continue
        inside = (other[:, 1] >= left) & (other[:, 1] < right)
        if np.any(np.abs(other[inside, 0] - base) < g.row_pitch / 2):
            return True
    return False


def _cell_crop(
    image: NDArray[np.uint8],
    faint: NDArray[np.bool_],
    record: tuple[NDArray[np.float64], float],
    g: PageGeometry,
    cell: Cell,
    rows_truth: Sequence[NDArray[np.float64]],
    *,
    margin_mm: float,
    whole_trace: bool,
) -> Crop:
    """The crop of one cell (see the module docstring); ``faint`` is the page's
    ``FAINT_MAX`` ink."""
    p_signal, fs = record
    ppm_r, ppm_c = g.px_per_mm_row, g.px_per_mm_col
    times = np.arange(cell.first, cell.end) / fs
    signal = np.asarray(p_signal[cell.first : cell.end, LEAD_NAMES.index(cell.lead)], np.float64)
    base = float(g.baselines[cell.row])
    cols = g.col_of(times, cell.column)
    gain_px = g.gain_mm_mv * ppm_r  # px per mV
    poly = np.stack([base - signal * gain_px, cols], axis=1)
    zero = np.stack([np.full_like(cols, base), cols], axis=1)
    left = float(g.col_of(cell.first / fs, cell.column))
    right = float(g.col_of(cell.end / fs, cell.column))
    half = g.row_pitch / 2 + margin_mm * ppm_r
    if whole_trace:
        own = own_ink_extent(faint, poly, OWN_REACH_MM * ppm_r)
        half = max(half, base - own.top + 1, own.bottom - base + 1)
    r0 = math.floor(base - half)
    c0 = math.floor(left - margin_mm * ppm_c)
    shape = (math.ceil(base + half) + 1 - r0, math.ceil(right + margin_mm * ppm_c) + 1 - c0)
    crop = np.full((*shape, 3), PAPER, dtype=np.uint8)
    in_page, in_crop = paste_slices((r0, c0), shape, image.shape[:2])
    crop[in_crop] = image[in_page]
    return Crop(
        image=crop,
        mask=np.zeros(shape, dtype=bool),
        others=np.zeros(shape, dtype=bool),
        lead=cell.lead,
        times_s=times,
        signal_mv=signal,
        polyline=poly - (r0, c0),
        zero_line=zero - (r0, c0),
        px_per_mm_row=ppm_r,
        px_per_mm_col=ppm_c,
        speed_mm_s=SPEED_MM_S,
        gain_mm_mv=g.gain_mm_mv,
        overlap=_overlaps(rows_truth, cell, left, right, g),
        origin=(r0, c0),
        degradations=("ecgtizer",),
        mask_known=False,
    )


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
    :data:`~ecgtrace.leads.LEAD_NAMES` order at ``fs`` Hz. See the module docstring.
    """
    rows_truth = row_polylines(p_signal, fs, geometry)
    n_total = min(round(STRIP_S * fs), p_signal.shape[0])
    faint = image.max(axis=2) < FAINT_MAX
    return [
        _cell_crop(
            image,
            faint,
            (p_signal, fs),
            geometry,
            cell,
            rows_truth,
            margin_mm=margin_mm,
            whole_trace=whole_trace,
        )
        for cell in page_cells(n_total, fs)
    ]


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
