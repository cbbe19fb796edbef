"""Shared fixtures: the bundled record and a few rendered pages (drawn once per session)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from ecgtrace.data import Record, data_dir, example_record
from ecgtrace.render import PageSpec, Rendered, render_page


@pytest.fixture(scope="session")
def record() -> Record:
    return example_record()


@pytest.fixture(scope="session")
def page(record: Record) -> Rendered:
    """A clean 3x4 + lead II page at 200 DPI."""
    return render_page(record.p_signal, record.fs, PageSpec(), rng=0)


@pytest.fixture(scope="session")
def shared_data() -> None:
    if not (data_dir() / "ptbxl").is_dir():
        pytest.skip("shared PTB-XL data not present (set ECGTRACE_DATA)")


def dark_fraction(image: np.ndarray, mask: np.ndarray, ink: tuple[int, int, int]) -> float:
    """Share of ``mask`` pixels whose colour is closer to ``ink`` than to white."""
    sel = image[mask].astype(float)
    to_ink = np.linalg.norm(sel - np.asarray(ink, float), axis=1)
    to_white = np.linalg.norm(sel - 255.0, axis=1)
    return float(np.mean(to_ink < to_white))


def darkness_at(page: Rendered, points: np.ndarray) -> np.ndarray:
    """Ink darkness in [0, 1] of the image at (row, col) points (bilinear)."""
    grey = page.image.astype(float).mean(axis=2)
    paper = float(np.mean(page.truth.spec.grid.paper_colour))
    vals = map_coordinates(grey, points.T, order=1, mode="nearest")
    return np.clip((paper - vals) / paper, 0, 1)


def assert_truth_on_image(page: Rendered, min_share: float = 0.97) -> None:
    """Each lead's truth polyline and mask lie on dark ink of the page image."""
    for seg in page.truth.segments:
        pts = seg.polyline[np.all(np.isfinite(seg.polyline), axis=1)]
        inside = (pts[:, 0] > 1) & (pts[:, 0] < page.truth.shape[0] - 2)
        inside &= (pts[:, 1] > 1) & (pts[:, 1] < page.truth.shape[1] - 2)
        dark = darkness_at(page, pts[inside]) > 0.5
        assert dark.mean() >= min_share, (seg.label, dark.mean())
        mask = seg.page_mask(page.truth.shape)
        grey = page.image.astype(float).mean(axis=2)
        assert np.mean(grey[mask] < 128) >= min_share, seg.label
