"""Page layout (rows, lead boxes, times, baselines, pulses, names) against the renderer's truth.

Every page is read with the grid the grid stage finds (not the truth's pitch). Pages are drawn at
120-150 DPI to stay fast; at exactly 100 DPI the grid stage misreads some pages (3x pitch).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

from ecgtrace.data import example_record
from ecgtrace.grid import Grid, detect_grid
from ecgtrace.layout import Layout, LayoutError, find_layout
from ecgtrace.render import GridStyle, PageSpec, Rendered, render_page
from ecgtrace.render import degrade as deg

# name -> (PageSpec options, degradations)
GREY, GREEN, BLUE = (GridStyle.named(c) for c in ("grey", "green", "blue"))
CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "3x4": (dict(rhythm_leads=()), ()),
    "3x4+II 50mm/s 20mm/mV overlap": (
        dict(speed_mm_s=50.0, gain_mm_mv=20.0, overlap=0.5, separators=False, labels=False),
        (),
    ),
    "3x4+II,V1,V5 grey right": (
        dict(rhythm_leads=("II", "V1", "V5"), calibration="right", grid=GREY),
        (),
    ),
    "3x4+V5,II 5mm/mV cabrera": (
        dict(rhythm_leads=("V5", "II"), gain_mm_mv=5.0, lead_order="cabrera", overlap=0.5),
        (),
    ),
    "3x4+II no pulse": (dict(calibration="none", separators=False), ()),
    "3x4+II degraded": ({}, ("jpeg", "shading", "sensor_noise")),
    "6x2 20mm/mV green": (
        dict(layout="6x2", rhythm_leads=(), gain_mm_mv=20.0, dpi=150.0, grid=GREEN),
        (),
    ),
    "6x2+II 50mm/s right": (
        dict(layout="6x2", speed_mm_s=50.0, calibration="right", separators=False),
        (),
    ),
    "12x1 5mm/mV overlap": (dict(layout="12x1", gain_mm_mv=5.0, overlap=0.5), ()),
    "12x1 cabrera no pulse": (
        dict(layout="12x1", lead_order="cabrera", calibration="none", grid=BLUE, dpi=150.0),
        (),
    ),
    "single 20mm/mV": (dict(layout="single", page_mm=None, gain_mm_mv=20.0, dpi=150.0), ()),
    # Rows closer than the pulses are tall: each pulse's strokes run on into its neighbours'.
    "6x2+II 20mm/mV stacked pulses": (dict(layout="6x2", gain_mm_mv=20.0, overlap=1.0), ()),
    # A grey pen (a photo's): the pulses' lines are far lighter than black.
    "3x4+II 5mm/mV faded": (dict(gain_mm_mv=5.0), ("faded",)),
}
STRENGTH = {"3x4+II 5mm/mV faded": 1.0}


@functools.cache
def _page(case: str) -> tuple[Rendered, Grid]:
    options, degradations = CASES[case]
    record = example_record()
    spec = PageSpec(**{"dpi": 120.0, **options})
    page = render_page(record.p_signal, record.fs, spec, rng=0)
    if degradations:
        page = deg.apply(page, list(degradations), strength=STRENGTH.get(case, 0.5), rng=0)
    grid = detect_grid(page.image)
    # The grid stage's reading is an input here: a wrong one is its failure, not this stage's.
    assert abs(grid.px_per_mm_row / page.truth.px_per_mm_row - 1) < 0.01, grid
    return page, grid


def _find(case: str, **options: Any) -> tuple[Rendered, Layout]:
    page, grid = _page(case)
    spec = page.truth.spec
    kwargs = {"speed_mm_s": spec.speed_mm_s, "gain_mm_mv": spec.gain_mm_mv, **options}
    return page, find_layout(page.image, grid, **kwargs)


def _expected_name(spec: PageSpec) -> str:
    rhythm = spec.rhythm_leads if spec.layout in ("3x4", "6x2") else ()
    return spec.layout + ("+" + ",".join(rhythm) if rhythm else "")


@pytest.mark.parametrize("case", list(CASES))
def test_layout_matches_truth(case: str) -> None:
    page, layout = _find(case)
    truth = page.truth
    spec = truth.spec
    ppm_row, ppm_col = truth.px_per_mm_row, truth.px_per_mm_col
    assert layout.name == _expected_name(spec)
    assert layout.lead_order == (spec.lead_order if spec.layout != "single" else "standard")
    assert len(layout.boxes) == len(truth.segments)
    for box, seg in zip(layout.boxes, truth.segments, strict=True):
        where = f"{case}: {seg.lead} row {seg.row_index} col {seg.col_index}"
        assert box.lead == seg.lead, where
        assert box.inverted == seg.inverted, where
        assert box.is_rhythm == seg.is_rhythm, where
        assert box.t0_s == pytest.approx(seg.t0_s, abs=1e-6), where
        assert box.duration_s == pytest.approx(seg.t1_s - seg.t0_s, abs=1e-6), where
        assert abs(box.box.left - seg.band.left) / ppm_col <= 1.0, where
        assert abs(box.box.right - seg.band.right) / ppm_col <= 1.0, where
        assert box.col0 == pytest.approx(box.box.left)
        assert box.box.top <= seg.baseline_row <= box.box.bottom, where
        zero_row = float(seg.zero_line[0, 0])
        if spec.calibration != "none":
            assert abs(box.baseline_row - zero_row) / ppm_row <= 0.5, where
        else:
            # No pulse: the traces' most common level, which carries the recording's own offset
            # (this record's leads sit up to 0.3 mV below 0 mV).
            off_mm = abs(box.baseline_row - zero_row) / ppm_row
            assert off_mm <= 0.35 * spec.gain_mm_mv + 0.5, where


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][0].get("calibration") != "none"])
def test_pulses_show_the_gain(case: str) -> None:
    page, layout = _find(case)
    truth = page.truth
    assert layout.pulse_side == truth.spec.calibration
    assert layout.baseline_from == "pulse"
    assert len(layout.pulses) == len(truth.pulses)
    for found, true in zip(layout.pulses, truth.pulses, strict=True):
        assert found.row_index == true.row_index
        assert found.box.intersects(true.box)
        assert found.side == truth.spec.calibration
        assert abs(found.foot_row - true.foot[0, 0]) / truth.px_per_mm_row <= 0.5
    assert layout.calibration.pulse_gain_mm_mv == pytest.approx(truth.spec.gain_mm_mv, rel=0.05)
    assert layout.calibration.gain_agrees is True


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][0].get("gain_mm_mv", 10.0) != 10.0])
def test_pulses_settle_a_gain_not_stated(case: str) -> None:
    page, grid = _page(case)
    layout = find_layout(page.image, grid)
    assert layout.calibration.gain_from == "pulse"
    assert layout.gain_mm_mv == page.truth.spec.gain_mm_mv
    assert layout.calibration.speed_mm_s == page.truth.spec.speed_mm_s


def test_no_pulse_is_reported() -> None:
    _, layout = _find("3x4+II no pulse")
    assert layout.pulse_side == "none"
    assert layout.pulses == ()
    assert layout.calibration.pulse_gain_mm_mv is None and layout.calibration.gain_agrees is None
    assert layout.baseline_from == "trace"


def test_a_wrongly_stated_gain_is_flagged() -> None:
    _, layout = _find("3x4+II 50mm/s 20mm/mV overlap", gain_mm_mv=10.0)
    assert layout.gain_mm_mv == 10.0
    assert layout.calibration.pulse_gain_mm_mv == pytest.approx(20.0, rel=0.05)
    assert layout.calibration.gain_agrees is False


def test_layout_given_overrides_detection() -> None:
    _, layout = _find("6x2+II 50mm/s right", layout="6x2+V1")
    assert layout.name == "6x2+V1"
    assert layout.speed_mm_s == 50.0 and layout.duration_s == pytest.approx(4.9)
    assert [b.lead for b in layout.boxes if b.is_rhythm] == ["V1"]
    _, layout = _find("3x4+II,V1,V5 grey right", layout="3x4")  # strips still detected
    assert layout.name == "3x4+II,V1,V5"
    _, layout = _find("single 20mm/mV", layout="single+V2")
    assert [b.lead for b in layout.boxes] == ["V2"]
    # A lead order given is taken as given.
    _, layout = _find("12x1 cabrera no pulse", lead_order="standard")
    assert layout.lead_order == "standard"
    assert [b.lead for b in layout.boxes[:3]] == ["I", "II", "III"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layout": "5x5"}, "unknown layout"),
        ({"layout": "3x4+X9"}, "unknown lead"),
        ({"layout": "6x2+II,V1"}, "at most 1"),
        ({"layout": "12x1"}, "found 4 trace rows"),
        ({"lead_order": "reversed"}, "unknown lead order"),
    ],
)
def test_bad_requests_raise(options: dict[str, Any], message: str) -> None:
    page, grid = _page("3x4+II degraded")
    with pytest.raises(LayoutError, match=message):
        find_layout(page.image, grid, **options)


def test_blank_and_noise_raise() -> None:
    blank = np.full((400, 600, 3), 255, np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    grid = Grid(4.0, 4.0, 0.0, 1.0, 1.0, 1.0, True)
    for image in (blank, noise):
        for g in (grid, detect_grid(image)):
            with pytest.raises(LayoutError, match=r"no trace rows|pitch"):
                find_layout(image, g)
    sparse = np.full((400, 600, 3), 255, np.uint8)
    sparse[np.random.default_rng(1).random((400, 600)) < 0.05] = 0
    with pytest.raises(LayoutError, match="no trace rows"):
        find_layout(sparse, grid)
    with pytest.raises(LayoutError, match="RGB"):
        find_layout(blank[..., 0], grid)
