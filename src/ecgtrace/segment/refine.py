"""Sharpen a low-resolution trace probability with the image's own ink at full resolution.

The U-Net works at 4 px/mm: it knows *which* ink is the lead's, but its map, resized back to a
200-600 DPI crop, is a blurred band. The classical segmenter's ink map is sharp but cannot tell
one lead's trace from another's. Their product keeps the best of each: the ink pixels the
U-Net claims for the lead.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def refine_with_ink(
    prob: NDArray[np.float32], ink: NDArray[np.float32], *, gate: float = 0.5
) -> NDArray[np.float32]:
    """The ink (rows, cols) in [0, 1] where ``prob`` (rows, cols) >= ``gate``, else 0.

    Columns where no gated pixel reaches 0.5 (ink too faint for the threshold, a pen stroke
    over the trace) keep ``prob`` as it is, so the trace is not cut where the ink map fails.
    """
    if prob.shape != ink.shape:
        raise ValueError(f"prob {prob.shape} and ink {ink.shape} differ in shape")
    out = np.where(prob >= gate, ink, 0.0).astype(np.float32)
    empty = ~(out >= 0.5).any(axis=0)
    out[:, empty] = prob[:, empty]
    return out
