"""The classical, non-learned segmenter: colour and intensity thresholding with grid removal.

The seed paper's baseline, made with care: ECG ink is dark and unsaturated while grids are
light or coloured, so darkness is measured on the brightest channel (a red grid line is bright
in red, a black trace in none); the page's uneven lighting is divided out with a local
background estimate; a threshold between paper and ink (Otsu on the normalised darkness, kept
above the grid's level) separates ink; thin long straight lines the width of a grid line and
specks are removed. It cannot tell one lead's trace from its neighbour's: the extractor's path
finding, drawn to the crop's centre, has to.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray


def darkness(image: NDArray[np.uint8], *, background_px: int = 31) -> NDArray[np.float32]:
    """(rows, cols) float32 in [0, 1]: how much darker than its surroundings each pixel is.

    ``image`` is (rows, cols, 3) RGB uint8. The brightest channel makes coloured grid lines
    nearly as light as paper; dividing by a local maximum (the paper around) removes shading.
    """
    bright = image.max(axis=2).astype(np.float32) if image.ndim == 3 else image.astype(np.float32)
    k = max(3, background_px | 1)
    paper = cv2.dilate(bright, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    paper = cv2.blur(paper, (k, k))
    return np.clip(1.0 - bright / np.maximum(paper, 1.0), 0.0, 1.0).astype(np.float32)


def _remove_grid_lines(ink: NDArray[np.uint8], *, line_px: int, thin_px: int) -> NDArray[np.uint8]:
    """Drop long, thin, exactly horizontal or vertical lines (a grid that survived the colour)."""
    out = ink.copy()
    for shape in ((1, line_px), (line_px, 1)):
        lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones(shape, np.uint8))
        # Only thin lines: a trace's flat stretch is thicker than a grid line.
        thick_shape = (thin_px + 1, 1) if shape[0] == 1 else (1, thin_px + 1)
        thick = cv2.morphologyEx(lines, cv2.MORPH_OPEN, np.ones(thick_shape, np.uint8))
        out[(lines > 0) & (thick == 0)] = 0
    return out


def segment_classical(
    image: NDArray[np.uint8],
    *,
    px_per_mm: float,
    softness: float = 0.04,
) -> NDArray[np.float32]:
    """Trace probability (rows, cols) float32 in [0, 1] of an RGB crop (rows, cols, 3) uint8.

    ``px_per_mm`` sets the sizes: background window (4 mm), grid-line length (3 mm) and
    width (0.15 mm), specks (0.05 mm^2). ``softness`` widens the threshold into a ramp so the
    extractor's centroids keep sub-pixel detail.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image (rows, cols, 3), got shape {image.shape}")
    d = darkness(image, background_px=round(4 * px_per_mm))
    sample = d[d > 0.05]
    if sample.size < 10:
        return np.zeros(d.shape, np.float32)
    # Otsu on the dark tail, but never below the grid's own darkness (its 90th percentile).
    hist_img = np.clip(d * 255, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(hist_img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thr = max(otsu / 255.0, float(np.percentile(d, 90)) + 0.05, 0.2)
    prob = 1.0 / (1.0 + np.exp(-(d - thr) / softness))
    ink = (prob >= 0.5).astype(np.uint8)
    cleaned = _remove_grid_lines(
        ink, line_px=max(5, round(3 * px_per_mm)), thin_px=max(1, round(0.15 * px_per_mm))
    )
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cleaned, connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] < max(2, round(0.05 * px_per_mm**2))
    small[0] = False
    keep = (cleaned > 0) & ~small[labels]
    return np.where(keep, prob, np.minimum(prob, 0.49)).astype(np.float32)
