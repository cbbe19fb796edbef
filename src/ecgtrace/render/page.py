"""Draw a 12-lead signal on realistic ECG paper and record the exact truth of the drawing.

Geometry is computed in mm on paper and converted once to pixels (:mod:`.frame`). Traces are
stroked 4x supersampled and area-averaged (:mod:`.draw`), so each lead's anti-aliased ink
coverage is known exactly; its mask is that coverage >= 50 %, which is also where the composited
image is closer to the ink than to the paper.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ecgtrace.calibration import PULSE_S
from ecgtrace.leads import LEAD_NAMES, label_lead, normalise_lead_names
from ecgtrace.render.draw import Ink, compose, draw_text, finite_runs, grid_alpha, paste_max, stroke
from ecgtrace.render.frame import PULSE_GAP_MM, PULSE_LEAD_MM, Cell, Frame, cells, page_frame
from ecgtrace.render.spec import PageSpec, SpecError
from ecgtrace.render.truth import ALPHA_THRESHOLD, PageTruth, PulseTruth, Rendered, SegmentTruth
from ecgtrace.types import Box

log = logging.getLogger(__name__)

TICK_MM = 2.5  # a column separator reaches this far above and below the baseline


@dataclass(frozen=True, eq=False)
class _Trace:
    """One cell as drawn: the recording's ``samples`` (indices) drawn, at ``times_s``, their
    values ``signal_mv``, where they lie (``polyline``, ``zero_line`` (n, 2) row/col px), the
    lead's own ``ink``, its ``band`` and the boxes of its label and separator tick (px)."""

    cell: Cell
    samples: NDArray[np.intp]
    times_s: NDArray[np.float64]
    signal_mv: NDArray[np.float64]
    polyline: NDArray[np.float64]
    zero_line: NDArray[np.float64]
    baseline_row: float
    band: Box
    ink: Ink
    label_box: Box | None
    tick_box: Box | None


def _lead_matrix(
    signal_mv: ArrayLike, fs: float, spec: PageSpec, lead_names: Sequence[str]
) -> NDArray[np.float64]:
    """The recording as (n_samples, 12) mV, columns in :data:`LEAD_NAMES` order (NaN for a
    lead not given); raises :class:`SpecError` for a bad signal or a lead the layout lacks."""
    sig = np.asarray(signal_mv, dtype=np.float64)
    if sig.ndim != 2 or sig.shape[0] < 2:
        raise SpecError(f"signal must be (n_samples, n_leads) with n_samples >= 2, got {sig.shape}")
    if not fs > 0:
        raise SpecError(f"fs must be > 0 Hz, got {fs}")
    names = normalise_lead_names(lead_names)
    if len(names) != sig.shape[1]:
        raise SpecError(f"{len(names)} lead names for {sig.shape[1]} signal columns")
    needed = {label_lead(label) for strip in spec.cell_labels for label in strip}
    missing = [lead for lead in LEAD_NAMES if lead in needed and lead not in names]
    if missing:
        raise SpecError(f"missing leads for layout {spec.layout}: {', '.join(missing)}")
    full = np.full((sig.shape[0], len(LEAD_NAMES)), np.nan)
    for j, name in enumerate(names):
        if name in LEAD_NAMES:
            full[:, LEAD_NAMES.index(name)] = sig[:, j]
    return full


def _draw_pulse(ink: NDArray[np.uint8], spec: PageSpec, frame: Frame, strip: int) -> PulseTruth:
    """Draw strip ``strip``'s 1 mV calibration pulse into ``ink`` (in place); its truth."""
    width_px = spec.trace_width_mm * frame.px_per_mm
    pulse_w = PULSE_S * spec.speed_mm_s
    if spec.calibration == "left":
        x0 = frame.block_left_mm
    else:
        x0 = frame.trace_left_mm + frame.total_s * spec.speed_mm_s
    x0 += PULSE_GAP_MM
    xs = [x0, x0 + PULSE_LEAD_MM, x0 + PULSE_LEAD_MM, x0 + PULSE_LEAD_MM + pulse_w]
    xs += [x0 + PULSE_LEAD_MM + pulse_w, x0 + 2 * PULSE_LEAD_MM + pulse_w]
    base = frame.baselines_mm[strip]
    top = base - spec.gain_mm_mv
    ys = [base, base, top, top, base, base]
    pts = np.stack([frame.px(np.array(ys)), frame.px(np.array(xs))], axis=1)
    paste_max(ink, stroke([pts], width_px=width_px, shape=frame.shape))
    half = width_px / 2
    box = Box(
        pts[:, 0].min() - half - 1,
        pts[:, 1].min() - half - 1,
        pts[:, 0].max() + half + 1,
        pts[:, 1].max() + half + 1,
    )
    return PulseTruth(row_index=strip, box=box, foot=pts[[0, 5]], top=pts[[2, 3]])


def _header_text(spec: PageSpec, rng: np.random.Generator) -> str:
    """The spec's header, else a made-up one (patient id and heart rate drawn from ``rng``)."""
    if spec.header_text is not None:
        return spec.header_text
    pid = rng.integers(10000, 99999)
    hr = rng.integers(48, 110)
    return (
        f"ID {pid}   HR {hr} bpm   {spec.speed_mm_s:g} mm/s   {spec.gain_mm_mv:g} mm/mV   "
        "0.05-150 Hz"
    )


def _draw_header(
    marks: NDArray[np.uint8], spec: PageSpec, frame: Frame, rng: np.random.Generator
) -> Box | None:
    """Write the header line into ``marks`` (in place); its box, None without a header."""
    if not spec.header_mm > 0:
        return None
    return draw_text(
        marks,
        _header_text(spec, rng),
        row_px=float(frame.px(spec.margin_mm + 0.6 * spec.header_mm)),
        col_px=float(frame.px(spec.margin_mm)),
        height_px=min(spec.font_mm, 0.5 * spec.header_mm) * frame.px_per_mm,
        font=spec.font,
    )


def _cell_samples(cell: Cell, *, fs: float, n_samples: int, total_s: float) -> NDArray[np.intp]:
    """Indices of the samples that fall in ``cell``'s time span (the strip's last cell ends on
    the last sample drawn)."""
    i0 = math.ceil(cell.t0_s * fs - 1e-9)
    i1 = min(math.ceil(cell.t1_s * fs - 1e-9), n_samples)
    if cell.t1_s >= total_s - 1e-9:
        i1 = min(math.floor(total_s * fs + 1e-9) + 1, n_samples)
    return np.arange(i0, i1)


def _draw_tick(
    marks: NDArray[np.uint8], spec: PageSpec, frame: Frame, cell: Cell, fs: float
) -> Box:
    """Draw the short separator before ``cell`` into ``marks`` (in place): half a sample period
    before the column's first sample. Returns its box."""
    width_px = spec.trace_width_mm * frame.px_per_mm
    base = frame.baselines_mm[cell.row]
    c = float(frame.col_of(cell.t0_s - 0.5 / fs))
    tick = np.array([[frame.px(base - TICK_MM), c], [frame.px(base + TICK_MM), c]], np.float64)
    paste_max(marks, stroke([tick], width_px=width_px, shape=frame.shape))
    return Box(tick[0, 0] - width_px, c - width_px, tick[1, 0] + width_px, c + width_px)


def _draw_cell(
    cell: Cell,
    full: NDArray[np.float64],
    *,
    fs: float,
    spec: PageSpec,
    frame: Frame,
    ink_canvas: NDArray[np.uint8],
    marks: NDArray[np.uint8],
) -> _Trace:
    """Draw one cell of the recording ``full`` (n_samples, 12) mV: its trace into
    ``ink_canvas``, its label and separator into ``marks`` (both (rows, cols), in place).
    Returns what was drawn."""
    ppm = frame.px_per_mm
    idx = _cell_samples(cell, fs=fs, n_samples=full.shape[0], total_s=frame.total_s)
    v = full[idx, LEAD_NAMES.index(cell.lead)]
    sign = -1.0 if cell.inverted else 1.0
    base = frame.baselines_mm[cell.row]
    cols_px = frame.col_of(idx / fs)
    poly = np.stack([frame.px(base - sign * v * spec.gain_mm_mv), cols_px], axis=1)
    zero = np.stack([np.full_like(cols_px, float(frame.px(base))), cols_px], axis=1)
    runs = finite_runs(poly)
    ink = (
        stroke(runs, width_px=spec.trace_width_mm * ppm, shape=frame.shape) if runs else Ink.empty()
    )
    paste_max(ink_canvas, ink)
    label_box = None
    if spec.labels:
        label_box = draw_text(
            marks,
            cell.label,
            row_px=float(frame.px(base - min(0.3 * frame.spacing_mm, 8.0))),
            col_px=float(frame.col_of(cell.t0_s)) + 0.8 * ppm,
            height_px=spec.font_mm * ppm,
            font=spec.font,
        )
    tick_box = (
        _draw_tick(marks, spec, frame, cell, fs) if spec.separators and cell.col > 0 else None
    )
    band = Box(
        float(frame.px(base - frame.spacing_mm / 2)),
        float(frame.col_of(cell.t0_s)),
        float(frame.px(base + frame.spacing_mm / 2)),
        float(frame.col_of(cell.t1_s)),
    )
    return _Trace(
        cell=cell,
        samples=idx,
        times_s=idx / fs,
        signal_mv=v,
        polyline=poly,
        zero_line=zero,
        baseline_row=float(frame.px(base)),
        band=band,
        ink=ink,
        label_box=label_box,
        tick_box=tick_box,
    )


def _touches(trace: _Trace, other: _Trace, own_grown: NDArray[np.bool_]) -> bool:
    """Whether ``other``'s trace pixels enter ``trace``'s band or touch its trace (grown by one
    pixel, ``own_grown``, positioned at ``trace.ink.origin``)."""
    band = trace.band
    mine = trace.ink.alpha
    theirs = other.ink.alpha >= ALPHA_THRESHOLD
    r0, c0 = other.ink.origin
    o0, oc0 = trace.ink.origin
    other_box = Box(r0, c0, r0 + theirs.shape[0], c0 + theirs.shape[1])
    own_box = Box(o0 - 1, oc0 - 1, o0 + mine.shape[0] + 1, oc0 + mine.shape[1] + 1)
    if not (other_box.intersects(band) or other_box.intersects(own_box)):
        return False  # too far away to look at its pixels
    rr, cc = np.nonzero(theirs)
    if rr.size == 0:
        return False
    rr, cc = rr + r0, cc + c0
    inside = (rr >= band.top) & (rr < band.bottom) & (cc >= band.left) & (cc < band.right)
    if inside.any():
        return True
    lr, lc = rr - o0, cc - oc0
    ok = (lr >= 0) & (lr < mine.shape[0]) & (lc >= 0) & (lc < mine.shape[1])
    return bool(own_grown[lr[ok], lc[ok]].any())


def _overlap_flags(traces: Sequence[_Trace]) -> list[bool]:
    """Whether another strip's trace enters each trace's band or touches its trace."""
    kernel = np.ones((3, 3), np.uint8)
    flags = []
    for trace in traces:
        own = (trace.ink.alpha >= ALPHA_THRESHOLD).astype(np.uint8)
        own_grown = cv2.dilate(own, kernel) > 0
        flags.append(
            any(
                _touches(trace, other, own_grown)
                for other in traces
                if other is not trace and other.cell.row != trace.cell.row
            )
        )
    return flags


def _segment(trace: _Trace, spec: PageSpec, *, px_per_mm: float, overlap: bool) -> SegmentTruth:
    """The truth of one drawn cell."""
    cell = trace.cell
    return SegmentTruth(
        lead=cell.lead,
        label=cell.label,
        inverted=cell.inverted,
        row_index=cell.row,
        col_index=cell.col,
        is_rhythm=cell.is_rhythm,
        t0_s=cell.t0_s,
        t1_s=cell.t1_s,
        times_s=trace.times_s,
        signal_mv=trace.signal_mv,
        polyline=trace.polyline,
        zero_line=trace.zero_line,
        baseline_row=trace.baseline_row,
        px_per_mm_row=px_per_mm,
        px_per_mm_col=px_per_mm,
        speed_mm_s=spec.speed_mm_s,
        gain_mm_mv=spec.gain_mm_mv,
        band=trace.band,
        alpha=trace.ink.alpha,
        alpha_origin=trace.ink.origin,
        label_box=trace.label_box,
        overlap=overlap,
    )


def _plotted(full: NDArray[np.float64], traces: Sequence[_Trace]) -> NDArray[np.float64]:
    """(n_samples, 12) mV: the recording where it was drawn, NaN elsewhere."""
    plotted = np.full_like(full, np.nan)
    for t in traces:
        plotted[t.samples, LEAD_NAMES.index(t.cell.lead)] = t.signal_mv
    return plotted


def render_page(
    signal_mv: ArrayLike,
    fs: float,
    spec: PageSpec | None = None,
    *,
    lead_names: Sequence[str] = LEAD_NAMES,
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
    full = _lead_matrix(signal_mv, fs, spec, lead_names)
    frame = page_frame(spec, n_strips=len(spec.cell_labels), record_s=full.shape[0] / fs)
    ink = np.zeros(frame.shape, dtype=np.uint8)
    marks = np.zeros(frame.shape, dtype=np.uint8)  # labels, header and separators
    pulses = []
    if spec.calibration != "none":
        pulses = [_draw_pulse(ink, spec, frame, r) for r in range(len(frame.baselines_mm))]
    header_box = _draw_header(marks, spec, frame, rng)
    # In order: each label is blended over the ticks and labels drawn before it.
    traces = [
        _draw_cell(cell, full, fs=fs, spec=spec, frame=frame, ink_canvas=ink, marks=marks)
        for cell in cells(spec, frame.total_s)
    ]
    overlaps = _overlap_flags(traces)
    segments = tuple(
        _segment(t, spec, px_per_mm=frame.px_per_mm, overlap=flag)
        for t, flag in zip(traces, overlaps, strict=True)
    )
    np.maximum(ink, marks, out=ink)
    minor, major = grid_alpha(
        frame.shape, spec.grid, px_per_mm=frame.px_per_mm, area=frame.grid_area
    )
    image = compose(spec.grid, trace_colour=spec.trace_colour, minor=minor, major=major, ink=ink)
    truth = PageTruth(
        spec=spec,
        shape=frame.shape,
        px_per_mm_row=frame.px_per_mm,
        px_per_mm_col=frame.px_per_mm,
        rotation_deg=0.0,
        segments=segments,
        pulses=tuple(pulses),
        marks=tuple(t.tick_box for t in traces if t.tick_box is not None),
        header_box=header_box,
        fs=float(fs),
        signal_plotted=_plotted(full, traces),
    )
    log.debug("rendered %s page %s px, %d segments", spec.layout, frame.shape, len(segments))
    return Rendered(image=image, truth=truth)
