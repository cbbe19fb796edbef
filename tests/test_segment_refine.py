"""Refining a coarse trace probability with full-resolution ink."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace.segment import refine_with_ink


def test_refine_keeps_the_claimed_ink_only() -> None:
    ink = np.zeros((20, 30), np.float32)
    ink[5, :] = 1.0  # the lead's trace, one pixel thick
    ink[15, :] = 1.0  # a neighbour's trace
    coarse = np.zeros_like(ink)
    coarse[3:8, :] = 0.8  # the U-Net's blurred band around its lead
    coarse[3:8, 20:] = 0.8
    ink[5, 25:] = 0.2  # ink too faint there: those columns keep the coarse map
    out = refine_with_ink(coarse, ink)
    assert np.array_equal(out[:, :25] >= 0.5, np.pad(np.ones((1, 25), bool), ((5, 14), (0, 0))))
    assert np.array_equal(out[:, 25:], coarse[:, 25:])
    assert not (out[15] > 0).any()
    with pytest.raises(ValueError, match="differ in shape"):
        refine_with_ink(coarse, ink[:10])
