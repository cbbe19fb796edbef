"""Draw a 12-lead signal on realistic ECG paper and record the exact truth of the drawing.

Geometry is computed in mm on paper and converted once to pixels (``dpi / 25.4`` px/mm, pixel
``(r, c)`` centred at ``(r, c)``). Traces are stroked 4x supersampled and area-averaged, so each
lead's anti-aliased ink coverage is known exactly; its mask is that coverage >= 50 %, which is
also where the composited image is closer to the ink than to the paper.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ecgtrace.render.spec import LIMB_ORDERS, PageSpec, SpecError
from ecgtrace.render.truth import (
    ALPHA_THRESHOLD,
    PageTruth,
    PulseTruth,
    Rendered,
    SegmentTruth,
    paste_slices,
)
from ecgtrace.types import LEAD_NAMES, Box

log = logging.getLogger(__name__)

_FONTS = {
    "simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "duplex": cv2.FONT_HERSHEY_DUPLEX,
    "complex": cv2.FONT_HERSHEY_COMPLEX,
    "triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "plain": cv2.FONT_HERSHEY_PLAIN,
    "italic": cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
}
_PULSE_LEAD_MM = 1.0  # flat foot before and after the calibration step
_PULSE_S = 0.2  # width of the 1 mV plateau
_LABEL_ALIASES = {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}


@dataclass(frozen=True)
class _Cell:
    label: str  # as printed, e.g. "-aVR"
    row: int
    col: int
    t0_s: float
    t1_s: float
    is_rhythm: bool

    @property
    def lead(self) -> str:
        return self.label.lstrip("-")

    @property
    def inverted(self) -> bool:
        return self.label.startswith("-")


def normalise_lead_names(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Standard spelling of lead names (PTB-XL's ``AVR`` becomes ``aVR``)."""
    return tuple(_LABEL_ALIASES.get(n.strip(), n.strip()) for n in names)


def layout_rows(spec: PageSpec) -> list[list[str]]:
    """The printed labels of each row of ``spec``'s layout, rhythm strips last.

    Rhythm strips belong to 3x4 and 6x2; 12x1 and single strips ignore ``rhythm_leads``.
    """
    twelve = (*LIMB_ORDERS[spec.lead_order], "V1", "V2", "V3", "V4", "V5", "V6")
    if spec.layout == "3x4":
        rows = [[twelve[r + 3 * c] for c in range(4)] for r in range(3)]
    elif spec.layout == "6x2":
        rows = [[twelve[r], twelve[6 + r]] for r in range(6)]
    elif spec.layout == "12x1":
        return [[lead] for lead in twelve]  # every lead is already a 10 s strip
    else:
        return [[spec.single_lead]]
    return rows + [[lead] for lead in spec.rhythm_leads]


def _cells(spec: PageSpec, total_s: float) -> list[_Cell]:
    rows = layout_rows(spec)
    n_main = {"3x4": 3, "6x2": 6}.get(spec.layout, len(rows))
    cells = []
    for r, labels in enumerate(rows):
        step = total_s / len(labels)
        for c, label in enumerate(labels):
            cells.append(_Cell(label, r, c, c * step, (c + 1) * step, r >= n_main))
    return cells


def _pulse_area_mm(spec: PageSpec) -> float:
    if spec.calibration == "none":
        return 0.0
    return 2 * _PULSE_LEAD_MM + _PULSE_S * spec.speed_mm_s + 1.0


def _stroke(
    runs: list[NDArray[np.float64]], width_px: float, shape: tuple[int, int]
) -> tuple[NDArray[np.uint8], tuple[int, int]]:
    """Anti-aliased ink coverage of polylines (each (n, 2) row/col px) of a given width.

    Returns the coverage (h, w) uint8 of the polylines' bounding box and its origin (row, col).
    Supersampling then area-averaging gives exact, sub-pixel coverage for any width.
    """
    pts = np.concatenate(runs)
    pad = width_px / 2 + 2
    r0 = math.floor(np.min(pts[:, 0]) - pad)
    c0 = math.floor(np.min(pts[:, 1]) - pad)
    r1 = math.ceil(np.max(pts[:, 0]) + pad) + 1
    c1 = math.ceil(np.max(pts[:, 1]) + pad) + 1
    # Keep within the page (plus a little) so huge amplitudes cannot allocate huge canvases.
    r0, c0 = max(r0, -4), max(c0, -4)
    r1, c1 = min(r1, shape[0] + 4), min(c1, shape[1] + 4)
    h, w = max(r1 - r0, 1), max(c1 - c0, 1)
    ss = 4 if width_px * 4 < 64 else 2
    canvas = np.zeros((h * ss, w * ss), dtype=np.uint8)
    thickness = max(1, round(width_px * ss))
    fixed = []
    for run in runs:
        local = (run - (r0, c0) + 0.5) * ss - 0.5
        fixed.append(np.round(local[:, ::-1] * 16).astype(np.int32))  # cv2 wants (x, y)
    cv2.polylines(canvas, fixed, False, 255, thickness=thickness, lineType=cv2.LINE_AA, shift=4)
    alpha = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    return np.asarray(alpha, dtype=np.uint8), (r0, c0)


def _finite_runs(points: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    ok = np.all(np.isfinite(points), axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
    return [points[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= 1]


def _line_coverage(n: int, start: float, stop: float, pitch: float, width: float) -> NDArray:
    """(n,) float32: coverage of pixels 0..n-1 by lines at start + k * pitch (px) up to stop."""
    i = np.arange(n, dtype=np.float64)
    k = np.clip(np.round((i - start) / pitch), 0, math.floor((stop - start) / pitch + 1e-9))
    p = start + k * pitch
    cov = np.minimum(i + 0.5, p + width / 2) - np.maximum(i - 0.5, p - width / 2)
    return np.clip(cov, 0.0, 1.0).astype(np.float32)


def _grid_alpha(shape: tuple[int, int], spec: PageSpec, area: Box) -> tuple[NDArray, NDArray]:
    """Coverage (rows, cols) float32 of the minor and the major grid lines inside ``area``."""
    g = spec.grid
    if g.style == "none":
        zero = np.zeros(shape, dtype=np.float32)
        return zero, zero
    ppm = spec.px_per_mm
    rows, cols = shape
    in_r = ((np.arange(rows) >= area.top) & (np.arange(rows) < area.bottom)).astype(np.float32)
    in_c = ((np.arange(cols) >= area.left) & (np.arange(cols) < area.right)).astype(np.float32)

    def lines(pitch_mm: float, width_mm: float) -> tuple[NDArray, NDArray]:
        cr = _line_coverage(rows, area.top, area.bottom, pitch_mm * ppm, width_mm * ppm) * in_r
        cc = _line_coverage(cols, area.left, area.right, pitch_mm * ppm, width_mm * ppm) * in_c
        return cr, cc

    if g.style == "solid":
        cr, cc = lines(1.0, g.minor_width_mm)
        minor = np.maximum(np.outer(cr, in_c), np.outer(in_r, cc))
    else:  # dots at the minor intersections, a little wider than the lines would be
        cr, cc = lines(1.0, max(2.0 * g.minor_width_mm, 0.15))
        minor = np.outer(cr, cc)
    mr, mc = lines(5.0, g.major_width_mm)
    major = np.maximum(np.outer(mr, in_c), np.outer(in_r, mc))
    return minor.astype(np.float32), major.astype(np.float32)


def _compose(
    spec: PageSpec, minor: NDArray, major: NDArray, ink: NDArray[np.uint8]
) -> NDArray[np.uint8]:
    """Paper, then minor grid, major grid and ink, each painted over the last by its coverage."""
    a_ink = ink.astype(np.float32) * np.float32(1 / 255)
    keep_ink = 1.0 - a_ink
    w_major = major * keep_ink
    keep_major = keep_ink - w_major
    w_minor = minor * keep_major
    w_paper = keep_major - w_minor
    weights = np.stack([w_paper, w_minor, w_major, a_ink], axis=-1)
    g = spec.grid
    colours = np.array(
        [g.paper_colour, g.minor_colour, g.major_colour, spec.trace_colour], dtype=np.float32
    )
    rgb = weights.reshape(-1, 4) @ colours
    rgb += 0.5
    return rgb.reshape(*ink.shape, 3).astype(np.uint8)


def _text(
    canvas: NDArray[np.uint8], text: str, row_px: float, col_px: float, height_px: float, font: str
) -> Box:
    """Draw ``text`` with its baseline-left corner at (row, col); return its box."""
    face = _FONTS[font]
    (_, h1), _ = cv2.getTextSize(text, face, 1.0, 1)
    scale = height_px / max(h1, 1)
    thickness = max(1, round(scale * 1.6))
    (w, h), below = cv2.getTextSize(text, face, scale, thickness)
    org = (round(col_px), round(row_px))
    cv2.putText(canvas, text, org, face, scale, 255, thickness, cv2.LINE_AA)
    pad = thickness
    return Box(org[1] - h - pad, org[0] - pad, org[1] + below + pad, org[0] + w + pad)


def _header_text(spec: PageSpec, rng: np.random.Generator) -> str:
    if spec.header_text is not None:
        return spec.header_text
    pid = rng.integers(10000, 99999)
    hr = rng.integers(48, 110)
    return (
        f"ID {pid}   HR {hr} bpm   {spec.speed_mm_s:g} mm/s   {spec.gain_mm_mv:g} mm/mV   "
        "0.05-150 Hz"
    )


def render_page(
    signal_mv: ArrayLike,
    fs: float,
    spec: PageSpec | None = None,
    *,
    lead_names: tuple[str, ...] | list[str] = LEAD_NAMES,
    rng: int | np.random.Generator | None = None,
) -> Rendered:
    """Draw a recording on ECG paper.

    Parameters
    ----------
    signal_mv : (n_samples, n_leads) array, mV
        The recording; columns named by ``lead_names`` (any order; PTB-XL spellings accepted).
    fs : float
        Sampling frequency, Hz.
    spec : PageSpec
        Layout, paper settings and styles (default: 3x4 with a lead II rhythm strip, letter,
        200 DPI, 25 mm/s, 10 mm/mV).
    rng : seed or Generator
        Decides the made-up header text; everything else follows from ``spec``.

    Returns
    -------
    Rendered
        The image (rows, cols, 3) uint8 RGB and its :class:`PageTruth`.
    """
    spec = spec or PageSpec()
    spec.validate()
    rng = np.random.default_rng(rng)
    sig = np.asarray(signal_mv, dtype=np.float64)
    if sig.ndim != 2 or sig.shape[0] < 2:
        raise SpecError(f"signal must be (n_samples, n_leads) with n_samples >= 2, got {sig.shape}")
    if not fs > 0:
        raise SpecError(f"fs must be > 0 Hz, got {fs}")
    names = normalise_lead_names(list(lead_names))
    if len(names) != sig.shape[1]:
        raise SpecError(f"{len(names)} lead names for {sig.shape[1]} signal columns")
    needed = {c.lstrip("-") for row in layout_rows(spec) for c in row}
    missing = [lead for lead in LEAD_NAMES if lead in needed and lead not in names]
    if missing:
        raise SpecError(f"missing leads for layout {spec.layout}: {', '.join(missing)}")
    full = np.full((sig.shape[0], len(LEAD_NAMES)), np.nan)
    for j, name in enumerate(names):
        if name in LEAD_NAMES:
            full[:, LEAD_NAMES.index(name)] = sig[:, j]

    ppm = spec.px_per_mm
    rows_of_labels = layout_rows(spec)
    n_rows = len(rows_of_labels)
    pulse_mm = _pulse_area_mm(spec)
    record_s = sig.shape[0] / fs
    total_s = spec.duration_s if spec.duration_s is not None else record_s
    total_s = min(total_s, record_s)

    if spec.page_mm is None:
        spacing = spec.row_spacing_mm or 3.5 * spec.gain_mm_mv
        spacing *= 1.0 - 0.6 * spec.overlap
        height_mm = 2 * spec.margin_mm + spec.header_mm + n_rows * spacing
        width_mm = 2 * spec.margin_mm + pulse_mm + total_s * spec.speed_mm_s
    else:
        height_mm, width_mm = spec.page_mm
        fit_s = (width_mm - 2 * spec.margin_mm - pulse_mm) / spec.speed_mm_s
        if fit_s < total_s:  # show what fits, in whole 0.05 s per column
            n_cols = max(len(r) for r in rows_of_labels)
            total_s = n_cols * math.floor(fit_s / n_cols * 20 + 1e-9) / 20
        content_h = height_mm - 2 * spec.margin_mm - spec.header_mm
        spacing = spec.row_spacing_mm or content_h / n_rows
        spacing *= 1.0 - 0.6 * spec.overlap
        if n_rows * spacing > content_h + 1e-6:
            raise SpecError(
                f"{n_rows} rows of {spacing:.1f} mm do not fit in {content_h:.1f} mm of page"
            )
    if total_s <= 0:
        raise SpecError("no time fits on the page: widen the page or lower the paper speed")
    shape = (max(1, round(height_mm * ppm)), max(1, round(width_mm * ppm)))
    if shape[0] * shape[1] > 200e6:
        raise SpecError(f"page of {shape[0]} x {shape[1]} px is too large to render")

    content_top = spec.margin_mm + spec.header_mm
    content_h = height_mm - 2 * spec.margin_mm - spec.header_mm
    block_top = content_top + (content_h - n_rows * spacing) / 2
    block_w = pulse_mm + total_s * spec.speed_mm_s
    block_left = spec.margin_mm + (width_mm - 2 * spec.margin_mm - block_w) / 2
    trace_left = block_left + (pulse_mm if spec.calibration == "left" else 0.0)

    def px(mm: float | NDArray) -> NDArray:
        return np.asarray(mm, dtype=np.float64) * ppm - 0.5

    def col_of(t_s: NDArray | float) -> NDArray:
        return px(trace_left + np.asarray(t_s) * spec.speed_mm_s)

    base_mm = [block_top + spacing * (i + 0.5) for i in range(n_rows)]
    width_px = spec.trace_width_mm * ppm
    marks_alpha = np.zeros(shape, dtype=np.uint8)
    ink_alpha = np.zeros(shape, dtype=np.uint8)

    def paste(alpha: NDArray[np.uint8], origin: tuple[int, int], into: NDArray[np.uint8]) -> None:
        page, crop = paste_slices(origin, alpha.shape, shape)
        into[page] = np.maximum(into[page], alpha[crop])

    # Calibration pulses, one per row.
    pulses = []
    if spec.calibration != "none":
        pulse_w = _PULSE_S * spec.speed_mm_s
        for r in range(n_rows):
            x0 = (
                block_left if spec.calibration == "left" else trace_left + total_s * spec.speed_mm_s
            )
            x0 += 0.5
            xs = [x0, x0 + _PULSE_LEAD_MM, x0 + _PULSE_LEAD_MM, x0 + _PULSE_LEAD_MM + pulse_w]
            xs += [x0 + _PULSE_LEAD_MM + pulse_w, x0 + 2 * _PULSE_LEAD_MM + pulse_w]
            top = base_mm[r] - spec.gain_mm_mv
            ys = [base_mm[r], base_mm[r], top, top, base_mm[r], base_mm[r]]
            pts = np.stack([px(np.array(ys)), px(np.array(xs))], axis=1)
            alpha, origin = _stroke([pts], width_px, shape)
            paste(alpha, origin, ink_alpha)
            half = width_px / 2
            pulses.append(
                PulseTruth(
                    row_index=r,
                    box=Box(
                        pts[:, 0].min() - half - 1,
                        pts[:, 1].min() - half - 1,
                        pts[:, 0].max() + half + 1,
                        pts[:, 1].max() + half + 1,
                    ),
                    foot=pts[[0, 5]],
                    top=pts[[2, 3]],
                )
            )

    cells = _cells(spec, total_s)
    header_box = None
    if spec.header_mm > 0:
        text = _header_text(spec, rng)
        header_box = _text(
            marks_alpha,
            text,
            float(px(spec.margin_mm + 0.6 * spec.header_mm)),
            float(px(spec.margin_mm)),
            min(spec.font_mm, 0.5 * spec.header_mm) * ppm,
            spec.font,
        )

    marks: list[Box] = []
    n_samples = sig.shape[0]
    t_all = np.arange(n_samples) / fs
    plotted = np.full_like(full, np.nan)
    drawn: list[tuple[_Cell, dict]] = []
    for cell in cells:
        lead_idx = LEAD_NAMES.index(cell.lead)
        i0 = math.ceil(cell.t0_s * fs - 1e-9)
        i1 = min(math.ceil(cell.t1_s * fs - 1e-9), n_samples)
        if cell.t1_s >= total_s - 1e-9:  # the last column ends on the last sample drawn
            i1 = min(math.floor(total_s * fs + 1e-9) + 1, n_samples)
        idx = np.arange(i0, i1)
        v = full[idx, lead_idx]
        sign = -1.0 if cell.inverted else 1.0
        b = base_mm[cell.row]
        rows_px = px(b - sign * v * spec.gain_mm_mv)
        cols_px = col_of(t_all[idx])
        poly = np.stack([rows_px, cols_px], axis=1)
        zero = np.stack([np.full_like(cols_px, float(px(b))), cols_px], axis=1)
        runs = _finite_runs(poly)
        alpha, origin = (
            _stroke(runs, width_px, shape) if runs else (np.zeros((1, 1), np.uint8), (0, 0))
        )
        paste(alpha, origin, ink_alpha)
        plotted[idx, lead_idx] = v
        label_box = None
        if spec.labels:
            label_box = _text(
                marks_alpha,
                cell.label,
                float(px(b - min(0.3 * spacing, 8.0))),
                float(col_of(cell.t0_s)) + 0.8 * ppm,
                spec.font_mm * ppm,
                spec.font,
            )
        if spec.separators and cell.col > 0:
            # A short tick half a sample period before the column's first sample.
            c = float(col_of(cell.t0_s - 0.5 / fs))
            tick = np.array([[px(b - 2.5), c], [px(b + 2.5), c]], dtype=np.float64)
            paste(*_stroke([tick], width_px, shape), marks_alpha)
            marks.append(
                Box(tick[0, 0] - width_px, c - width_px, tick[1, 0] + width_px, c + width_px)
            )
        band = Box(
            float(px(b - spacing / 2)),
            float(col_of(cell.t0_s)),
            float(px(b + spacing / 2)),
            float(col_of(cell.t1_s)),
        )
        drawn.append(
            (
                cell,
                dict(
                    times_s=t_all[idx],
                    signal_mv=v,
                    polyline=poly,
                    zero_line=zero,
                    baseline_row=float(px(b)),
                    band=band,
                    alpha=alpha,
                    alpha_origin=origin,
                    label_box=label_box,
                ),
            )
        )

    overlaps = _overlap_flags([d for _, d in drawn], [c.row for c, _ in drawn])
    segments = tuple(
        SegmentTruth(
            lead=cell.lead,
            label=cell.label,
            inverted=cell.inverted,
            row_index=cell.row,
            col_index=cell.col,
            is_rhythm=cell.is_rhythm,
            t0_s=cell.t0_s,
            t1_s=cell.t1_s,
            px_per_mm_row=ppm,
            px_per_mm_col=ppm,
            speed_mm_s=spec.speed_mm_s,
            gain_mm_mv=spec.gain_mm_mv,
            overlap=flag,
            **fields,
        )
        for (cell, fields), flag in zip(drawn, overlaps, strict=True)
    )

    grid_area = Box(
        float(px(content_top)),
        float(px(spec.margin_mm)),
        float(px(height_mm - spec.margin_mm)),
        float(px(width_mm - spec.margin_mm)),
    )
    np.maximum(ink_alpha, marks_alpha, out=ink_alpha)
    out = _compose(spec, *_grid_alpha(shape, spec, grid_area), ink_alpha)

    truth = PageTruth(
        spec=spec,
        shape=shape,
        px_per_mm_row=ppm,
        px_per_mm_col=ppm,
        rotation_deg=0.0,
        segments=segments,
        pulses=tuple(pulses),
        marks=tuple(marks),
        header_box=header_box,
        fs=float(fs),
        signal_plotted=plotted,
    )
    log.debug("rendered %s page %s px, %d segments", spec.layout, shape, len(segments))
    return Rendered(image=out, truth=truth)


def _overlap_flags(fields: list[dict], rows: list[int]) -> list[bool]:
    """Whether another row's trace enters each segment's band or touches its trace."""
    flags = []
    kernel = np.ones((3, 3), np.uint8)
    for k, f in enumerate(fields):
        band: Box = f["band"]
        own = (f["alpha"] >= ALPHA_THRESHOLD).astype(np.uint8)
        own_grown = cv2.dilate(own, kernel) > 0
        hit = False
        for j, g in enumerate(fields):
            if j == k or rows[j] == rows[k]:
                continue
            other = g["alpha"] >= ALPHA_THRESHOLD
            r0, c0 = g["alpha_origin"]
            other_box = Box(r0, c0, r0 + other.shape[0], c0 + other.shape[1])
            own_box = Box(
                f["alpha_origin"][0] - 1,
                f["alpha_origin"][1] - 1,
                f["alpha_origin"][0] + own.shape[0] + 1,
                f["alpha_origin"][1] + own.shape[1] + 1,
            )
            if not (other_box.intersects(band) or other_box.intersects(own_box)):
                continue
            rr, cc = np.nonzero(other)
            if rr.size == 0:
                continue
            rr = rr + r0
            cc = cc + c0
            inside = (rr >= band.top) & (rr < band.bottom) & (cc >= band.left) & (cc < band.right)
            if inside.any():
                hit = True
                break
            o0, oc0 = f["alpha_origin"]
            lr, lc = rr - o0, cc - oc0
            ok = (lr >= 0) & (lr < own.shape[0]) & (lc >= 0) & (lc < own.shape[1])
            if own_grown[lr[ok], lc[ok]].any():
                hit = True
                break
        flags.append(hit)
    return flags
