"""Rectification: the sheet found on a desk, seen square-on, upright and flattened by its grid."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace.data import Record, data_dir, example_record
from ecgtrace.grid import deskew, detect_grid
from ecgtrace.io.images import read_image
from ecgtrace.pipeline import digitize_image
from ecgtrace.rectify import Rectification, find_page, fit_mesh, quarter_turns, rectify, unwarp
from ecgtrace.render import PageSpec, Rendered, degrade, render_page
from ecgtrace.render.photo import on_background, photo_style


@pytest.fixture(scope="module")
def small_page(record: Record) -> Rendered:
    """A clean 3x4 + II page at 120 DPI with pulses on the left."""
    return render_page(record.p_signal, record.fs, PageSpec(dpi=120.0), rng=1)


def _points(page: Rendered) -> np.ndarray:
    pts = np.concatenate([s.polyline for s in page.truth.segments])
    return pts[np.all(np.isfinite(pts), axis=1)]


def _affine_residual(clean: np.ndarray, moved: np.ndarray) -> float:
    """RMS (px) of ``moved`` points about the best affine image of the ``clean`` ones: 0 when
    the page came out uniform (any scale, shear or shift is the grid stage's to measure)."""
    design = np.concatenate([clean, np.ones((clean.shape[0], 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, moved, rcond=None)
    return float(np.sqrt(np.mean(np.sum((design @ coef - moved) ** 2, axis=1))))


def test_sheet_on_a_desk_is_found_and_seen_square_on(small_page: Rendered) -> None:
    photo = on_background(small_page, strength=1.0, rng=4, quarter_turns=0)
    image, rect = rectify(photo.image)
    assert rect.cropped and rect.turns == 0
    clean, moved = _points(small_page), rect.forward(_points(photo))
    # Before: the perspective bends the page by many px; after, <= 1.5 px (0.3 mm at 120 DPI).
    assert _affine_residual(clean, _points(photo)) > 5.0
    assert _affine_residual(clean, moved) < 1.5
    assert image.shape[0] < photo.image.shape[0] and image.shape[1] < photo.image.shape[1]


def test_a_page_filling_the_frame_is_left_as_it_is(small_page: Rendered) -> None:
    assert find_page(small_page.image) is None
    image, rect = rectify(small_page.image)
    assert image is small_page.image
    assert rect == rect and not rect.cropped and rect.turns == 0


@pytest.mark.parametrize("layout", ["3x4", "12x1"])
def test_quarter_turns_follow_the_traces(record: Record, layout: str) -> None:
    page = render_page(record.p_signal, record.fs, PageSpec(layout=layout, dpi=100.0), rng=0)
    assert quarter_turns(page.image) == 0
    assert quarter_turns(np.rot90(page.image, 1)) == 1
    assert quarter_turns(np.rot90(page.image, 3)) == 1


def test_mesh_flattens_a_curled_page(small_page: Rendered) -> None:
    curled = degrade.curl(small_page, strength=1.0, rng=2)
    grid = detect_grid(curled.image)
    image = deskew(curled.image, grid.rotation_deg, border=255.0)
    rect = Rectification(curled.truth.shape, curled.truth.shape, rotation_deg=grid.rotation_deg)
    mesh = fit_mesh(image, grid)
    assert mesh is not None and mesh.max_shift_px > 3.0
    flat = Rectification(rect.input_shape, rect.page_shape, rotation_deg=rect.rotation_deg,
                         mesh=mesh)  # fmt: skip
    clean = _points(small_page)
    before = _affine_residual(clean, rect.forward(_points(curled)))
    after = _affine_residual(clean, flat.forward(_points(curled)))
    assert after < before / 3 and after < 1.5, (before, after)
    assert unwarp(image, mesh).shape == image.shape


def test_mesh_leaves_a_flat_page_alone(small_page: Rendered) -> None:
    assert fit_mesh(small_page.image, detect_grid(small_page.image)) is None


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_turned_photo_is_read_upright(small_page: Rendered, turns: int) -> None:
    photo = on_background(small_page, strength=0.5, rng=7, quarter_turns=turns)
    found = digitize_image(photo.image)
    assert found.layout.name == "3x4+II"
    assert found.layout.pulse_side == "left"
    assert found.rectification is not None and found.rectification.cropped
    assert (found.rectification.turns + 2 * found.rectification.flipped) % 4 in (1, 2, 3)
    assert found.speed_from == "pulse" or found.gain_from == "pulse"


def test_real_photo_filling_the_frame_is_not_cut() -> None:
    path = data_dir() / "photos" / "eik_ecg00005.jpg"
    if not path.is_file():
        pytest.skip("shared photos not present")
    # Vignetting darkens the corners: a paper-coloured blob, not a sheet on a desk.
    assert find_page(read_image(path)) is None


def test_a_photo_of_a_desk_is_refused_not_traced() -> None:
    from ecgtrace.digitization import DigitizeError
    from ecgtrace.render.photo import _background

    desk = np.clip(_background((900, 1200), np.random.default_rng(0)), 0, 255).astype(np.uint8)
    with pytest.raises(DigitizeError, match=r"^desk\.jpg: not an ECG page"):
        digitize_image(desk, source="desk.jpg")


def test_a_faint_photo_grid_is_found_in_the_equalised_view() -> None:
    """Curl, lens, shading and JPEG at 110 DPI hide the grid from the first pass; the
    equalised view shows it at the pitch the pulses (10 mm tall) confirm."""
    record = example_record()
    page = render_page(record.p_signal, record.fs, PageSpec(dpi=110.0), rng=4)
    photo, _ = photo_style(page, rng=4)
    found = digitize_image(photo.image)
    assert found.grid.found and found.grid.view == "equalised"
    assert found.layout.name == "3x4+II"
    assert found.layout.calibration.pulse_gain_mm_mv == pytest.approx(10.0, rel=0.05)


def test_dithered_scan_saved_as_jpeg_is_descreened(shared_data: None) -> None:
    # JPEG turns half of a dithered page's black dots grey; it is still a halftone to undo.
    from ecgtrace.bench.page_sources import rendered_case
    from ecgtrace.rectify import halftone

    case = rendered_case(7, 4, dpi=(100.0, 200.0), style="scan", split="validation")
    assert {"dither", "jpeg"} <= set(case.degradations)
    assert halftone(case.page.image)
    assert rectify(case.page.image)[1].descreened
