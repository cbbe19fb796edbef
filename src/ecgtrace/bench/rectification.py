"""How flat rectification leaves a photo: the local scale of the page, measured by its truth.

A photo-style render (:func:`~ecgtrace.bench.page_sources.rendered_case`, style ``photo``) is
digitized; every sample of its truth traces is taken through the digitization's
:class:`~ecgtrace.rectify.Rectification` (homography, turns, deskew, mesh) into the rectified
page, and compared with the same sample on the clean render of the same page (drawn at a
uniform scale). Over each 1 s window of each trace, the least-squares affine map from the clean
positions to the rectified ones gives the local scale along cols (time) and, where the window
spans >= 3 mm of amplitude, along rows. A page is *uniform* when every window's scale lies
within 0.5 % of the page's median scale, on both axes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace.bench.page_sources import rendered_case
from ecgtrace.bench.table import Table, columns, table
from ecgtrace.digitization import DigitizeError
from ecgtrace.pipeline import digitize_image
from ecgtrace.render import Rendered

DPI = (100.0, 200.0)  # as ``eval pages --style photo`` draws them
UNIFORM = 0.005  # the target: local scales within 0.5 % of the page's
WINDOW_S = 1.0
MIN_SPAN_MM = 3.0  # a window must span this much amplitude for a row scale


@dataclass(frozen=True)
class PageFlatness:
    """One photo page: the largest deviation of a window's scale from the page's median along
    cols and rows (a share; NaN where not measured), the 95th percentile of both, the number of
    windows, and the digitizer's error (the page was refused: nothing measured)."""

    name: str
    degradations: tuple[str, ...]
    max_col: float
    max_row: float
    p95: float
    windows: int
    error: str | None

    @property
    def uniform(self) -> bool:
        return self.error is None and max(self.max_col, self.max_row) <= UNIFORM


def _scales(
    clean: Rendered, photo: Rendered, forward: Callable[[NDArray[np.float64]], NDArray[np.float64]]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per window: (scale along cols, scale along rows or NaN) of clean -> rectified."""
    cols, rows = [], []
    ppm = clean.truth.px_per_mm_row
    for seg_c, seg_p in zip(clean.truth.segments, photo.truth.segments, strict=True):
        t = seg_c.times_s
        for t0 in np.arange(t[0], t[-1] - 0.5 * WINDOW_S, WINDOW_S):
            sel = (t >= t0) & (t < t0 + WINDOW_S)
            a, b = seg_c.polyline[sel], forward(seg_p.polyline[sel])
            ok = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
            if ok.sum() < 10:
                continue
            design = np.concatenate([a[ok], np.ones((int(ok.sum()), 1))], axis=1)
            coef, *_ = np.linalg.lstsq(design, b[ok], rcond=None)
            cols.append(float(np.linalg.norm(coef[1])))
            span = np.ptp(a[ok, 0]) / ppm
            rows.append(float(np.linalg.norm(coef[0])) if span >= MIN_SPAN_MM else np.nan)
    return np.asarray(cols), np.asarray(rows)


def _deviation(scales: NDArray[np.float64]) -> NDArray[np.float64]:
    s = scales[np.isfinite(scales)]
    return np.abs(s / np.median(s) - 1.0) if s.size else np.array([np.nan])


def flatness(seed: int, index: int) -> PageFlatness:
    """Rectify photo page ``index`` of ``seed`` (as the page benchmark draws it, 100-200 DPI)
    and measure how uniform its scale came out."""
    photo = rendered_case(seed, index, style="photo", dpi=DPI)
    clean = rendered_case(seed, index, style="clean", dpi=DPI)
    try:
        found = digitize_image(photo.page.image, source=photo.name)
    except DigitizeError as exc:
        return PageFlatness(photo.name, photo.degradations, np.nan, np.nan, np.nan, 0, str(exc))
    assert found.rectification is not None
    cols, rows = _scales(clean.page, photo.page, found.rectification.forward)
    dev_c, dev_r = _deviation(cols), _deviation(rows)
    both = np.concatenate([dev_c, dev_r])
    return PageFlatness(
        name=photo.name,
        degradations=photo.degradations,
        max_col=float(np.nanmax(dev_c)),
        max_row=float(np.nanmax(dev_r)),
        p95=float(np.nanpercentile(both, 95)),
        windows=int(cols.size),
        error=None,
    )


def flatness_pages(*, n: int, seed: int) -> Iterator[PageFlatness]:
    """:func:`flatness` of photo pages ``0 .. n - 1`` of ``seed``."""
    for k in range(n):
        yield flatness(seed, k)


def flatness_table(pages: list[PageFlatness], *, seed: int) -> Table:
    """Uniform share and deviation percentiles, over all pages and by warp present."""
    subsets = {"all": pages}
    for name in ("curl", "lens", "on_background"):
        subsets[name] = [p for p in pages if name in p.degradations]
    subsets["flat (no curl, lens)"] = [
        p for p in pages if not {"curl", "lens"} & set(p.degradations)
    ]
    rows = []
    for label, sel in subsets.items():
        done = [p for p in sel if p.error is None]
        worst = [max(p.max_col, p.max_row) for p in done]
        rows.append(
            (
                label,
                str(len(sel)),
                str(len(sel) - len(done)),
                f"{100 * np.mean([p.uniform for p in sel]):.0f} %" if sel else "-",
                f"{100 * np.median(worst):.2f}" if worst else "-",
                f"{100 * np.median([p.p95 for p in done]):.2f}" if done else "-",
            )
        )
    return table(
        f"photo pages rectified: scale uniform within {100 * UNIFORM:g} % (seed {seed})",
        columns(("subset", "n", "refused", "uniform", "median max dev %", "median p95 dev %")),
        rows,
    )
