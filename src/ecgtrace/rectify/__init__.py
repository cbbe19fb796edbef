"""Rectification: a photo or scan of a printed page turned into a square-on, upright page.

``image -> find_page (the sheet against the desk) -> rectify_page (homography) -> quarter_turns
(traces horizontal)``. The grid stage then measures the remaining small rotation and the pitch
along rows and cols separately, so the rectified page need not have the paper's aspect ratio.
Which way up a turned page goes is decided by the calibration pulses in the pipeline (an
upside-down page has none standing on its rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ecgtrace.rectify.orient import quarter_turns
from ecgtrace.rectify.page import PageQuad, find_page, rectify_page

__all__ = ["PageQuad", "Rectification", "find_page", "quarter_turns", "rectify", "rectify_page"]


@dataclass(frozen=True)
class Rectification:
    """What was done to the input before the grid was looked for.

    ``corners`` (4, 2) (row, col) px of the sheet in the input (top-left, top-right,
    bottom-right, bottom-left as seen), or None where the page filled the frame; ``turns`` the
    counter-clockwise quarter turns applied after it (0-3); ``input_shape`` (rows, cols) px.
    """

    input_shape: tuple[int, int]
    corners: NDArray[np.float64] | None = field(default=None)
    turns: int = 0

    @property
    def cropped(self) -> bool:
        return self.corners is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "input_shape": list(self.input_shape),
            "page_corners_rc": None if self.corners is None else self.corners.round(1).tolist(),
            "quarter_turns": self.turns,
        }


def rectify(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], Rectification]:
    """The sheet in an RGB (rows, cols, 3) uint8 ``image`` cut out square-on and turned so its
    traces run along rows: (the new image, what was done). A page filling the frame is only
    turned (if its traces run along cols); an upright one is returned as it is."""
    shape = (int(image.shape[0]), int(image.shape[1]))
    quad = find_page(image)
    corners = None
    if quad is not None:
        image, _ = rectify_page(image, quad)
        corners = quad.corners
    turns = quarter_turns(image)
    if turns:
        image = np.ascontiguousarray(np.rot90(image, turns))
    return image, Rectification(input_shape=shape, corners=corners, turns=turns)
