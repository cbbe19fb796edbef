"""Degradations of a rendered page: what printing, handling, scanning and photographing do.

Each is a seeded function ``f(page, *, strength, rng) -> page`` with ``strength`` in [0, 1]
(0 leaves the page as it is); geometric ones move the truth with the image. :func:`apply` runs
several in the order they would happen to real paper, :func:`random_degradations` draws a mix.
The degradations live in :mod:`.paper` (the sheet), :mod:`.geometric` (moves) and
:mod:`.photometric` (optics, sensor, file); all are reachable from here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecgtrace.render._degradation import Degradation, Rng
from ecgtrace.render.geometric import curl, downscale, perspective, rotate
from ecgtrace.render.paper import creases, paper_texture, stains, strokes
from ecgtrace.render.photometric import (
    binarise,
    colour_cast,
    faded,
    gaussian_blur,
    jpeg,
    motion_blur,
    sensor_noise,
    shading,
)
from ecgtrace.render.truth import Rendered

__all__ = [
    "DEGRADATIONS",
    "GEOMETRIC",
    "Degradation",
    "Rng",
    "apply",
    "binarise",
    "colour_cast",
    "creases",
    "curl",
    "downscale",
    "faded",
    "gaussian_blur",
    "jpeg",
    "motion_blur",
    "paper_texture",
    "perspective",
    "random_degradations",
    "rotate",
    "sensor_noise",
    "shading",
    "stains",
    "strokes",
]

# What happens to paper, in order: the sheet, then the camera or scanner, then the file.
DEGRADATIONS: dict[str, Degradation] = {
    "paper_texture": paper_texture,
    "stains": stains,
    "strokes": strokes,
    "creases": creases,
    "faded": faded,
    "curl": curl,
    "rotate": rotate,
    "perspective": perspective,
    "shading": shading,
    "colour_cast": colour_cast,
    "gaussian_blur": gaussian_blur,
    "motion_blur": motion_blur,
    "sensor_noise": sensor_noise,
    "downscale": downscale,
    "jpeg": jpeg,
    "binarise": binarise,
}
GEOMETRIC: frozenset[str] = frozenset({"curl", "rotate", "perspective", "downscale"})


def apply(
    page: Rendered, names: Sequence[str], *, strength: float = 1.0, rng: Rng = None
) -> Rendered:
    """Apply the named degradations in the order they would happen to paper."""
    unknown = [n for n in names if n not in DEGRADATIONS]
    if unknown:
        raise ValueError(
            f"unknown degradation {unknown[0]!r}; choose from {', '.join(DEGRADATIONS)}"
        )
    rng = np.random.default_rng(rng)
    for name in DEGRADATIONS:
        if name in names:
            page = DEGRADATIONS[name](page, strength=strength, rng=rng)
    return page


def random_degradations(
    page: Rendered,
    *,
    strength: float = 1.0,
    rng: Rng = None,
    p: float = 0.3,
    exclude: frozenset[str] = frozenset(),
) -> tuple[Rendered, tuple[str, ...]]:
    """Each degradation (but those in ``exclude``) with probability ``p``, random strength.

    Strengths are drawn up to ``strength``. Binarisation is rarer (it replaces colour);
    returns the page and the names applied.
    """
    rng = np.random.default_rng(rng)
    draws = {n: rng.random() for n in DEGRADATIONS}  # drawn for all: same stream either way
    chosen = tuple(
        n for n in DEGRADATIONS if n not in exclude and draws[n] < (p / 3 if n == "binarise" else p)
    )
    for name in chosen:
        page = DEGRADATIONS[name](page, strength=float(rng.uniform(0.2, 1.0)) * strength, rng=rng)
    return page, chosen
