"""Frozen dataclasses that cross stage boundaries."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixel coordinates (half-open: rows top..bottom, cols left..right).

    Pixel ``(r, c)`` has its centre at ``(r, c)`` and covers ``[r - 0.5, r + 0.5)``.
    """

    top: float
    left: float
    bottom: float
    right: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def width(self) -> float:
        return self.right - self.left

    def intersects(self, other: Box) -> bool:
        return (
            self.top < other.bottom
            and other.top < self.bottom
            and self.left < other.right
            and other.left < self.right
        )

    def slices(self, shape: tuple[int, ...]) -> tuple[slice, slice]:
        """Integer row and column slices of the pixels whose centres lie in the box, clipped."""
        r0 = max(0, math.ceil(self.top))
        c0 = max(0, math.ceil(self.left))
        r1 = min(shape[0], math.ceil(self.bottom))
        c1 = min(shape[1], math.ceil(self.right))
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))

    def as_list(self) -> list[float]:
        return [self.top, self.left, self.bottom, self.right]
