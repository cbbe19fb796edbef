"""Geometric degradations: the page turned, seen at an angle, curled or scanned at fewer
pixels. Each moves the truth with the image (:mod:`ecgtrace.render.warp`)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace._arrays import perspective_rc, rotation_rc
from ecgtrace.render._degradation import Rng, as_u8, degradation
from ecgtrace.render.truth import Rendered
from ecgtrace.render.warp import homography_map, warp_page, warp_truth


@degradation
def rotate(
    page: Rendered, *, strength: float = 1.0, rng: Rng = None, degrees: float | None = None
) -> Rendered:
    """Turn the page up to +-10 deg x strength (or exactly ``degrees``); counter-clockwise > 0."""
    rng = np.random.default_rng(rng)
    angle = degrees if degrees is not None else float(rng.uniform(-10, 10) * strength)
    rows, cols = page.truth.shape
    h = rotation_rc(angle, ((rows - 1) / 2, (cols - 1) / 2))
    return warp_page(page, homography_map(h), homography_map(np.linalg.inv(h)), rotation_deg=angle)


@degradation
def perspective(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """A camera not square to the page: corners moved by up to 6 % of the page x strength."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    src = np.array([[0, 0], [0, cols - 1], [rows - 1, cols - 1], [rows - 1, 0]], np.float64)
    jitter = rng.uniform(-1, 1, size=(4, 2)) * 0.06 * strength * np.array([rows, cols])
    dst = src + jitter
    h = perspective_rc(src, dst)
    return warp_page(page, homography_map(h), homography_map(np.linalg.inv(h)))


@degradation
def curl(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Page curl and waviness: smooth displacements up to ~1.5 % of the page height x strength."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    amp_r = strength * 0.015 * rows * rng.uniform(0.5, 1.0)
    amp_c = strength * 0.006 * cols * rng.uniform(0.0, 1.0)
    freq_r, freq_c = rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)
    ph_r, ph_c = rng.uniform(0, 2 * np.pi, size=2)
    bow = rng.uniform(-1, 1) * strength * 0.01 * rows

    def displacement(q: NDArray[np.float64]) -> NDArray[np.float64]:
        u = q[:, 1] / cols
        v = q[:, 0] / rows
        dr = amp_r * np.sin(2 * np.pi * freq_r * u + ph_r) + bow * (2 * u - 1) ** 2
        dc = amp_c * np.sin(2 * np.pi * freq_c * v + ph_c)
        return np.stack([dr, dc], axis=1)

    def inverse(q: NDArray[np.float64]) -> NDArray[np.float64]:
        return q + displacement(q)

    def forward(p: NDArray[np.float64]) -> NDArray[np.float64]:
        q = p.copy()
        for _ in range(30):  # fixed point of q = p - d(q); d is smooth and small
            q = p - displacement(q)
        return q

    return warp_page(page, forward, inverse)


@degradation
def downscale(
    page: Rendered, *, strength: float = 1.0, rng: Rng = None, factor: float | None = None
) -> Rendered:
    """Fewer pixels, as from a low-DPI scan: scale by 1 - 0.6 x strength (or ``factor``)."""
    rng = np.random.default_rng(rng)
    s = factor if factor is not None else 1.0 - 0.6 * strength * rng.uniform(0.5, 1.0)
    rows, cols = page.truth.shape
    shape = (max(1, round(rows * s)), max(1, round(cols * s)))
    sr, sc = shape[0] / rows, shape[1] / cols

    def forward(p: NDArray[np.float64]) -> NDArray[np.float64]:
        return (p + 0.5) * (sr, sc) - 0.5

    def inverse(q: NDArray[np.float64]) -> NDArray[np.float64]:
        return (q + 0.5) / (sr, sc) - 0.5

    image = as_u8(cv2.resize(page.image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA))
    truth = warp_truth(page.truth, forward, inverse, shape, scale_hint=min(sr, sc))
    return Rendered(image=image, truth=truth)
