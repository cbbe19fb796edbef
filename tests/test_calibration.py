"""Speed and gain decided in one place: stated values win and are checked, pulses count only
near a standard setting, and px become s and mV (and back) exactly."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace import calibration as cal
from ecgtrace.calibration import CalibrationError, settle


def test_nothing_known_gives_the_defaults() -> None:
    c = settle(widths_mm=[], heights_mm=[], speed_mm_s=None, gain_mm_mv=None)
    assert (c.speed_mm_s, c.speed_from, c.gain_mm_mv, c.gain_from) == (
        25.0,
        "default",
        10.0,
        "default",
    )
    assert c.pulse_gain_mm_mv is None and c.gain_agrees is None and c.warnings == ()


def test_pulses_near_a_standard_setting_decide() -> None:
    # 10 mm wide at 0.2 s is 50 mm/s; 19.6 mm tall is within 10 % of 20 mm/mV.
    c = settle(widths_mm=[10.1, 9.9], heights_mm=[19.6, 19.8], speed_mm_s=None, gain_mm_mv=None)
    assert (c.speed_mm_s, c.speed_from, c.gain_mm_mv, c.gain_from) == (50.0, "pulse", 20.0, "pulse")
    assert c.pulse_gain_mm_mv == pytest.approx(19.7) and c.gain_agrees is True


def test_pulses_off_every_standard_are_not_used() -> None:
    c = settle(widths_mm=[7.5], heights_mm=[14.0], speed_mm_s=None, gain_mm_mv=None)
    assert (c.speed_mm_s, c.speed_from, c.gain_mm_mv, c.gain_from) == (
        25.0,
        "default",
        10.0,
        "default",
    )
    assert c.pulse_gain_mm_mv == 14.0 and c.gain_agrees is False


def test_stated_values_are_used_as_stated_and_checked() -> None:
    c = settle(widths_mm=[10.0], heights_mm=[20.0], speed_mm_s=25.0, gain_mm_mv=10.0)
    assert (c.speed_mm_s, c.speed_from, c.gain_mm_mv, c.gain_from) == (25.0, "given", 10.0, "given")
    assert c.gain_agrees is False
    assert c.warnings == (
        "the pulses suggest 50 mm/s; used 25 as given",
        "the pulses show 20.00 mm/mV; used 10 as given",
    )
    agreeing = settle(widths_mm=[5.0], heights_mm=[10.2], speed_mm_s=25.0, gain_mm_mv=10.0)
    assert agreeing.warnings == () and agreeing.gain_agrees is True


@pytest.mark.parametrize(("speed", "gain"), [(0.0, None), (-25.0, None), (None, 0.0)])
def test_impossible_stated_values_raise(speed: float | None, gain: float | None) -> None:
    with pytest.raises(CalibrationError, match="must be > 0"):
        settle(widths_mm=[], heights_mm=[], speed_mm_s=speed, gain_mm_mv=gain)


def test_remeasured_keeps_the_decisions() -> None:
    c = settle(widths_mm=[5.0], heights_mm=[19.0], speed_mm_s=None, gain_mm_mv=None)
    again = cal.remeasured(c, [20.5])
    assert (again.gain_mm_mv, again.gain_from, again.speed_mm_s) == (20.0, "pulse", 25.0)
    assert again.pulse_gain_mm_mv == 20.5 and again.gain_agrees is True


def test_snap_is_relative() -> None:
    assert cal.snap(26.0, cal.STANDARD_SPEEDS_MM_S, 0.15) == 25.0
    assert cal.snap(37.5, cal.STANDARD_SPEEDS_MM_S, 0.15) is None
    assert cal.snap(2.6, cal.STANDARD_GAINS_MM_MV, 0.1) == 2.5


def test_px_to_s_and_mv_and_back() -> None:
    times = np.array([0.0, 0.2, 1.0])
    cols = cal.col_of_time(times, t0_s=0.0, col0=100.0, speed_mm_s=25.0, px_per_mm_col=4.0)
    assert cols.tolist() == [100.0, 120.0, 200.0]  # 25 mm/s x 4 px/mm = 100 px/s
    mv = np.array([-0.5, 0.0, 1.0])
    rows = cal.row_of_mv(mv, baseline_row=50.0, gain_mm_mv=10.0, px_per_mm_row=4.0)
    assert rows.tolist() == [70.0, 50.0, 10.0]  # up is positive: 1 mV is 40 px above
    back = cal.mv_of_row(rows, baseline_row=50.0, gain_mm_mv=10.0, px_per_mm_row=4.0)
    assert np.allclose(back, mv)


@pytest.mark.parametrize(
    ("height_mm", "width_mm", "expected"),
    [
        (10.0, 5.0, (25.0, 10.0)),  # the usual pulse
        (20.0, 5.0, (25.0, 20.0)),
        (9.0, 9.5, (50.0, 10.0)),  # square: 50 mm/s 10 mm/mV, or 25 mm/s 5 mm/mV half as large
        (4.8, 5.1, (25.0, 5.0)),
        (7.0, 5.0, None),  # no standard pair draws this shape
        (0.0, 5.0, None),
    ],
)
def test_gridless_setting_from_the_pulse_shape(
    height_mm: float, width_mm: float, expected: tuple[float, float] | None
) -> None:
    assert cal.gridless_setting(height_mm, width_mm) == expected


def test_gridless_setting_keeps_what_is_stated() -> None:
    assert cal.gridless_setting(4.0, 4.0, speed_mm_s=25.0) == (25.0, 5.0)
    assert cal.gridless_setting(4.0, 4.0, gain_mm_mv=10.0) == (50.0, 10.0)
    assert cal.gridless_setting(4.0, 4.0, speed_mm_s=25.0, gain_mm_mv=10.0) == (25.0, 10.0)
