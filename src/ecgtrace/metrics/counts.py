"""Mask scores from pixel counts: counting (:func:`confusion`) is kept apart from scoring
(:func:`iou`, :func:`dice`), so that counts can be added up over a data set first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class Counts:
    """Pixel counts of a predicted mask against a true mask; ``Counts()`` is the zero."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: Counts) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(
            tp=self.tp + other.tp,
            fp=self.fp + other.fp,
            fn=self.fn + other.fn,
            tn=self.tn + other.tn,
        )

    def __radd__(self, other: int) -> Counts:
        # Lets the builtin sum() start from its default 0.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented


def confusion(pred: ArrayLike, true: ArrayLike) -> Counts:
    """Count agreement of two masks of the same shape (any shape; non-zero means foreground).

    Raises ``ValueError`` when the shapes differ.
    """
    p = np.asarray(pred).astype(bool)
    t = np.asarray(true).astype(bool)
    if p.shape != t.shape:
        raise ValueError(f"mask shapes differ: pred {p.shape} vs true {t.shape}")
    return Counts(
        tp=int(np.count_nonzero(p & t)),
        fp=int(np.count_nonzero(p & ~t)),
        fn=int(np.count_nonzero(~p & t)),
        tn=int(np.count_nonzero(~p & ~t)),
    )


def iou(counts: Counts) -> float:
    """Intersection over union ``tp / (tp + fp + fn)``; NaN when both masks are empty."""
    den = counts.tp + counts.fp + counts.fn
    return counts.tp / den if den > 0 else float("nan")


def dice(counts: Counts) -> float:
    """Dice (F1) ``2 tp / (2 tp + fp + fn)``; NaN when both masks are empty."""
    den = 2 * counts.tp + counts.fp + counts.fn
    return 2 * counts.tp / den if den > 0 else float("nan")
