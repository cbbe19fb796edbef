"""Photo and scan styles: the sheet on a desk, lens, light, dither; the truth moves with it."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_truth_on_image
from ecgtrace.data import Record
from ecgtrace.render import PageSpec, Rendered, render_page
from ecgtrace.render.photo import (
    STYLES,
    banding,
    cast_shadow,
    dither,
    glare,
    lens,
    on_background,
    quarter_turn,
)


@pytest.fixture(scope="module")
def small_page(record: Record) -> Rendered:
    """A clean 3x4 + II page at 100 DPI (fast to warp)."""
    return render_page(record.p_signal, record.fs, PageSpec(dpi=100.0), rng=1)


@pytest.mark.parametrize("turns", [0, 1, 3])
def test_on_background_moves_the_truth_and_surrounds_the_sheet(
    small_page: Rendered, turns: int
) -> None:
    photo = on_background(small_page, strength=1.0, rng=2, quarter_turns=turns)
    assert_truth_on_image(photo)
    rows, cols = photo.truth.shape
    # The sheet lies inside a larger frame, turned as asked: its long side follows the turns.
    assert rows * cols > small_page.truth.shape[0] * small_page.truth.shape[1]
    assert (cols > rows) == (turns % 2 == 0)
    # The corners of the frame show the desk, not paper.
    paper = np.asarray(small_page.truth.spec.grid.paper_colour, float)
    corner = photo.image[:5, :5].reshape(-1, 3).astype(float).mean(axis=0)
    assert np.linalg.norm(corner - paper) > 20


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_quarter_turn_is_exact(small_page: Rendered, turns: int) -> None:
    turned = quarter_turn(small_page, turns)
    assert np.array_equal(turned.image, np.rot90(small_page.image, turns))
    assert_truth_on_image(turned)
    back = quarter_turn(turned, 4 - turns)
    for a, b in zip(small_page.truth.segments, back.truth.segments, strict=True):
        assert np.allclose(a.polyline, b.polyline, equal_nan=True)


def test_lens_bends_lines_and_moves_the_truth(small_page: Rendered) -> None:
    bent = lens(small_page, strength=1.0, rng=5)
    assert_truth_on_image(bent)
    # A straight baseline comes out curved: its rows are no longer one line.
    zero = bent.truth.segments[-1].zero_line
    fit = np.polyfit(zero[:, 1], zero[:, 0], 1)
    assert np.abs(zero[:, 0] - np.polyval(fit, zero[:, 1])).max() > 1.0


@pytest.mark.parametrize("func", [cast_shadow, glare, banding])
def test_light_effects_keep_geometry(small_page: Rendered, func) -> None:  # type: ignore[no-untyped-def]
    out = func(small_page, strength=1.0, rng=0)
    assert out.image.shape == small_page.image.shape
    assert not np.array_equal(out.image, small_page.image)
    assert out.truth is small_page.truth


def test_dither_is_black_and_white_and_keeps_the_traces(small_page: Rendered) -> None:
    bw = dither(small_page, strength=0.5, rng=0)
    assert set(np.unique(bw.image)) <= {0, 255}
    assert_truth_on_image(bw, min_share=0.8)  # the pen's soft edges dither


@pytest.mark.parametrize("style", sorted(STYLES))
def test_styles_are_seeded(small_page: Rendered, style: str) -> None:
    a, names_a = STYLES[style](small_page, rng=3)
    b, names_b = STYLES[style](small_page, rng=3)
    assert names_a == names_b and names_a
    assert np.array_equal(a.image, b.image)
