"""One lead box of a page segmented: the crop around it, the segmenter, the box's own cols.

This is the code path the page pipeline ships and the crop benchmark scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from ecgtrace.grid import Grid
from ecgtrace.layout import LeadBox
from ecgtrace.segment.classical import classical_background_px, darkness, ink_probability
from ecgtrace.segment.refine import refine_with_ink

ArrayT = TypeVar("ArrayT", np.uint8, np.float32)

# unet+ink: the U-Net's choice of the image's own ink; unet: the U-Net alone; classical: ink.
METHODS: tuple[str, ...] = ("unet+ink", "unet", "classical")
CROP_MARGIN_MM = 5.0  # cols of context either side of a lead box (the U-Net saw as much)
REACH_MM = 27.0  # rows either side of the baseline at least: tall complexes cross the band


@dataclass(frozen=True, eq=False)
class BoxProbability:
    """The trace probability of one lead box.

    ``prob`` (rows, cols) float32 in [0, 1] is what the extractor reads; ``unet`` the U-Net's
    own map (``prob`` itself for the classical method), whose mean along the path is the
    trace's confidence. Both cover the box's band plus context and are zero outside the box's
    cols; ``origin_row``/``origin_col`` (px) is their top-left pixel in the page.
    """

    prob: NDArray[np.float32]
    unet: NDArray[np.float32]
    origin_row: int
    origin_col: int


def _crop(
    image: NDArray[ArrayT], r0: int, r1: int, c0: int, c1: int, fill: float
) -> NDArray[ArrayT]:
    """image[r0:r1, c0:c1], padded with ``fill`` where the window leaves the page."""
    out = np.full((r1 - r0, c1 - c0, *image.shape[2:]), fill, dtype=image.dtype)
    rr0, rr1 = max(r0, 0), min(r1, image.shape[0])
    cc0, cc1 = max(c0, 0), min(c1, image.shape[1])
    if rr1 > rr0 and cc1 > cc0:
        out[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0] = image[rr0:rr1, cc0:cc1]
    return out


def segment_box(
    image: NDArray[np.uint8],
    box: LeadBox,
    grid: Grid,
    *,
    method: str = "unet+ink",
    dark: NDArray[np.float32] | None = None,
) -> BoxProbability:
    """Trace probability of one lead box of a deskewed page (see :class:`BoxProbability`).

    ``method`` is one of :data:`METHODS`; ``dark`` is the page's
    :func:`~ecgtrace.segment.classical.darkness` (measured once for all boxes), else measured
    on the crop."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use {', '.join(METHODS)}")
    ppm_row, ppm_col = grid.px_per_mm_row, grid.px_per_mm_col
    b = box.box
    band = max(box.baseline_row - b.top, b.bottom - box.baseline_row)
    half = max(band + CROP_MARGIN_MM * ppm_row, REACH_MM * ppm_row)
    r0 = math.floor(box.baseline_row - half)
    r1 = math.ceil(box.baseline_row + half) + 1
    c0 = math.floor(b.left - CROP_MARGIN_MM * ppm_col)
    c1 = math.ceil(b.right + CROP_MARGIN_MM * ppm_col) + 1
    crop = _crop(image, r0, r1, c0, c1, 255)
    classical = None
    if method in ("classical", "unet+ink"):
        if dark is None:
            dark_crop = darkness(crop, background_px=classical_background_px(ppm_row))
        else:
            dark_crop = _crop(dark, r0, r1, c0, c1, 0.0)
        classical = ink_probability(dark_crop, px_per_mm=ppm_row)
    if method == "classical":
        assert classical is not None
        prob = unet = classical
    else:
        from ecgtrace.segment.unet import segment_unet

        unet = segment_unet(
            crop, px_per_mm_row=ppm_row, px_per_mm_col=ppm_col, centre_row=box.baseline_row - r0
        )
        prob = refine_with_ink(unet, classical) if classical is not None else unet
    keep = np.zeros(crop.shape[1], dtype=bool)
    keep[max(0, math.ceil(b.left) - c0) : max(0, math.ceil(b.right) - c0)] = True
    prob = np.where(keep[None, :], prob, 0.0).astype(np.float32)
    unet = np.where(keep[None, :], unet, 0.0).astype(np.float32)
    return BoxProbability(prob=prob, unet=unet, origin_row=r0, origin_col=c0)
