"""Shared fixtures: the bundled record and a few rendered pages (drawn once per session)."""

from __future__ import annotations

import numpy as np
import pytest

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
