"""Black-and-white scans: halftone dots turned back into grey before anything else looks.

A B/W scanner (or fax) prints grey as dots: a light grid becomes sparse dots of the trace's own
colour, a pen's soft edges a hatched fringe. Blurring over about a dither cell (descreening, as
printers' software does) gives back grey levels: the grid light, the trace dark, so the later
stages see an ordinary grey scan.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

_STRIDE = 5  # sampling stride: prime to the 8 px dither tiles, so every phase is seen
_CHROMA = 40  # a 99th-percentile channel spread above this (0-255) is a colour image
_PAPER = 200  # grey levels below this are printed
_BLACK = 100  # and below this black
_BW_SHARE = 0.4  # this share of the printed pixels black makes a page black-and-white
_WINDOW = 512  # half the side (px) of the central window the dots are counted in
_ISOLATED = 0.1  # this share of black pixels standing alone makes a halftone
_DESCREEN_SIGMA_PX = 1.2  # Gaussian blur (px): enough to merge dither dots, not thin pens away


def black_and_white(image: NDArray[np.uint8]) -> bool:
    """Whether an RGB (rows, cols, 3) or grey uint8 image is a black-and-white (thresholded or
    dithered) scan: no colour, and what is printed is nearly all black."""
    sample = np.asarray(image)[::_STRIDE, ::_STRIDE].astype(np.int16)
    if sample.ndim == 3:
        if np.percentile(sample.max(axis=2) - sample.min(axis=2), 99) > _CHROMA:
            return False
        sample = sample.mean(axis=2)
    printed = sample < _PAPER
    return bool(printed.any()) and float(np.mean(sample[printed] < _BLACK)) >= _BW_SHARE


def halftone(image: NDArray[np.uint8]) -> bool:
    """Whether a B/W ``image`` (see :func:`black_and_white`) prints grey as dots: many of its
    black pixels (in a central window, at full resolution) stand alone (<= 2 black neighbours)
    where strokes and thresholded lines have runs of neighbours."""
    if not black_and_white(image):
        return False
    rows, cols = image.shape[:2]
    r0, c0 = max(0, rows // 2 - _WINDOW), max(0, cols // 2 - _WINDOW)
    win = np.asarray(image)[r0 : r0 + 2 * _WINDOW, c0 : c0 + 2 * _WINDOW]
    grey = win.mean(axis=2) if win.ndim == 3 else win
    black = (grey < 128).astype(np.float32)
    if not black.any():
        return False
    neighbours = cv2.filter2D(black, -1, np.ones((3, 3), np.float32),
                              borderType=cv2.BORDER_CONSTANT) - black  # fmt: skip
    return float(np.mean(neighbours[black > 0] <= 2)) >= _ISOLATED


def descreen(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``image`` (rows, cols[, 3]) uint8 blurred over a dither cell: halftone back to grey."""
    out = cv2.GaussianBlur(image, (0, 0), _DESCREEN_SIGMA_PX)
    return np.asarray(out, dtype=np.uint8)
