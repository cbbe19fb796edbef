"""What every degradation shares: its signature, the strength check, image helpers.

A degradation is a seeded function ``f(page, *, strength, rng) -> page`` with ``strength`` in
[0, 1] (0 leaves the page as it is), made one by :func:`degradation`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.render.truth import Rendered

Rng = int | np.random.Generator | None
Degradation = Callable[..., Rendered]
# Options that fix a degradation's amount outright: with one, strength 0 is no identity.
_EXACT_OPTIONS = frozenset({"degrees", "factor"})


def degradation(func: Degradation) -> Degradation:
    """Check ``strength`` and make 0 the identity, for every degradation alike."""

    @functools.wraps(func)
    def wrapper(page: Rendered, *, strength: float = 1.0, **kwargs: Any) -> Rendered:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"{func.__name__}: strength must be in [0, 1], got {strength}")
        if strength == 0.0 and not (set(kwargs) & _EXACT_OPTIONS):
            return page
        return func(page, strength=strength, **kwargs)

    return wrapper


def as_u8(image: Any) -> NDArray[np.uint8]:
    """OpenCV's result as a uint8 array (its stubs say only "an array")."""
    return np.asarray(image, dtype=np.uint8)


def with_image(page: Rendered, image: NDArray[Any]) -> Rendered:
    """``page`` with a new image: ``image`` (rows, cols, 3) rounded and clipped to uint8."""
    return replace(page, image=np.clip(np.round(image), 0, 255).astype(np.uint8))


def mean_px_per_mm(page: Rendered) -> float:
    """The page's px/mm, rows and cols averaged (for sizes of blurs, strokes, creases)."""
    return 0.5 * (page.truth.px_per_mm_row + page.truth.px_per_mm_col)


def smooth_field(
    shape: tuple[int, int], scale_px: float, rng: np.random.Generator
) -> NDArray[np.float32]:
    """(rows, cols) float32 smooth random field, zero mean, unit std, features of ~scale_px."""
    small = (max(2, round(shape[0] / scale_px) + 2), max(2, round(shape[1] / scale_px) + 2))
    noise = rng.standard_normal(small).astype(np.float32)
    field = cv2.resize(noise, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-6)
