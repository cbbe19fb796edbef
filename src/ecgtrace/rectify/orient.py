"""Which way up the page is: quarter turns from the direction of the traces.

ECG traces run along time, so an upright page's ink, projected along its cols, gathers in a
few trace rows (a peaked profile), while its projection along rows is nearly flat. The grid is
the same both ways and drops out of the comparison once each profile is smoothed over more than
a grid period. A page turned by a quarter shows the opposite. Upside-down pages are told by the
calibration pulses later (:mod:`ecgtrace.layout`), not here.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.rectify.page import shrink
from ecgtrace.segment.classical import darkness

_WORK_PX = 800  # the long side of the copy the profiles are taken on
_SMOOTH = 0.025  # profiles are smoothed over this share of their length (> a 5 mm period)
_CLEAR_ASPECT = 0.3  # |mean log(width / height)| of the strokes that decides alone
_INK = 0.5  # share of the darkest ink's darkness above which a pixel is ink (stroke shapes)
_INK_MIN = 0.08  # and never below this darkness
_MIN_STROKE = 0.0005  # strokes smaller than this share of the image are text or noise


def _peakedness(profile: NDArray[np.float64]) -> float:
    """The coefficient of variation of a smoothed profile (its middle 90 %: no page edges)."""
    n = profile.size
    k = max(3, round(_SMOOTH * n))
    smooth = np.convolve(profile, np.ones(k) / k, mode="valid")
    cut = max(1, smooth.size // 20)
    core = smooth[cut:-cut] if smooth.size > 4 * cut else smooth
    return float(core.std() / max(core.mean(), 1e-9))


def _darkness(image: NDArray[np.uint8]) -> NDArray[np.float32]:
    small, _ = shrink(image, _WORK_PX)
    return darkness(small, background_px=max(15, round(0.03 * max(small.shape[:2]))))


def trace_axis_scores(dark: NDArray[np.float32]) -> tuple[float, float]:
    """(upright, turned): how peaked a (rows, cols) darkness map's profile across rows and
    across cols is; the larger tells which axis the traces run along."""
    return _peakedness(dark.sum(axis=1, dtype=np.float64)), _peakedness(
        dark.sum(axis=0, dtype=np.float64)
    )


def stroke_aspect(dark: NDArray[np.float32]) -> float | None:
    """The ink-weighted mean log(width / height) of the large connected strokes of a darkness
    map: > 0 where strokes run along rows; None where there are none."""
    # Thin pens come out light on the small copy: the threshold follows the darkest ink, and a
    # 3x3 dilation rejoins strokes the downscaling broke.
    level = float(np.percentile(dark, 99.5))
    ink = (dark > max(_INK_MIN, _INK * level)).astype(np.uint8)
    ink = np.asarray(cv2.dilate(ink, np.ones((3, 3), np.uint8)), np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    stats = stats[1:]
    big = stats[stats[:, 4] > _MIN_STROKE * ink.size]
    if big.size == 0:
        return None
    area = big[:, 4].astype(np.float64)
    return float((np.log(big[:, 2] / big[:, 3]) * area).sum() / area.sum())


def quarter_turns(image: NDArray[np.uint8]) -> int:
    """0 for an upright (or upside-down) RGB (rows, cols, 3) uint8 page, 1 where turning it
    counter-clockwise by 90 deg (``np.rot90(image, 1)``) brings its traces horizontal."""
    dark = _darkness(image)
    aspect = stroke_aspect(dark)
    if aspect is not None and abs(aspect) >= _CLEAR_ASPECT:
        return int(aspect < 0)
    upright, turned = trace_axis_scores(dark)
    return int(turned > upright)
