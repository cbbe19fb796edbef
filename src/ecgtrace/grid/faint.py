"""A second look for a grid the first pass missed: a photo's or a blurred scan's faint lines.

At 100-200 DPI, blur, glare and JPEG leave the 1 mm lines under a grey level of contrast and
the 5 mm lines barely above the paper's texture. Two cheap views bring them back: local
contrast equalised (CLAHE on the lightness, so shading and a colour cast no longer drown them)
and the image enlarged twice (the line finder's smallest pitch and its filters then see the
lines as lines). The first view that shows a grid is used; the pitch and phases are given for
the image as it is.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.grid import Grid, detect_grid

log = logging.getLogger(__name__)

MAX_UPSCALED_PX = 6000  # the longest side the enlarged view may have
# A page or strip this looks at is 100-700 mm long (2.5 s is 62 mm, a 10 s strip at 50 mm/s
# with its margins ~550 mm).
LONG_MM = (100.0, 700.0)


def equalised(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """An RGB (rows, cols, 3) uint8 image with its lightness equalised locally (CLAHE, tiles
    of about 1/8 of the image, clip 3), colours kept."""
    lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    lab[..., 0] = clahe.apply(lab[..., 0])
    return np.asarray(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), dtype=np.uint8)


def detect_faint_grid(image: NDArray[np.uint8], first: Grid | None = None) -> Grid:
    """The grid of an RGB (rows, cols, 3) uint8 image, looked for again where the first pass
    (``first``, else :func:`~ecgtrace.grid.detect_grid` now) found none: in the equalised view,
    then in the view enlarged twice. Returns the first grid found there whose pitch makes the
    image's long side :data:`LONG_MM` long, else the first pass's."""
    grid = first if first is not None else detect_grid(image)
    if grid.found or image.ndim != 3:
        return grid
    long_px = max(image.shape[:2])

    def plausible(g: Grid, scale: float = 1.0) -> bool:
        # Texture read as a grid gives pitches that make the page centimetres or metres long.
        return g.found and LONG_MM[0] <= long_px * scale / g.px_per_mm <= LONG_MM[1]

    again = detect_grid(equalised(image))
    if plausible(again):
        log.info("grid found after equalising the contrast (%.2f px/mm)", again.px_per_mm)
        return replace(again, view="equalised")
    if 2 * max(image.shape[:2]) <= MAX_UPSCALED_PX:
        big = np.asarray(
            cv2.resize(image, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC), np.uint8
        )
        again = detect_grid(big)
        if plausible(again, 2.0):
            log.info("grid found in the enlarged view (%.2f px/mm)", again.px_per_mm / 2)
            return replace(
                again,
                px_per_mm_row=again.px_per_mm_row / 2,
                px_per_mm_col=again.px_per_mm_col / 2,
                # A pixel centre c of the enlarged view is at (c - 0.5) / 2 here.
                phase_row=(again.phase_row - 0.5) / 2,
                phase_col=(again.phase_col - 0.5) / 2,
                view="enlarged",
            )
    return grid
