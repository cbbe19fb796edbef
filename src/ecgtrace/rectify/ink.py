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
_BW_SHARE = 0.5  # this share of the printed pixels black makes a page black-and-white
_DESCREEN_SIGMA_PX = 2.0  # Gaussian blur over about a dither cell at scanning resolutions


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


def descreen(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``image`` (rows, cols[, 3]) uint8 blurred over a dither cell: halftone back to grey."""
    out = cv2.GaussianBlur(image, (0, 0), _DESCREEN_SIGMA_PX)
    return np.asarray(out, dtype=np.uint8)
