"""Single-lead crops, the seed paper's setting: one lead's band with its neighbours' intrusions.

A crop is centred (vertically) on a lead's 0 mV baseline and spans its band plus a margin, so
large complexes of the rows above and below show in it; its target is that lead's own mask.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace.render.degrade import random_degradations
from ecgtrace.render.page import render_page
from ecgtrace.render.spec import random_spec
from ecgtrace.render.truth import ALPHA_THRESHOLD, Rendered, paste_slices


@dataclass(frozen=True, eq=False)
class Crop:
    """A crop (rows, cols, 3) uint8 around one lead segment, with that lead's truth.

    ``mask`` (rows, cols) bool is the lead's own trace, ``others`` the other leads' traces;
    ``polyline`` and ``zero_line`` (n, 2) are (row, col) px in the crop; ``origin`` is the crop's
    top-left pixel in the page. Crops cut from pages drawn by another tool have a signal but
    no pixel truth: ``mask_known`` is False and ``mask``/``others`` are all False.
    """

    image: NDArray[np.uint8]
    mask: NDArray[np.bool_]
    others: NDArray[np.bool_]
    lead: str
    times_s: NDArray[np.float64]
    signal_mv: NDArray[np.float64]
    polyline: NDArray[np.float64]
    zero_line: NDArray[np.float64]
    px_per_mm_row: float
    px_per_mm_col: float
    speed_mm_s: float
    gain_mm_mv: float
    overlap: bool
    origin: tuple[int, int]
    degradations: tuple[str, ...] = ()
    mask_known: bool = True


def crop_segment(
    page: Rendered,
    index: int,
    *,
    margin_mm: float = 5.0,
    whole_trace: bool = False,
    half_height_mm: float | None = None,
    degradations: tuple[str, ...] = (),
) -> Crop:
    """Cut the crop of segment ``index``: its band plus ``margin_mm`` above, below and aside.

    With ``whole_trace`` the crop grows (still centred on the baseline) until it holds all of
    the lead's ink, however far its complexes reach; ``half_height_mm`` instead fixes the
    height to that much above and below the baseline. Parts outside the page are
    paper-coloured.
    """
    truth = page.truth
    seg = truth.segments[index]
    ppm_r, ppm_c = seg.px_per_mm_row, seg.px_per_mm_col
    centre = float(np.nanmean(seg.zero_line[:, 0]))
    half = max(centre - seg.band.top, seg.band.bottom - centre) + margin_mm * ppm_r
    if half_height_mm is not None:
        half = half_height_mm * ppm_r
    elif whole_trace:
        ink = seg.mask_box
        half = max(half, centre - ink.top + 1, ink.bottom - centre + 1)
    r0 = math.floor(centre - half)
    r1 = math.ceil(centre + half) + 1
    c0 = math.floor(seg.band.left - margin_mm * ppm_c)
    c1 = math.ceil(seg.band.right + margin_mm * ppm_c) + 1
    shape = (r1 - r0, c1 - c0)
    image = np.empty((*shape, 3), dtype=np.uint8)
    image[:] = truth.spec.grid.paper_colour
    crop_in_page, page_in_crop = paste_slices((-r0, -c0), truth.shape, shape)
    image[crop_in_page] = page.image[page_in_crop]

    def own(k: int) -> NDArray[np.bool_]:
        s = truth.segments[k]
        out = np.zeros(shape, dtype=bool)
        dst, src = paste_slices(
            (s.alpha_origin[0] - r0, s.alpha_origin[1] - c0), s.alpha.shape, shape
        )
        out[dst] = s.alpha[src] >= ALPHA_THRESHOLD
        return out

    others = np.zeros(shape, dtype=bool)
    for k in range(len(truth.segments)):
        if k != index:
            others |= own(k)
    return Crop(
        image=image,
        mask=own(index),
        others=others,
        lead=seg.lead,
        times_s=seg.times_s,
        signal_mv=seg.signal_mv,
        polyline=seg.polyline - (r0, c0),
        zero_line=seg.zero_line - (r0, c0),
        px_per_mm_row=ppm_r,
        px_per_mm_col=ppm_c,
        speed_mm_s=seg.speed_mm_s,
        gain_mm_mv=seg.gain_mm_mv,
        overlap=seg.overlap,
        origin=(r0, c0),
        degradations=degradations,
    )


def iter_crops(
    signals: Sequence[tuple[NDArray[np.float64], float]],
    n: int,
    *,
    overlap_fraction: float = 0.5,
    degrade: float = 1.0,
    dpi: tuple[float, float] = (100.0, 300.0),
    per_page: int = 3,
    exclude: frozenset[str] = frozenset(),
    whole_trace: bool = False,
    rng: int | np.random.Generator | None = None,
) -> Iterator[Crop]:
    """Yield ``n`` crops from random pages of the given recordings ((n_samples, 12) mV, fs).

    Exactly ``round(n * overlap_fraction)`` of them are flagged as overlapping; pages are drawn
    tight when overlaps are still needed. ``degrade`` is the maximum degradation strength
    (0: clean pages); degradations named in ``exclude`` are never drawn. At most ``per_page``
    crops come from one page; ``whole_trace`` as in :func:`crop_segment`.
    """
    if not 0.0 <= overlap_fraction <= 1.0:
        raise ValueError(f"overlap_fraction must be in [0, 1], got {overlap_fraction}")
    if not signals:
        raise ValueError("no recordings to draw crops from")
    rng = np.random.default_rng(rng)
    want = {True: round(n * overlap_fraction), False: n - round(n * overlap_fraction)}
    tries = 0
    while want[True] + want[False] > 0:
        tries += 1
        if tries > 50 * n + 100:
            raise RuntimeError("could not draw enough overlapping crops from these recordings")
        need_overlap = want[True] > 0 and (want[False] == 0 or rng.random() < 0.5)
        spec = random_spec(
            rng,
            overlap=float(rng.uniform(0.6, 1.0) if need_overlap else rng.uniform(0.0, 0.5)),
            dpi=dpi,
            layouts=("3x4", "6x2", "12x1") if need_overlap else ("3x4", "6x2", "12x1", "single"),
        )
        sig, fs = signals[int(rng.integers(len(signals)))]
        page = render_page(sig, fs, spec, rng=rng)
        names: tuple[str, ...] = ()
        if degrade > 0:
            page, names = random_degradations(page, strength=degrade, rng=rng, exclude=exclude)
        taken = 0
        for k in rng.permutation(len(page.truth.segments)):
            flag = page.truth.segments[k].overlap
            if want[flag] > 0 and taken < per_page:
                want[flag] -= 1
                taken += 1
                yield crop_segment(page, int(k), whole_trace=whole_trace, degradations=names)
