"""The stages chained: an ECG page in, 12 calibrated leads (mV against s) out.

``image -> rectify.rectify (the sheet cut out of a photo, traces turned horizontal) ->
grid.detect_grid -> grid.deskew -> layout.find_layout (rows, pulses, calibration, names; an
upside-down page turned where only that way shows pulses) -> per lead box:
segment.box.segment_box (U-Net, classical ink) -> recording.trace_box (extract.extract_lead)
-> recording.assemble``. This is the only module that chains stages and the only one that
times them; each stage is a pure function over arrays and frozen dataclasses.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ecgtrace.calibration import (
    GAIN_SNAP,
    PULSE_S,
    STANDARD_GAINS_MM_MV,
    gridless_setting,
    snap,
)
from ecgtrace.digitization import Digitization, DigitizeError, DigitizeOptions, StageTimes
from ecgtrace.grid import Grid, deskew, detect_grid
from ecgtrace.grid.faint import detect_faint_grid
from ecgtrace.layout import Layout, LayoutError, LeadBox, find_layout
from ecgtrace.recording import BoxTrace, assemble, trace_box
from ecgtrace.rectify import Rectification, fit_mesh, rectify, unwarp
from ecgtrace.segment.box import METHODS, segment_box
from ecgtrace.segment.classical import classical_background_px, darkness

log = logging.getLogger(__name__)

_DESKEW_MIN_DEG = 0.05  # turns smaller than this are left in (a fraction of a px per page)
# A gridless image shaped like a page (letter or A4, either way up) is taken for one, its long
# side between the two sizes' (279.4 and 297 mm) until its calibration pulses measure it.
_PAGE_ASPECT = (1.15, 1.6)
_PAGE_LONG_MM = 288.0
_STRIP_ASPECT = 2.5  # wider than this: one strip (10 s at 25 mm/s, margins: ~300 mm long)
_STRIP_LONG_MM = 300.0
_PLAUSIBLE_S = (2.0, 25.0)  # the time a page's rows span at a scale the pulses set (s)


def _check(img: NDArray[np.uint8], options: DigitizeOptions, source: str, name: str) -> None:
    if options.method not in METHODS:
        raise DigitizeError(
            f"{source}: unknown method {options.method!r}; use {', '.join(METHODS)}"
        )
    if not options.fs > 0:
        raise DigitizeError(f"{source}: fs must be > 0 Hz, got {options.fs}")
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise DigitizeError(f"{source}: expected an RGB uint8 image, got {img.dtype} {img.shape}")
    if min(img.shape[:2]) < 32:
        raise DigitizeError(f"{source}: image of {img.shape[1]} x {img.shape[0]} px is too small")
    for value in (options.speed_mm_s, options.gain_mm_mv):
        if value is not None and not value > 0:
            raise DigitizeError(f"{name}: paper speed and gain must be > 0")


def _find_grid(image: NDArray[np.uint8], px_per_mm: float | None, name: str) -> Grid:
    """The page's grid (looked for again in views that bring out faint lines); where none is
    seen, a scale guessed from the image's size (:func:`_guessed`)."""
    grid = detect_grid(image)
    if px_per_mm is not None:
        if not px_per_mm > 0:
            raise DigitizeError(f"{name}: px_per_mm must be > 0, got {px_per_mm}")
        return replace(grid, px_per_mm_row=px_per_mm, px_per_mm_col=px_per_mm, found=True)
    grid = detect_faint_grid(image, grid)
    return grid if grid.found else _guessed(image, grid, name)


def _guessed(image: NDArray[np.uint8], grid: Grid, name: str) -> Grid:
    """``grid`` not found, with a scale guessed from the size of a page- or strip-shaped image,
    to be measured by its calibration pulses (:func:`_pulse_scaled`); raises for any other
    shape."""
    rows, cols = image.shape[:2]
    aspect = max(rows, cols) / min(rows, cols)
    if _PAGE_ASPECT[0] <= aspect <= _PAGE_ASPECT[1]:
        guess = max(rows, cols) / _PAGE_LONG_MM
    elif aspect >= _STRIP_ASPECT:
        guess = max(rows, cols) / _STRIP_LONG_MM
    else:
        raise _no_grid(name, grid)
    return replace(grid, px_per_mm_row=guess, px_per_mm_col=guess, found=False, view="image")


def _refuted(found: Layout) -> bool:
    """Whether the layout refutes the pitch it was found at: the pulses' height fits no
    standard gain, or the rows span an implausible time."""
    gain = found.calibration.pulse_gain_mm_mv
    off = gain is not None and snap(gain, STANDARD_GAINS_MM_MV, GAIN_SNAP) is None
    return off or not _PLAUSIBLE_S[0] <= found.duration_s <= _PLAUSIBLE_S[1]


def _no_grid(name: str, grid: Grid) -> DigitizeError:
    return DigitizeError(
        f"{name}: not an ECG page: no ECG grid found (confidence {grid.confidence:.2f}) and no "
        "calibration pulses to measure the scale by; a page without a grid needs its px/mm given"
    )


def _pulse_scaled(
    img: NDArray[np.uint8], grid: Grid, found: Layout, options: DigitizeOptions, name: str
) -> tuple[Grid, Layout]:
    """A gridless page's scale measured by its calibration pulses (each lasts 0.2 s and is 1 mV
    tall: their shape and guessed size tell the speed and gain,
    :func:`~ecgtrace.calibration.gridless_setting`), and its layout found again at that scale.
    Raises without pulses of a standard shape."""
    pulses = [p for p in found.pulses if p.width_mm > 0]
    if not pulses:
        raise _no_grid(name, grid)
    width_mm = float(np.median([p.width_mm for p in pulses]))  # in the guessed mm
    height_mm = float(np.median([p.height_mm for p in pulses]))
    setting = gridless_setting(
        height_mm, width_mm, speed_mm_s=options.speed_mm_s, gain_mm_mv=options.gain_mm_mv
    )
    if setting is None:
        raise _no_grid(name, grid)
    ppm = grid.px_per_mm_col * width_mm / (PULSE_S * setting[0])
    scaled = replace(grid, px_per_mm_row=ppm, px_per_mm_col=ppm)
    log.info("%s: no grid; %.2f px/mm from %d calibration pulses", name, ppm, len(pulses))
    layout = _find_layout(img, scaled, options, name)
    if _refuted(layout):
        # Pulse-like marks that are no pulses: the rows would span minutes or a heartbeat.
        raise _no_grid(name, grid)
    return scaled, layout


def _find_layout(img: NDArray[np.uint8], grid: Grid, options: DigitizeOptions, name: str) -> Layout:
    try:
        return find_layout(
            img,
            grid,
            layout=options.layout,
            speed_mm_s=options.speed_mm_s,
            gain_mm_mv=options.gain_mm_mv,
            lead_order=options.lead_order,
        )
    except LayoutError as exc:
        raise DigitizeError(f"{name}: layout not recognised: {exc}") from None


def _flat(
    img: NDArray[np.uint8], rect: Rectification, options: DigitizeOptions, name: str
) -> tuple[NDArray[np.uint8], Rectification, Grid]:
    """The grid of the rectified page, and the page deskewed and (a photo's) unwarped by it."""
    grid = _find_grid(img, options.px_per_mm, name)
    if abs(grid.rotation_deg) > _DESKEW_MIN_DEG:
        img = deskew(img, grid.rotation_deg, border=255.0)
        rect = replace(rect, rotation_deg=grid.rotation_deg)
    if rect.cropped and options.px_per_mm is None:
        mesh = fit_mesh(img, grid)
        if mesh is not None:
            img = unwarp(img, mesh)
            rect = replace(rect, mesh=mesh)
    return img, rect, grid


def _upright(
    img: NDArray[np.uint8], rect: Rectification, options: DigitizeOptions, name: str
) -> tuple[NDArray[np.uint8], Rectification, Grid, Layout, float]:
    """Grid and layout of the rectified page, the right way up, and the seconds spent on the
    grid (deskew and unwarp included): a photographed, turned or gridless page without
    calibration pulses is also read upside down, and kept so if pulses show there."""
    t = time.perf_counter()
    img, rect, grid = _flat(img, rect, options, name)
    grid_s = time.perf_counter() - t
    try:
        found: Layout | None = _find_layout(img, grid, options, name)
        error = None
    except DigitizeError as exc:
        found, error = None, exc
    # A scan laid on the glass upside down shows no sign of it but pulses standing under the
    # rows, which a gridless page needs for its scale: it too is read both ways.
    if (found is None or found.pulse_side == "none") and (
        rect.cropped or rect.turns or not grid.found
    ):
        flipped = np.ascontiguousarray(np.rot90(img, 2))
        # Half a turn permutes the pixels: a grid not seen is not seen that way either.
        grid_f = _find_grid(flipped, options.px_per_mm, name) if grid.found else grid
        try:
            other = _find_layout(flipped, grid_f, options, name)
        except DigitizeError:
            other = None
        if other is not None and (found is None or other.pulse_side != "none"):
            log.info("%s: read upside down (pulses stand on its rows that way)", name)
            img, rect, grid, found = flipped, replace(rect, flipped=True), grid_f, other
    if found is None:
        assert error is not None
        raise _no_grid(name, grid) if not grid.found else error
    if grid.found and grid.view != "image" and _refuted(found):
        # A faint view's pitch the layout refutes: the pulses' own scale, else refused.
        guessed = _guessed(img, grid, name)
        grid, found = _pulse_scaled(img, guessed, _find_layout(img, guessed, options, name),
                                    options, name)  # fmt: skip
    elif not grid.found:
        grid, found = _pulse_scaled(img, grid, found, options, name)
    return img, rect, grid, found, grid_s


def _read_boxes(
    img: NDArray[np.uint8], grid: Grid, found: Layout, options: DigitizeOptions
) -> tuple[list[BoxTrace], float, float]:
    """Every lead box segmented and read, and the seconds spent segmenting and extracting
    (summed over the threads)."""
    dark = None
    if options.method != "unet":  # the page's darkness, measured once for all its boxes
        dark = darkness(img, background_px=classical_background_px(grid.px_per_mm_row))
    cells = {(b.row_index, b.col_index) for b in found.boxes}

    def one_box(box: LeadBox) -> tuple[BoxTrace, float, float]:
        t = time.perf_counter()
        seg = segment_box(img, box, grid, method=options.method, dark=dark)
        t_seg = time.perf_counter()
        joined = (box.row_index, box.col_index - 1) in cells
        read = trace_box(seg, box, grid, found.calibration, fs=options.fs, joined=joined)
        return read, t_seg - t, time.perf_counter() - t_seg

    # The heavy parts (onnxruntime, OpenCV, NumPy) release the GIL: threads share the cores.
    with ThreadPoolExecutor(max_workers=max(1, options.threads)) as pool:
        done = list(pool.map(one_box, found.boxes))
    return [d[0] for d in done], sum(d[1] for d in done), sum(d[2] for d in done)


def digitize_image(
    image: NDArray[np.uint8],
    options: DigitizeOptions | None = None,
    *,
    source: str = "<image>",
    page: int = 1,
) -> Digitization:
    """Digitize one ECG page held as an RGB (rows, cols, 3) uint8 array.

    ``options`` (:class:`~ecgtrace.digitization.DigitizeOptions`) say what is known of the
    page; speed and gain not stated come from the calibration pulses where they show a
    standard value, else 25 mm/s and 10 mm/mV (:mod:`ecgtrace.calibration`). Raises
    :class:`DigitizeError` with a one-line message naming ``source``.
    """
    options = options or DigitizeOptions()
    img = np.asarray(image)
    name = source if page == 1 else f"{source} (page {page})"
    _check(img, options, source, name)
    t_start = time.perf_counter()
    img, rect = rectify(img)
    t_rect = time.perf_counter()
    img, rect, grid, found, grid_s = _upright(img, rect, options, name)
    t_layout = time.perf_counter()
    read, seg_cpu, ext_cpu = _read_boxes(img, grid, found, options)
    t_boxes = time.perf_counter()
    n = max(1, round(found.duration_s * options.fs))
    p_signal, warnings = assemble(found.boxes, read, n_samples=n, fs=options.fs)
    warnings = [*found.calibration.warnings, *warnings]
    if not grid.found:
        warnings.insert(0, "no grid found: the scale comes from the calibration pulses")
    t_end = time.perf_counter()
    # The boxes ran interleaved: their wall time is split by the two stages' shares.
    segment_s = (t_boxes - t_layout) * seg_cpu / max(seg_cpu + ext_cpu, 1e-9)
    times = StageTimes(
        rectify_s=t_rect - t_start,
        grid_s=grid_s,
        layout_s=t_layout - t_rect - grid_s,
        segment_s=segment_s,
        extract_s=t_end - t_layout - segment_s,
        total_s=t_end - t_start,
    )
    for w in warnings:
        log.warning("%s: %s", name, w)
    return Digitization(
        p_signal=p_signal,
        fs=float(options.fs),
        source=source,
        page=page,
        image=img,
        grid=grid,
        layout=found,
        traces=tuple(r.trace for r in read),
        method=options.method,
        warnings=tuple(warnings),
        times=times,
        rectification=rect,
    )


def digitize_pages(
    path: str | os.PathLike[str], options: DigitizeOptions | None = None, *, dpi: float = 200.0
) -> list[Digitization]:
    """Digitize every page of an image or PDF file (PDF pages rasterised at ``dpi``).

    Raises :class:`DigitizeError` (a ``ValueError``; one line naming the file and the cause)
    for unreadable files and pages that cannot be digitized.
    """
    from ecgtrace.io.images import InputError
    from ecgtrace.io.pages import read_pages

    try:
        pages = read_pages(path, dpi=dpi)
    except InputError as exc:
        raise DigitizeError(str(exc)) from None
    return [digitize_image(p.image, options, source=str(path), page=p.number) for p in pages]


def digitize(
    image_or_path: NDArray[np.uint8] | str | os.PathLike[str],
    options: DigitizeOptions | None = None,
    *,
    page: int = 1,
    dpi: float = 200.0,
    source: str = "<image>",
) -> Digitization:
    """Digitize an ECG page: an RGB (rows, cols, 3) uint8 array (named ``source`` in errors)
    or an image/PDF file (``page`` of a PDF, 1-based, rasterised at ``dpi``), told ``options``
    (``DigitizeOptions(layout="3x4+II", speed_mm_s=50.0)``...)."""
    if isinstance(image_or_path, np.ndarray):
        return digitize_image(image_or_path, options, source=source)
    from ecgtrace.io.images import InputError
    from ecgtrace.io.pages import read_pages

    try:
        pages = read_pages(image_or_path, dpi=dpi, only=page)
    except InputError as exc:
        raise DigitizeError(str(exc)) from None
    p = pages[0]
    return digitize_image(p.image, options, source=str(image_or_path), page=p.number)
