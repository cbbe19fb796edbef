"""Rectification: a photo or scan of a printed page turned into a square-on, upright, flat page.

``image -> descreen (a B/W scan's halftone back to grey) -> find_page (the sheet on the desk)
-> rectify_page (homography) -> quarter_turns (traces horizontal)``; after the grid stage has
measured and taken out the small rotation, ``fit_mesh``/``unwarp`` remove the smooth non-rigid
rest (curl, lens) from the grid itself.
The grid stage measures the pitch along rows and cols separately, so the rectified page need not
have the paper's aspect ratio. Which way up a turned page goes is decided by the calibration
pulses in the pipeline (an upside-down page has none standing on its rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace._arrays import rotation_rc
from ecgtrace.rectify.ink import black_and_white, descreen, halftone
from ecgtrace.rectify.mesh import Mesh, fit_mesh, unwarp
from ecgtrace.rectify.orient import quarter_turns
from ecgtrace.rectify.page import PageQuad, find_page, rectify_page

__all__ = [
    "Mesh",
    "PageQuad",
    "Rectification",
    "black_and_white",
    "descreen",
    "find_page",
    "fit_mesh",
    "halftone",
    "quarter_turns",
    "rectify",
    "rectify_page",
    "unwarp",
]


def _turn_points(points: NDArray[np.float64], turns: int, shape: tuple[int, int]) -> NDArray:
    """Points of an image of ``shape`` where they lie after ``np.rot90(image, turns)``."""
    rows, cols = shape
    r, c = points[:, 0], points[:, 1]
    turned = {
        0: (r, c),
        1: (cols - 1 - c, r),
        2: (rows - 1 - r, cols - 1 - c),
        3: (c, rows - 1 - r),
    }[turns % 4]
    return np.stack(turned, axis=1)


@dataclass(frozen=True, eq=False)
class Rectification:
    """What was done to the input before the layout was looked for, in order.

    ``corners`` (4, 2) (row, col) px of the sheet in the input (top-left, top-right,
    bottom-right, bottom-left as seen) and ``homography`` (3x3 over (row, col, 1), input to the
    cut-out page of ``page_shape``), or None where the page filled the frame; ``turns``
    counter-clockwise quarter turns; ``rotation_deg`` the deskew (counter-clockwise tilt taken
    out); ``mesh`` the non-rigid unwarp (None if none was needed); ``flipped`` a last half turn
    (the page was upside down).
    """

    input_shape: tuple[int, int]
    page_shape: tuple[int, int]
    corners: NDArray[np.float64] | None = None
    homography: NDArray[np.float64] | None = None
    turns: int = 0
    rotation_deg: float = 0.0
    mesh: Mesh | None = None
    flipped: bool = False
    descreened: bool = False

    @property
    def cropped(self) -> bool:
        return self.corners is not None

    @property
    def turned_shape(self) -> tuple[int, int]:
        rows, cols = self.page_shape
        return (rows, cols) if self.turns % 2 == 0 else (cols, rows)

    def forward(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """(n, 2) (row, col) px of the input to where they lie in the rectified page."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self.homography is not None:
            hom = np.concatenate([p, np.ones((p.shape[0], 1))], axis=1) @ self.homography.T
            p = hom[:, :2] / hom[:, 2:3]
        p = _turn_points(p, self.turns, self.page_shape)
        rows, cols = self.turned_shape
        if self.rotation_deg:
            m = rotation_rc(-self.rotation_deg, ((rows - 1) / 2, (cols - 1) / 2))
            p = p @ m[:2, :2].T + m[:2, 2]
        if self.mesh is not None:
            p = self.mesh.forward(p)
        return _turn_points(p, 2, (rows, cols)) if self.flipped else p

    def as_dict(self) -> dict[str, object]:
        return {
            "input_shape": list(self.input_shape),
            "page_corners_rc": None if self.corners is None else self.corners.round(1).tolist(),
            "quarter_turns": (self.turns + 2 * self.flipped) % 4,
            "deskew_deg": float(self.rotation_deg),
            "mesh_max_shift_px": None if self.mesh is None else self.mesh.max_shift_px,
            "descreened": self.descreened,
        }


def rectify(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], Rectification]:
    """The sheet in an RGB (rows, cols, 3) uint8 ``image`` cut out square-on and turned so its
    traces run along rows: (the new image, what was done). A page filling the frame is only
    turned (if its traces run along cols); an upright one is returned as it is."""
    shape = (int(image.shape[0]), int(image.shape[1]))
    bw = halftone(image)
    if bw:
        image = descreen(image)
    quad = find_page(image)
    corners = homography = None
    if quad is not None:
        image, homography = rectify_page(image, quad)
        corners = quad.corners
    page_shape = (int(image.shape[0]), int(image.shape[1]))
    turns = quarter_turns(image)
    if turns:
        image = np.ascontiguousarray(np.rot90(image, turns))
    rect = Rectification(
        shape, page_shape, corners=corners, homography=homography, turns=turns, descreened=bw
    )
    return image, rect
