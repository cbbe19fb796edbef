"""The stages chained: an ECG page in, 12 calibrated leads (mV against s) out.

``image -> grid.detect_grid -> grid.deskew -> layout.find_layout -> per lead box: segment
(U-Net, classical ink) -> extract.extract_lead -> placed at its time in the recording``. This is
the only module that chains stages; each stage is a pure function over arrays and frozen
dataclasses, timed here.
"""

from __future__ import annotations

import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from ecgtrace.extract import LeadGeometry, extract_lead
from ecgtrace.grid import Grid, deskew, detect_grid
from ecgtrace.layout import Layout, LayoutError, LeadBox, find_layout
from ecgtrace.segment.classical import classical_background_px, darkness, ink_probability
from ecgtrace.segment.refine import refine_with_ink
from ecgtrace.types import LEAD_NAMES, Box

log = logging.getLogger(__name__)
ArrayT = TypeVar("ArrayT", np.uint8, np.float32)

Method = Literal["unet+ink", "unet", "classical"]
METHODS: tuple[str, ...] = ("unet+ink", "unet", "classical")
STANDARD_GAINS_MM_MV = (2.5, 5.0, 10.0, 20.0, 40.0)
STANDARD_SPEEDS_MM_S = (12.5, 25.0, 50.0)
PULSE_S = 0.2  # a calibration pulse lasts 0.2 s on every printer we know
_CROP_MARGIN_MM = 5.0  # cols of context either side of a lead box (the U-Net saw as much)
_REACH_MM = 27.0  # rows either side of the baseline at least: tall complexes cross the band
_MAX_GAP_S = 0.05  # gaps in a trace up to this long are interpolated
_JOIN_PX = 2.0  # cols after a boundary between two cells that the joining stroke fills
_DISAGREE_MV = 0.2  # RMS between two drawings of one lead above which only the surer is kept
_EINTHOVEN_MV = 0.1  # RMS of II - (I + III) above which the page gets a warning


class DigitizeError(ValueError):
    """A page that cannot be digitized; the message is one line naming the input and the cause."""


@dataclass(frozen=True)
class StageTimes:
    """Wall time (s) of each stage of one page."""

    grid_s: float = 0.0
    deskew_s: float = 0.0
    layout_s: float = 0.0
    segment_s: float = 0.0
    extract_s: float = 0.0
    total_s: float = 0.0


@dataclass(frozen=True, eq=False)
class LeadTrace:
    """One lead box digitized: a cell of the layout or a rhythm strip.

    ``box`` (px, in the deskewed page) and the time span ``t0_s`` .. ``t0_s + duration_s`` (s);
    ``path_row``/``path_col`` (m,) px the traced path in the deskewed page (for overlays);
    ``coverage`` the share of the span's samples traced; ``confidence`` in [0, 1] (coverage
    times the segmenter's mean probability along the path).
    """

    lead: str
    box: Box
    baseline_row: float
    t0_s: float
    duration_s: float
    is_rhythm: bool
    inverted: bool
    coverage: float
    confidence: float
    path_row: NDArray[np.float64]
    path_col: NDArray[np.float64]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Digitization:
    """A digitized ECG page.

    ``p_signal`` (n_samples, 12) float64 in mV, leads in ``sig_name`` order (I, II, III, aVR,
    aVL, aVF, V1..V6), sample k at ``k / fs`` s from the start of the recording; NaN where a
    lead was not plotted. ``image`` is the deskewed page (rows, cols, 3) uint8 the boxes and
    paths refer to; ``rotation_deg`` the turn taken out. ``speed_mm_s``/``gain_mm_mv`` are the
    values used and ``speed_from``/``gain_from`` where they came from (``given``, ``pulse`` or
    ``default``).
    """

    p_signal: NDArray[np.float64]
    fs: float
    source: str
    page: int
    image: NDArray[np.uint8]
    grid: Grid
    layout: Layout
    traces: tuple[LeadTrace, ...]
    speed_mm_s: float
    gain_mm_mv: float
    speed_from: str
    gain_from: str
    method: str
    warnings: tuple[str, ...] = ()
    times: StageTimes = field(default_factory=StageTimes)
    sig_name: tuple[str, ...] = LEAD_NAMES
    units: str = "mV"

    @property
    def n_samples(self) -> int:
        return int(self.p_signal.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def times_s(self) -> NDArray[np.float64]:
        return np.arange(self.n_samples) / self.fs

    @property
    def rotation_deg(self) -> float:
        return float(self.grid.rotation_deg)

    def lead_confidence(self, lead: str) -> float:
        """The best confidence among the boxes showing ``lead`` (0 when it is not on the page)."""
        return max((t.confidence for t in self.traces if t.lead == lead), default=0.0)

    @property
    def mean_confidence(self) -> float:
        shown = [
            self.lead_confidence(n) for n in self.sig_name if any(t.lead == n for t in self.traces)
        ]
        return float(np.mean(shown)) if shown else 0.0

    def to_wfdb(self, directory: str | os.PathLike[str], record_name: str) -> list[Path]:
        """Write ``<record_name>.hea`` + ``.dat`` in ``directory`` (NaN as WFDB invalid samples)."""
        from ecgtrace.io.outputs import write_wfdb

        return write_wfdb(self, directory, record_name)

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write ``time_s,I,...,V6`` (mV; empty where not plotted)."""
        from ecgtrace.io.outputs import write_csv

        return write_csv(self, path)

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the page's geometry, layout, calibration and per-lead spans and confidences."""
        from ecgtrace.io.outputs import write_json_summary

        return write_json_summary(self, path)

    def plot(self, path: str | os.PathLike[str] | None = None) -> NDArray[np.uint8]:
        """The page with every extracted lead drawn over it in its own colour and named:
        (rows, cols, 3) uint8; also written as PNG when ``path`` is given."""
        from ecgtrace.io.outputs import draw_overlay, write_png

        overlay = draw_overlay(self)
        if path is not None:
            write_png(path, overlay)
        return overlay


# ---- calibration -------------------------------------------------------------------------------


def _snap(value: float, choices: tuple[float, ...], tolerance: float) -> float | None:
    best = min(choices, key=lambda c: abs(math.log(value / c)))
    return best if abs(value / best - 1.0) <= tolerance else None


def _pulse_speed(layout: Layout) -> float | None:
    """The paper speed (mm/s) the pulses' width shows if they last ``PULSE_S``; None if unsure."""
    widths = [p.width_mm for p in layout.pulses if p.width_mm > 0]
    if not widths:
        return None
    return _snap(float(np.median(widths)) / PULSE_S, STANDARD_SPEEDS_MM_S, 0.15)


# ---- one lead box ------------------------------------------------------------------------------


def _crop(
    image: NDArray[ArrayT], r0: int, r1: int, c0: int, c1: int, fill: float
) -> NDArray[ArrayT]:
    """image[r0:r1, c0:c1], padded with ``fill`` where the window leaves the page."""
    out = np.full((r1 - r0, c1 - c0, *image.shape[2:]), fill, dtype=image.dtype)
    rr0, rr1 = max(r0, 0), min(r1, image.shape[0])
    cc0, cc1 = max(c0, 0), min(c1, image.shape[1])
    if rr1 > rr0 and cc1 > cc0:
        out[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0] = image[rr0:rr1, cc0:cc1]
    return out


def segment_box(
    image: NDArray[np.uint8],
    box: LeadBox,
    grid: Grid,
    *,
    method: str = "unet+ink",
    dark: NDArray[np.float32] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32], tuple[int, int]]:
    """Trace probability of one lead box: (prob, unet prob or prob, (row, col) of the crop's
    top-left pixel in the page). Both maps (rows, cols) float32 in [0, 1] cover the box's band
    plus context, and are zero outside the box's cols. ``dark`` is the page's
    :func:`~ecgtrace.segment.classical.darkness` (measured once for all boxes), else measured
    on the crop."""
    ppm_r, ppm_c = grid.px_per_mm_row, grid.px_per_mm_col
    b = box.box
    band = max(box.baseline_row - b.top, b.bottom - box.baseline_row)
    half = max(band + _CROP_MARGIN_MM * ppm_r, _REACH_MM * ppm_r)
    r0 = math.floor(box.baseline_row - half)
    r1 = math.ceil(box.baseline_row + half) + 1
    c0 = math.floor(b.left - _CROP_MARGIN_MM * ppm_c)
    c1 = math.ceil(b.right + _CROP_MARGIN_MM * ppm_c) + 1
    crop = _crop(image, r0, r1, c0, c1, 255)
    classical = None
    if method in ("classical", "unet+ink"):
        if dark is None:
            dark_crop = darkness(crop, background_px=classical_background_px(ppm_r))
        else:
            dark_crop = _crop(dark, r0, r1, c0, c1, 0.0)
        classical = ink_probability(dark_crop, px_per_mm=ppm_r)
    if method == "classical":
        assert classical is not None
        prob = unet = classical
    else:
        from ecgtrace.segment.unet import segment_unet

        unet = segment_unet(
            crop, px_per_mm_row=ppm_r, px_per_mm_col=ppm_c, centre_row=box.baseline_row - r0
        )
        prob = refine_with_ink(unet, classical) if classical is not None else unet
    keep = np.zeros(crop.shape[1], dtype=bool)
    keep[max(0, math.ceil(b.left) - c0) : max(0, math.ceil(b.right) - c0)] = True
    prob = np.where(keep[None, :], prob, 0.0).astype(np.float32)
    unet = np.where(keep[None, :], unet, 0.0).astype(np.float32)
    return prob, unet, (r0, c0)


def _trace_box(
    prob: NDArray[np.float32],
    unet: NDArray[np.float32],
    origin: tuple[int, int],
    box: LeadBox,
    grid: Grid,
    *,
    speed_mm_s: float,
    gain_mm_mv: float,
    fs: float,
    joined: bool = False,
) -> tuple[NDArray[np.float64], LeadTrace]:
    """One lead box's samples (n,) mV over its span, and its :class:`LeadTrace`; ``joined``
    tells whether another cell of the row ends where it starts."""
    r0, c0 = origin
    geometry = LeadGeometry(
        px_per_mm_row=grid.px_per_mm_row,
        px_per_mm_col=grid.px_per_mm_col,
        t0_s=box.t0_s,
        col0=box.col0 - c0,
        duration_s=box.duration_s,
        speed_mm_s=speed_mm_s,
        gain_mm_mv=gain_mm_mv,
        baseline_row=box.baseline_row - r0,
    )
    sig = extract_lead(prob, geometry, fs=fs, max_gap_s=_MAX_GAP_S)
    mv = -sig.mv if box.inverted else sig.mv
    # Where two cells of a row meet, the pen joins the last sample of one to the first of the
    # next: the first cols of the next cell hold that stroke, not the lead (the end of the
    # first cell is its own). Hold the value read just inside.
    edge = round(_JOIN_PX / (speed_mm_s * grid.px_per_mm_col) * fs)
    if joined and 0 < edge < mv.size // 4:
        mv[:edge] = mv[edge]
    ok = np.isfinite(mv)
    coverage = float(ok.mean()) if mv.size else 0.0
    # The segmenter's belief along the path: where it read the samples.
    cols = box.col0 - c0 + (sig.times_s - box.t0_s) * speed_mm_s * grid.px_per_mm_col
    rows = box.baseline_row - r0 - sig.mv * gain_mm_mv * grid.px_per_mm_row
    ri = np.clip(np.round(rows[ok]).astype(np.int64), 0, unet.shape[0] - 1)
    ci = np.clip(np.round(cols[ok]).astype(np.int64), 0, unet.shape[1] - 1)
    belief = float(np.mean(unet[ri, ci])) if ri.size else 0.0
    warnings = []
    if coverage < 0.8:
        warnings.append(f"only {coverage:.0%} of the span traced")
    trace = LeadTrace(
        lead=box.lead,
        box=box.box,
        baseline_row=box.baseline_row,
        t0_s=box.t0_s,
        duration_s=box.duration_s,
        is_rhythm=box.is_rhythm,
        inverted=box.inverted,
        coverage=coverage,
        confidence=float(np.clip(coverage * belief, 0.0, 1.0)),
        path_row=rows + r0,
        path_col=cols + c0,
        warnings=tuple(warnings),
    )
    return mv, trace


# ---- the recording -----------------------------------------------------------------------------


def combine(
    drawings: list[tuple[NDArray[np.float64], float]],
) -> tuple[NDArray[np.float64], str | None]:
    """One lead drawn more than once (a cell and a rhythm strip), each (n,) mV on the same
    samples with its confidence, made one: the confidence-weighted mean where the drawings
    agree; where one differs from the surest by more than 0.2 mV RMS (offsets aside) over the
    samples both show, it is dropped there. Returns the samples and a warning (or None)."""
    stack = np.stack([d for d, _ in drawings])
    weights = np.array([max(w, 1e-3) for _, w in drawings])
    best = int(np.argmax(weights))
    use = np.isfinite(stack)
    warning = None
    for k in range(len(drawings)):
        both = use[k] & use[best]
        if k == best or both.sum() < 2:
            continue
        a, b = stack[best, both], stack[k, both]
        rms = float(np.sqrt(np.mean(((a - a.mean()) - (b - b.mean())) ** 2)))
        if rms > _DISAGREE_MV:
            use[k] &= ~use[best]  # keep it only where the surest says nothing
            warning = f"its drawings differ by {rms:.2f} mV RMS; kept the surer one"
    w = np.where(use, weights[:, None], 0.0)
    total = w.sum(axis=0)
    summed = np.where(use, stack, 0.0) * w
    out = np.full(stack.shape[1], np.nan)
    np.divide(summed.sum(axis=0), total, out=out, where=total > 0)
    return out, warning


def einthoven_rms(p_signal: NDArray[np.float64], fs: float) -> float | None:
    """RMS (mV) of II - (I + III) over the samples where all three were read (at least 0.5 s);
    None when too few."""
    i, ii, iii = (p_signal[:, LEAD_NAMES.index(n)] for n in ("I", "II", "III"))
    ok = np.isfinite(i) & np.isfinite(ii) & np.isfinite(iii)
    if ok.sum() < 0.5 * fs:
        return None
    resid = ii[ok] - (i[ok] + iii[ok])
    return float(np.sqrt(np.mean((resid - resid.mean()) ** 2)))


# ---- the page ----------------------------------------------------------------------------------


def _find_grid(image: NDArray[np.uint8], px_per_mm: float | None) -> Grid:
    grid = detect_grid(image)
    if px_per_mm is not None:
        if not px_per_mm > 0:
            raise DigitizeError(f"px_per_mm must be > 0, got {px_per_mm}")
        return replace(grid, px_per_mm_row=px_per_mm, px_per_mm_col=px_per_mm, found=True)
    if not grid.found:
        raise DigitizeError(
            f"not an ECG page: no ECG grid found (confidence {grid.confidence:.2f}); "
            "a page without a grid needs its px/mm given"
        )
    return grid


def digitize_image(
    image: NDArray[np.uint8],
    *,
    source: str = "<image>",
    page: int = 1,
    layout: str | None = None,
    speed_mm_s: float | None = None,
    gain_mm_mv: float | None = None,
    fs: float = 500.0,
    lead_order: str | None = None,
    method: str = "unet+ink",
    px_per_mm: float | None = None,
    threads: int = 2,
) -> Digitization:
    """Digitize one ECG page held as an RGB (rows, cols, 3) uint8 array.

    ``speed_mm_s``/``gain_mm_mv`` None: from the calibration pulses where they show a standard
    value (speed from the pulse's 0.2 s width, gain from its 1 mV height), else 25 mm/s and
    10 mm/mV; given values are used as given and only checked against the pulses (a
    disagreement is a warning, never a silent rescale). ``layout`` and ``lead_order`` override
    detection (see :func:`ecgtrace.layout.find_layout`); ``px_per_mm`` overrides the grid's
    pitch (for pages without a grid). ``threads`` lead boxes are worked on at once.
    Raises :class:`DigitizeError` with a one-line message
    naming ``source``.
    """
    if method not in METHODS:
        raise DigitizeError(f"{source}: unknown method {method!r}; use {', '.join(METHODS)}")
    if not fs > 0:
        raise DigitizeError(f"{source}: fs must be > 0 Hz, got {fs}")
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise DigitizeError(f"{source}: expected an RGB uint8 image, got {img.dtype} {img.shape}")
    if min(img.shape[:2]) < 32:
        raise DigitizeError(f"{source}: image of {img.shape[1]} x {img.shape[0]} px is too small")
    name = source if page == 1 else f"{source} (page {page})"
    t_start = time.perf_counter()
    try:
        grid = _find_grid(img, px_per_mm)
    except DigitizeError as exc:
        raise DigitizeError(f"{name}: {exc}") from None
    t_grid = time.perf_counter()
    if abs(grid.rotation_deg) > 0.05:
        img = deskew(img, grid.rotation_deg, border=255.0)
    t_deskew = time.perf_counter()

    warnings: list[str] = []
    speed = speed_mm_s if speed_mm_s is not None else 25.0
    gain = gain_mm_mv if gain_mm_mv is not None else 10.0
    if not (speed > 0 and gain > 0):
        raise DigitizeError(f"{name}: paper speed and gain must be > 0")
    try:
        found = find_layout(
            img, grid, layout=layout, speed_mm_s=speed, gain_mm_mv=gain, lead_order=lead_order
        )
        speed_from = "given" if speed_mm_s is not None else "default"
        gain_from = "given" if gain_mm_mv is not None else "default"
        new_speed, new_gain = speed, gain
        pulse_speed = _pulse_speed(found)
        if pulse_speed is not None and pulse_speed != speed:
            if speed_mm_s is None:
                new_speed, speed_from = pulse_speed, "pulse"
            else:
                warnings.append(f"the pulses suggest {pulse_speed:g} mm/s; used {speed:g} as given")
        elif pulse_speed is not None and speed_mm_s is None:
            speed_from = "pulse"
        if found.pulse_gain_mm_mv is not None:
            snapped = _snap(found.pulse_gain_mm_mv, STANDARD_GAINS_MM_MV, 0.1)
            if gain_mm_mv is None and snapped is not None:
                new_gain, gain_from = snapped, "pulse"
            elif gain_mm_mv is not None and not found.gain_agrees:
                warnings.append(
                    f"the pulses show {found.pulse_gain_mm_mv:.2f} mm/mV; used {gain:g} as given"
                )
        if (new_speed, new_gain) != (speed, gain):
            speed, gain = new_speed, new_gain
            found = find_layout(
                img, grid, layout=layout, speed_mm_s=speed, gain_mm_mv=gain, lead_order=lead_order
            )
    except LayoutError as exc:
        raise DigitizeError(f"{name}: layout not recognised: {exc}") from None
    t_layout = time.perf_counter()

    n = max(1, round(found.duration_s * fs))
    dark = None
    if method != "unet":
        dark = darkness(img, background_px=classical_background_px(grid.px_per_mm_row))

    cells = {(b.row_index, b.col_index) for b in found.boxes}

    def one_box(box: LeadBox) -> tuple[NDArray[np.float64], LeadTrace, float, float]:
        t = time.perf_counter()
        prob, unet, origin = segment_box(img, box, grid, method=method, dark=dark)
        t_seg = time.perf_counter()
        mv, trace = _trace_box(
            prob, unet, origin, box, grid, speed_mm_s=speed, gain_mm_mv=gain, fs=fs,
            joined=(box.row_index, box.col_index - 1) in cells,
        )  # fmt: skip
        return mv, trace, t_seg - t, time.perf_counter() - t_seg

    # The heavy parts (onnxruntime, OpenCV, NumPy) release the GIL: threads share the cores.
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        done = list(pool.map(one_box, found.boxes))
    t_boxes = time.perf_counter()
    seg_cpu, ext_cpu = sum(d[2] for d in done), sum(d[3] for d in done)
    # The boxes ran interleaved: their wall time is split by the two stages' shares.
    segment_s = (t_boxes - t_layout) * seg_cpu / max(seg_cpu + ext_cpu, 1e-9)
    drawings: dict[str, list[tuple[NDArray[np.float64], float]]] = {}
    traces = []
    for box, (mv, trace, _, _) in zip(found.boxes, done, strict=True):
        full = np.full(n, np.nan)
        i0 = round(box.t0_s * fs)
        k0, k1 = max(i0, 0), min(i0 + mv.size, n)
        if k1 > k0:
            full[k0:k1] = mv[k0 - i0 : k1 - i0]
        drawings.setdefault(box.lead, []).append((full, trace.confidence))
        traces.append(trace)
    p_signal = np.full((n, len(LEAD_NAMES)), np.nan)
    for lead, parts in drawings.items():
        p_signal[:, LEAD_NAMES.index(lead)], warning = combine(parts)
        if warning:
            warnings.append(f"{lead}: {warning}")
    rms = einthoven_rms(p_signal, fs)
    if rms is not None and rms > _EINTHOVEN_MV:
        warnings.append(f"Einthoven's law off by {rms:.2f} mV RMS (II - (I + III))")
    t_end = time.perf_counter()
    times = StageTimes(
        grid_s=t_grid - t_start,
        deskew_s=t_deskew - t_grid,
        layout_s=t_layout - t_deskew,
        segment_s=segment_s,
        extract_s=t_end - t_layout - segment_s,
        total_s=t_end - t_start,
    )
    for w in warnings:
        log.warning("%s: %s", name, w)
    return Digitization(
        p_signal=p_signal,
        fs=float(fs),
        source=source,
        page=page,
        image=img,
        grid=grid,
        layout=found,
        traces=tuple(traces),
        speed_mm_s=float(speed),
        gain_mm_mv=float(gain),
        speed_from=speed_from,
        gain_from=gain_from,
        method=method,
        warnings=tuple(warnings),
        times=times,
    )


def digitize_pages(
    path: str | os.PathLike[str], *, dpi: float = 200.0, **options: object
) -> list[Digitization]:
    """Digitize every page of an image or PDF file (PDF pages rasterised at ``dpi``).

    Options as :func:`digitize_image`. Raises :class:`DigitizeError` (a ``ValueError``; one
    line naming the file and the cause) for unreadable files and pages that cannot be digitized.
    """
    from ecgtrace.io.images import InputError
    from ecgtrace.io.pages import read_pages

    try:
        pages = read_pages(path, dpi=dpi)
    except InputError as exc:
        raise DigitizeError(str(exc)) from None
    return [
        digitize_image(p.image, source=str(path), page=p.number, **options)  # type: ignore[arg-type]
        for p in pages
    ]


def digitize(
    image_or_path: NDArray[np.uint8] | str | os.PathLike[str],
    *,
    page: int = 1,
    dpi: float = 200.0,
    **options: object,
) -> Digitization:
    """Digitize an ECG page: an RGB (rows, cols, 3) uint8 array or an image/PDF file (``page``
    of a PDF, 1-based, rasterised at ``dpi``). Options as :func:`digitize_image`."""
    if isinstance(image_or_path, np.ndarray):
        return digitize_image(image_or_path, **options)  # type: ignore[arg-type]
    from ecgtrace.io.images import InputError
    from ecgtrace.io.pages import read_pages

    try:
        pages = read_pages(image_or_path, dpi=dpi, only=page)
    except InputError as exc:
        raise DigitizeError(str(exc)) from None
    p = pages[0]
    return digitize_image(p.image, source=str(image_or_path), page=p.number, **options)  # type: ignore[arg-type]
