"""Paper speed and gain: the one place they are decided.

A page is printed at a paper speed (mm/s) and a gain (mm/mV). The user may state them; the
calibration pulses show them (a pulse is 1 mV tall and lasts :data:`PULSE_S`); else the usual
25 mm/s and 10 mm/mV hold. Stated values are used as stated and only checked against the
pulses: a disagreement is a warning, never a silent rescale. A pulse's value is used only when
it lies near a standard setting (:data:`STANDARD_SPEEDS_MM_S`, :data:`STANDARD_GAINS_MM_MV`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

PULSE_S = 0.2  # a calibration pulse lasts 0.2 s on every printer we know
DEFAULT_SPEED_MM_S = 25.0
DEFAULT_GAIN_MM_MV = 10.0
STANDARD_SPEEDS_MM_S: tuple[float, ...] = (12.5, 25.0, 50.0)
STANDARD_GAINS_MM_MV: tuple[float, ...] = (2.5, 5.0, 10.0, 20.0, 40.0)
SPEED_SNAP = 0.15  # relative distance to a standard speed within which a pulse's width counts
GAIN_SNAP = 0.10  # the same for a pulse's height; also the stated gain's check
SOURCES: tuple[str, ...] = ("given", "pulse", "default")


@dataclass(frozen=True)
class Calibration:
    """The paper speed and gain a page is read at, and where each came from.

    ``speed_from``/``gain_from`` are ``given``, ``pulse`` or ``default``; ``pulse_gain_mm_mv``
    the gain the pulses show (their median height in mm; None without pulses) and
    ``gain_agrees`` whether it lies within :data:`GAIN_SNAP` of ``gain_mm_mv`` (None without
    pulses); ``warnings`` the disagreements between stated values and the pulses.
    """

    speed_mm_s: float = DEFAULT_SPEED_MM_S
    gain_mm_mv: float = DEFAULT_GAIN_MM_MV
    speed_from: str = "default"
    gain_from: str = "default"
    pulse_gain_mm_mv: float | None = None
    gain_agrees: bool | None = None
    warnings: tuple[str, ...] = ()


class CalibrationError(ValueError):
    """A stated paper speed or gain that no page can have (<= 0, not finite)."""


def snap(value: float, choices: Sequence[float], tolerance: float) -> float | None:
    """The choice nearest ``value`` (in log ratio) if within ``tolerance`` of it (relative),
    else None."""
    best = min(choices, key=lambda c: abs(math.log(value / c)))
    return best if abs(value / best - 1.0) <= tolerance else None


def pulse_speed(widths_mm: Sequence[float]) -> float | None:
    """The standard paper speed (mm/s) the pulses' widths (mm, stroke to stroke) show if they
    last :data:`PULSE_S`; None without a width or when their median is not near a standard."""
    widths = [w for w in widths_mm if w > 0]
    if not widths:
        return None
    return snap(float(np.median(widths)) / PULSE_S, STANDARD_SPEEDS_MM_S, SPEED_SNAP)


def pulse_gain(heights_mm: Sequence[float]) -> float | None:
    """The gain (mm/mV) the pulses show: their median height (mm; a pulse is 1 mV); None
    without pulses."""
    return float(np.median(heights_mm)) if len(heights_mm) else None


def gain_hint(gain_mm_mv: float | None) -> float:
    """The gain (mm/mV) to look for pulses at before they are measured: as stated, else the
    default. Raises :class:`CalibrationError` for a gain <= 0."""
    gain = DEFAULT_GAIN_MM_MV if gain_mm_mv is None else float(gain_mm_mv)
    if not (math.isfinite(gain) and gain > 0):
        raise CalibrationError(f"gain must be > 0 mm/mV, got {gain_mm_mv}")
    return gain


def _speed(widths_mm: Sequence[float], given: float | None) -> tuple[float, str, str | None]:
    """Speed (mm/s), its source and a warning (or None)."""
    measured = pulse_speed(widths_mm)
    if given is not None:
        if measured is not None and measured != given:
            return given, "given", f"the pulses suggest {measured:g} mm/s; used {given:g} as given"
        return given, "given", None
    if measured is not None:
        return measured, "pulse", None
    return DEFAULT_SPEED_MM_S, "default", None


def agrees(measured_mm_mv: float | None, gain_mm_mv: float) -> bool | None:
    """Whether the pulses' gain lies within :data:`GAIN_SNAP` of ``gain_mm_mv`` (None without
    pulses)."""
    if measured_mm_mv is None:
        return None
    return abs(measured_mm_mv / gain_mm_mv - 1.0) <= GAIN_SNAP


def settle(
    *,
    widths_mm: Sequence[float],
    heights_mm: Sequence[float],
    speed_mm_s: float | None,
    gain_mm_mv: float | None,
) -> Calibration:
    """Decide the speed and gain of a page from its pulses (``widths_mm`` stroke to stroke,
    ``heights_mm`` foot to plateau, one per pulse found) and what was stated (None: not
    stated). Raises :class:`CalibrationError` for a stated value <= 0."""
    if speed_mm_s is not None and not (math.isfinite(speed_mm_s) and speed_mm_s > 0):
        raise CalibrationError(f"paper speed must be > 0 mm/s, got {speed_mm_s}")
    hint = gain_hint(gain_mm_mv)
    speed, speed_from, speed_warning = _speed(widths_mm, speed_mm_s)
    warnings = [speed_warning] if speed_warning else []
    measured = pulse_gain(heights_mm)
    gain, gain_from = hint, "default" if gain_mm_mv is None else "given"
    if measured is not None:
        snapped = snap(measured, STANDARD_GAINS_MM_MV, GAIN_SNAP)
        if gain_mm_mv is None and snapped is not None:
            gain, gain_from = snapped, "pulse"
        elif gain_mm_mv is not None and not agrees(measured, hint):
            warnings.append(f"the pulses show {measured:.2f} mm/mV; used {hint:g} as given")
    for w in warnings:
        log.info("calibration: %s", w)
    return Calibration(
        speed_mm_s=float(speed),
        gain_mm_mv=float(gain),
        speed_from=speed_from,
        gain_from=gain_from,
        pulse_gain_mm_mv=measured,
        gain_agrees=agrees(measured, gain),
        warnings=tuple(warnings),
    )


def gridless_setting(
    height_mm: float,
    width_mm: float,
    *,
    speed_mm_s: float | None = None,
    gain_mm_mv: float | None = None,
) -> tuple[float, float] | None:
    """The paper speed (mm/s) and gain (mm/mV) of a page without a grid, from its pulses'
    height and width (stroke to stroke) in mm of a guessed scale. Their shape (height / width
    = gain / (speed * :data:`PULSE_S`)) needs no scale: a stated value is kept and the other
    follows from it; else, of the standard pairs with that shape (within :data:`GAIN_SNAP`),
    the one whose pulse width is nearest the guessed width (10 mm/mV at 50 mm/s and 5 mm/mV at
    25 mm/s draw the same pulse, twice as large). None when no standard pair has that shape."""
    if not (height_mm > 0 and width_mm > 0):
        return None
    shape = height_mm / width_mm
    if speed_mm_s is not None and gain_mm_mv is not None:
        return speed_mm_s, gain_mm_mv
    if speed_mm_s is not None:
        return speed_mm_s, shape * speed_mm_s * PULSE_S
    if gain_mm_mv is not None:
        return gain_mm_mv / (shape * PULSE_S), gain_mm_mv
    pairs = [
        (speed, gain)
        for speed in STANDARD_SPEEDS_MM_S
        for gain in STANDARD_GAINS_MM_MV
        if abs(shape * speed * PULSE_S / gain - 1.0) <= GAIN_SNAP
    ]
    if not pairs:
        return None
    return min(pairs, key=lambda p: abs(math.log(width_mm / (p[0] * PULSE_S))))


def remeasured(calibration: Calibration, heights_mm: Sequence[float]) -> Calibration:
    """``calibration`` with the pulses' gain measured again (after the pulses were looked for
    anew at the settled gain); the decisions stand."""
    measured = pulse_gain(heights_mm)
    return Calibration(
        speed_mm_s=calibration.speed_mm_s,
        gain_mm_mv=calibration.gain_mm_mv,
        speed_from=calibration.speed_from,
        gain_from=calibration.gain_from,
        pulse_gain_mm_mv=measured,
        gain_agrees=agrees(measured, calibration.gain_mm_mv),
        warnings=calibration.warnings,
    )


# ---- px to s and mV (and back) -----------------------------------------------------------------


def col_of_time(
    times_s: NDArray[np.float64],
    *,
    t0_s: float,
    col0: float,
    speed_mm_s: float,
    px_per_mm_col: float,
) -> NDArray[np.float64]:
    """The cols (px) at which times (s) are drawn, col ``col0`` being time ``t0_s``."""
    return col0 + (times_s - t0_s) * speed_mm_s * px_per_mm_col


def mv_of_row(
    rows: NDArray[np.float64], *, baseline_row: float, gain_mm_mv: float, px_per_mm_row: float
) -> NDArray[np.float64]:
    """The voltages (mV, positive upwards) that rows (px) show, ``baseline_row`` being 0 mV."""
    return (baseline_row - rows) / (gain_mm_mv * px_per_mm_row)


def row_of_mv(
    mv: NDArray[np.float64], *, baseline_row: float, gain_mm_mv: float, px_per_mm_row: float
) -> NDArray[np.float64]:
    """The rows (px) at which voltages (mV) are drawn: the inverse of :func:`mv_of_row`."""
    return baseline_row - mv * gain_mm_mv * px_per_mm_row
