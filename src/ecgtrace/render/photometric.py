"""Photometric degradations of the camera or scanner and of the file: blur, noise, JPEG,
shading, colour casts, fading, binarisation. The truth is left as it is."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from ecgtrace.render._degradation import Rng, as_u8, degradation, mean_px_per_mm, with_image
from ecgtrace.render.truth import Rendered


@degradation
def gaussian_blur(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Out of focus: a Gaussian of sigma up to 0.15 mm x strength."""
    rng = np.random.default_rng(rng)
    sigma = max(0.3, strength * 0.15 * mean_px_per_mm(page) * rng.uniform(0.5, 1.0))
    return replace(page, image=as_u8(cv2.GaussianBlur(page.image, (0, 0), sigma)))


@degradation
def motion_blur(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """A shaken camera: a line kernel up to 0.5 mm long x strength, at a random angle."""
    rng = np.random.default_rng(rng)
    half = max(1, round(strength * 0.25 * mean_px_per_mm(page) * rng.uniform(0.5, 1.0)))
    k = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
    a = rng.uniform(0, np.pi)
    for t in np.linspace(-half, half, 4 * half + 1):
        k[round(half + t * math.sin(a)), round(half + t * math.cos(a))] = 1.0
    return replace(page, image=as_u8(cv2.filter2D(page.image, -1, k / k.sum())))


@degradation
def sensor_noise(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Grain: Gaussian noise of up to 14 grey levels x strength, partly shared by the channels."""
    rng = np.random.default_rng(rng)
    sd = 14.0 * strength * rng.uniform(0.5, 1.0)
    shape = page.image.shape
    luma = rng.standard_normal(shape[:2], dtype=np.float32)[..., None]
    chroma = rng.standard_normal(shape, dtype=np.float32)
    return with_image(page, page.image + sd * (0.8 * luma + 0.6 * chroma))


@degradation
def jpeg(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """JPEG compression at quality 95 - 85 x strength."""
    rng = np.random.default_rng(rng)
    quality = int(np.clip(95 - 85 * strength * rng.uniform(0.6, 1.0), 5, 95))
    ok, buf = cv2.imencode(".jpg", page.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = as_u8(cv2.imdecode(buf, cv2.IMREAD_COLOR))
    return replace(page, image=np.ascontiguousarray(decoded[..., ::-1]))


@degradation
def shading(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Scanner shading (a light gradient across the page) and lens vignetting."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    r = np.linspace(-1, 1, rows, dtype=np.float32)[:, None]
    c = np.linspace(-1, 1, cols, dtype=np.float32)[None, :]
    a = rng.uniform(0, 2 * np.pi)
    gradient = 1.0 - 0.25 * strength * rng.uniform(0.3, 1.0) * (
        0.5 + 0.5 * (r * np.sin(a) + c * np.cos(a))
    )
    vignette = 1.0 - 0.35 * strength * rng.uniform(0.3, 1.0) * (r**2 + c**2) / 2
    return with_image(page, page.image * (gradient * vignette)[..., None])


@degradation
def colour_cast(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Tinted light or yellowed paper: per-channel gains and offsets."""
    rng = np.random.default_rng(rng)
    gains = 1.0 - strength * rng.uniform(0.0, 0.25, size=3)
    offsets = strength * rng.uniform(-15, 15, size=3)
    return with_image(page, page.image * gains.astype(np.float32) + offsets.astype(np.float32))


@degradation
def faded(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Low contrast and faded ink: everything pulled towards the paper, with a gamma."""
    rng = np.random.default_rng(rng)
    keep = 1.0 - 0.65 * strength * rng.uniform(0.5, 1.0)
    paper = np.asarray(page.truth.spec.grid.paper_colour, np.float32)
    img = paper - (paper - page.image.astype(np.float32)) * keep
    gamma = 1.0 + strength * rng.uniform(-0.3, 0.3)
    return with_image(page, 255.0 * (np.clip(img, 0, 255) / 255.0) ** gamma)


@degradation
def binarise(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """A black-and-white scan: grey levels thresholded near Otsu's threshold."""
    rng = np.random.default_rng(rng)
    grey = cv2.cvtColor(page.image, cv2.COLOR_RGB2GRAY)
    otsu, _ = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thr = otsu * (1.0 + strength * rng.uniform(-0.15, 0.15))
    bw = np.where(grey > thr, 255, 0).astype(np.uint8)
    return replace(page, image=np.repeat(bw[..., None], 3, axis=2))
