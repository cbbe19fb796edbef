"""Degradations: seeded, composable, and geometric ones move the truth with the image."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_truth_on_image
from ecgtrace.render import Rendered, degrade
from ecgtrace.render.degrade import DEGRADATIONS, GEOMETRIC


@pytest.mark.parametrize("degrees", [-7.0, 3.0, 10.0])
def test_rotation_moves_the_truth(page: Rendered, degrees: float) -> None:
    turned = degrade.rotate(page, degrees=degrees)
    assert turned.truth.rotation_deg == degrees
    assert_truth_on_image(turned)
    # The baseline tilts by the angle: counter-clockwise means it rises to the right.
    zero = turned.truth.segments[-1].zero_line  # the 10 s rhythm strip
    slope = np.polyfit(zero[:, 1], zero[:, 0], 1)[0]
    assert np.degrees(np.arctan(-slope)) == pytest.approx(degrees, abs=1e-6)


@pytest.mark.parametrize("name", ["perspective", "curl"])
def test_warps_move_the_truth(page: Rendered, name: str) -> None:
    warped = DEGRADATIONS[name](page, strength=1.0, rng=3)
    assert not np.array_equal(warped.image, page.image)
    assert_truth_on_image(warped)


def test_downscale_scales_px_per_mm_and_keeps_masks(page: Rendered) -> None:
    small = degrade.downscale(page, factor=0.5)
    assert small.truth.shape == (850, 1100)
    assert small.truth.px_per_mm_row == pytest.approx(page.truth.px_per_mm_row / 2)
    for before, after in zip(page.truth.segments, small.truth.segments, strict=True):
        assert after.px_per_mm_col == pytest.approx(before.px_per_mm_col / 2)
        # Reading the moved polyline back still gives the signal.
        mv = (after.zero_line[:, 0] - after.polyline[:, 0]) / (
            after.gain_mm_mv * after.px_per_mm_row
        )
        assert np.sqrt(np.mean((mv - after.signal_mv) ** 2)) < 0.01
    assert_truth_on_image(small, min_share=0.95)


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
def test_each_degradation_is_seeded_and_does_something(page: Rendered, name: str) -> None:
    f = DEGRADATIONS[name]
    a = f(page, strength=0.8, rng=11)
    b = f(page, strength=0.8, rng=11)
    assert a.image.dtype == np.uint8 and a.image.ndim == 3
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, page.image)
    assert f(page, strength=0.0, rng=11) is page
    if name not in GEOMETRIC:
        assert a.truth is page.truth  # the drawing's truth does not change with the look
    with pytest.raises(ValueError, match="strength"):
        f(page, strength=1.5)


def test_apply_composes_in_paper_order(page: Rendered) -> None:
    names = ["jpeg", "rotate", "stains", "sensor_noise"]
    a = degrade.apply(page, names, strength=0.5, rng=4)
    b = degrade.apply(page, list(reversed(names)), strength=0.5, rng=4)
    assert np.array_equal(a.image, b.image)  # order of the names does not matter
    assert a.truth.rotation_deg != 0
    with pytest.raises(ValueError, match="unknown degradation 'smudge'"):
        degrade.apply(page, ["smudge"])


def test_random_degradations_are_reproducible(page: Rendered) -> None:
    a, names_a = degrade.random_degradations(page, rng=21)
    b, names_b = degrade.random_degradations(page, rng=21)
    assert names_a == names_b and np.array_equal(a.image, b.image)


def test_binarised_scan_is_black_and_white(page: Rendered) -> None:
    bw = degrade.binarise(page, strength=0.5, rng=0)
    assert set(np.unique(bw.image)) <= {0, 255}
    # The traces survive binarisation: their mask pixels are black.
    seg = bw.truth.segments[0]
    assert np.mean(bw.image[seg.page_mask(bw.truth.shape)][:, 0] == 0) > 0.95
