"""Degradations of a rendered page: what printing, handling, scanning and photographing do.

Each is a seeded function ``f(page, *, strength, rng) -> page`` with ``strength`` in [0, 1]
(0 leaves the page as it is); geometric ones move the truth with the image. :func:`apply` runs
several in the order they would happen to real paper, :func:`random_degradations` draws a mix.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.render.truth import Rendered
from ecgtrace.render.warp import homography_map, warp_page, warp_truth

Rng = int | np.random.Generator | None
Degradation = Callable[..., Rendered]


def _degradation(func: Degradation) -> Degradation:
    """Check ``strength`` and make 0 the identity, for every degradation alike."""

    @functools.wraps(func)
    def wrapper(page: Rendered, *, strength: float = 1.0, **kwargs: Any) -> Rendered:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"{func.__name__}: strength must be in [0, 1], got {strength}")
        if strength == 0.0 and not (set(kwargs) & {"degrees", "factor"}):
            return page
        return func(page, strength=strength, **kwargs)

    return wrapper


def _u8(image: Any) -> NDArray[np.uint8]:
    return np.asarray(image, dtype=np.uint8)


def _with_image(page: Rendered, image: NDArray) -> Rendered:
    return replace(page, image=np.clip(np.round(image), 0, 255).astype(np.uint8))


def _ppm(page: Rendered) -> float:
    return 0.5 * (page.truth.px_per_mm_row + page.truth.px_per_mm_col)


def _smooth_field(
    shape: tuple[int, int], scale_px: float, rng: np.random.Generator
) -> NDArray[np.float32]:
    """(rows, cols) float32 smooth random field, zero mean, unit std, features of ~scale_px."""
    small = (max(2, round(shape[0] / scale_px) + 2), max(2, round(shape[1] / scale_px) + 2))
    noise = rng.standard_normal(small).astype(np.float32)
    field = cv2.resize(noise, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-6)


# ---- geometric -------------------------------------------------------------------------------


def _rotation_rc(angle_deg: float, centre: tuple[float, float]) -> NDArray[np.float64]:
    """3x3 on (row, col, 1): counter-clockwise rotation (as displayed) about ``centre``."""
    a = math.radians(angle_deg)
    cos, sin = math.cos(a), math.sin(a)
    cr, cc = centre
    # Rows grow downwards: a point right of the centre (0, +1) goes up to (-sin, cos).
    rot = np.array([[cos, -sin], [sin, cos]])
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = np.array([cr, cc]) - rot @ np.array([cr, cc])
    return m


@_degradation
def rotate(
    page: Rendered, *, strength: float = 1.0, rng: Rng = None, degrees: float | None = None
) -> Rendered:
    """Turn the page up to +-10 deg x strength (or exactly ``degrees``); counter-clockwise > 0."""
    rng = np.random.default_rng(rng)
    angle = degrees if degrees is not None else float(rng.uniform(-10, 10) * strength)
    rows, cols = page.truth.shape
    h = _rotation_rc(angle, ((rows - 1) / 2, (cols - 1) / 2))
    return warp_page(page, homography_map(h), homography_map(np.linalg.inv(h)), rotation_deg=angle)


@_degradation
def perspective(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """A camera not square to the page: corners moved by up to 6 % of the page x strength."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    src = np.array([[0, 0], [0, cols - 1], [rows - 1, cols - 1], [rows - 1, 0]], np.float64)
    jitter = rng.uniform(-1, 1, size=(4, 2)) * 0.06 * strength * np.array([rows, cols])
    dst = src + jitter
    # cv2 solves in (x, y): swap to (col, row) and back by conjugating with the swap matrix.
    h_xy = cv2.getPerspectiveTransform(
        src[:, ::-1].astype(np.float32), dst[:, ::-1].astype(np.float32)
    )
    swap = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float64)
    h = swap @ h_xy @ swap
    return warp_page(page, homography_map(h), homography_map(np.linalg.inv(h)))


@_degradation
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


@_degradation
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

    image = _u8(cv2.resize(page.image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA))
    truth = warp_truth(page.truth, forward, inverse, shape, scale_hint=min(sr, sc))
    return Rendered(image=image, truth=truth)


# ---- optics and sensor -----------------------------------------------------------------------


@_degradation
def gaussian_blur(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Out of focus: a Gaussian of sigma up to 0.15 mm x strength."""
    rng = np.random.default_rng(rng)
    sigma = max(0.3, strength * 0.15 * _ppm(page) * rng.uniform(0.5, 1.0))
    return replace(page, image=_u8(cv2.GaussianBlur(page.image, (0, 0), sigma)))


@_degradation
def motion_blur(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """A shaken camera: a line kernel up to 0.5 mm long x strength, at a random angle."""
    rng = np.random.default_rng(rng)
    half = max(1, round(strength * 0.25 * _ppm(page) * rng.uniform(0.5, 1.0)))
    k = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
    a = rng.uniform(0, np.pi)
    for t in np.linspace(-half, half, 4 * half + 1):
        k[round(half + t * math.sin(a)), round(half + t * math.cos(a))] = 1.0
    return replace(page, image=_u8(cv2.filter2D(page.image, -1, k / k.sum())))


@_degradation
def sensor_noise(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Grain: Gaussian noise of up to 14 grey levels x strength, partly shared by the channels."""
    rng = np.random.default_rng(rng)
    sd = 14.0 * strength * rng.uniform(0.5, 1.0)
    shape = page.image.shape
    luma = rng.standard_normal(shape[:2], dtype=np.float32)[..., None]
    chroma = rng.standard_normal(shape, dtype=np.float32)
    return _with_image(page, page.image + sd * (0.8 * luma + 0.6 * chroma))


@_degradation
def jpeg(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """JPEG compression at quality 95 - 85 x strength."""
    rng = np.random.default_rng(rng)
    quality = int(np.clip(95 - 85 * strength * rng.uniform(0.6, 1.0), 5, 95))
    ok, buf = cv2.imencode(".jpg", page.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = _u8(cv2.imdecode(buf, cv2.IMREAD_COLOR))
    return replace(page, image=np.ascontiguousarray(decoded[..., ::-1]))


@_degradation
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
    return _with_image(page, page.image * (gradient * vignette)[..., None])


@_degradation
def colour_cast(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Tinted light or yellowed paper: per-channel gains and offsets."""
    rng = np.random.default_rng(rng)
    gains = 1.0 - strength * rng.uniform(0.0, 0.25, size=3)
    offsets = strength * rng.uniform(-15, 15, size=3)
    return _with_image(page, page.image * gains.astype(np.float32) + offsets.astype(np.float32))


@_degradation
def faded(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Low contrast and faded ink: everything pulled towards the paper, with a gamma."""
    rng = np.random.default_rng(rng)
    keep = 1.0 - 0.65 * strength * rng.uniform(0.5, 1.0)
    paper = np.asarray(page.truth.spec.grid.paper_colour, np.float32)
    img = paper - (paper - page.image.astype(np.float32)) * keep
    gamma = 1.0 + strength * rng.uniform(-0.3, 0.3)
    return _with_image(page, 255.0 * (np.clip(img, 0, 255) / 255.0) ** gamma)


# ---- the paper itself ------------------------------------------------------------------------


@_degradation
def paper_texture(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Fibres and uneven paper: low-frequency blotches plus fine grain."""
    rng = np.random.default_rng(rng)
    shape = page.truth.shape
    coarse = _smooth_field(shape, 40 * _ppm(page) / 8, rng)
    fine = _smooth_field(shape, 2.0, rng)
    tone = 1.0 + strength * (0.04 * coarse + 0.03 * fine)
    return _with_image(page, page.image * tone[..., None])


@_degradation
def creases(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Folds (long straight lines with a light and a dark side) and fine wrinkles."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
    tone = np.ones((rows, cols), np.float32)
    for _ in range(rng.integers(1, 4)):
        a = rng.uniform(0, np.pi)
        r0, c0 = rng.uniform(0, rows), rng.uniform(0, cols)
        d = (rr - r0) * np.cos(a) - (cc - c0) * np.sin(a)
        width = rng.uniform(1.0, 3.0) * _ppm(page) / 8
        tone -= 0.25 * strength * np.exp(-((d / width) ** 2)) * np.sign(d + 1e-3) * 0.5
        tone -= 0.12 * strength * np.exp(-((d / (4 * width)) ** 2))
    # Wrinkles: short wandering creases, faint.
    wrinkle = np.zeros((rows, cols), np.float32)
    for _ in range(rng.integers(3, 12)):
        steps = rng.normal(0, 0.3, size=40).cumsum() + rng.uniform(0, 2 * np.pi)
        step = rng.uniform(0.5, 1.5) * _ppm(page)
        path = np.cumsum(np.stack([np.sin(steps), np.cos(steps)], axis=1) * step, axis=0)
        path += (rng.uniform(0, rows), rng.uniform(0, cols))
        cv2.polylines(
            wrinkle, [np.round(path[:, ::-1] * 16).astype(np.int32)], False, 1.0, 1,
            cv2.LINE_AA, shift=4,
        )  # fmt: skip
    tone -= 0.15 * strength * cv2.GaussianBlur(wrinkle, (0, 0), 1.0)
    return _with_image(page, page.image * np.clip(tone, 0.3, 1.2)[..., None])


@_degradation
def stains(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Coffee rings and water marks: soft tinted blobs over everything."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    layer = np.zeros((rows, cols), np.float32)
    for _ in range(rng.integers(1, 5)):
        centre = (int(rng.uniform(0, cols)), int(rng.uniform(0, rows)))
        axes = (int(rng.uniform(0.03, 0.15) * cols), int(rng.uniform(0.03, 0.15) * rows))
        ring = rng.random() < 0.5
        cv2.ellipse(
            layer, centre, axes, rng.uniform(0, 180), 0, 360, 1.0,
            thickness=max(2, axes[0] // 12) if ring else -1,
        )  # fmt: skip
    layer = np.asarray(cv2.GaussianBlur(layer, (0, 0), max(2.0, 0.01 * cols)), np.float32)
    # Brown: the stain takes blue first, then green, then a little red.
    tint = np.array([0.15, 0.35, 0.7], np.float32) * np.float32(rng.uniform(0.6, 1.0))
    mult = 1.0 - strength * 0.6 * layer[..., None] * tint
    return _with_image(page, page.image * mult)


@_degradation
def strokes(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Handwriting-like pen strokes and stamps, some over the traces."""
    rng = np.random.default_rng(rng)
    img = page.image.copy()
    ppm = _ppm(page)
    segs = page.truth.segments
    n = max(1, round(strength * rng.integers(2, 7)))
    for _ in range(n):
        if segs and rng.random() < 0.7:  # over a trace
            seg = segs[rng.integers(len(segs))]
            ok = np.all(np.isfinite(seg.polyline), axis=1)
            anchor = seg.polyline[ok][rng.integers(ok.sum())] if ok.any() else (0.0, 0.0)
        else:
            anchor = (rng.uniform(0, img.shape[0]), rng.uniform(0, img.shape[1]))
        colour = [(20, 40, 160), (30, 30, 30), (170, 30, 40)][rng.integers(3)]
        if rng.random() < 0.7:
            # A scribble: a smooth random walk, like a word or a circled complex.
            t = np.linspace(0, 1, 60)
            length = rng.uniform(8, 30) * ppm
            ang = rng.uniform(0, 2 * np.pi)
            wig = rng.uniform(1.5, 4) * ppm
            pts = np.stack(
                [
                    anchor[0]
                    + t * length * np.sin(ang)
                    + wig * np.sin(2 * np.pi * t * rng.uniform(3, 8)),
                    anchor[1]
                    + t * length * np.cos(ang)
                    + wig * np.cos(2 * np.pi * t * rng.uniform(3, 8)),
                ],
                axis=1,
            )
            xy = np.round(pts[:, ::-1] * 16).astype(np.int32)
            cv2.polylines(
                img, [xy], False, colour, max(1, round(rng.uniform(0.25, 0.6) * ppm)),
                cv2.LINE_AA, shift=4,
            )  # fmt: skip
        else:
            # A stamp: a ring or a frame with text, semi-transparent.
            layer = img.copy()
            centre = (round(anchor[1]), round(anchor[0]))
            radius = round(rng.uniform(6, 14) * ppm)
            thick = max(1, round(0.5 * ppm))
            if rng.random() < 0.5:
                cv2.circle(layer, centre, radius, colour, thick, cv2.LINE_AA)
            else:
                cv2.rectangle(
                    layer,
                    (centre[0] - 2 * radius, centre[1] - radius),
                    (centre[0] + 2 * radius, centre[1] + radius),
                    colour,
                    thick,
                    cv2.LINE_AA,
                )
            cv2.putText(
                layer, "CHECKED", (centre[0] - radius, centre[1]), cv2.FONT_HERSHEY_DUPLEX,
                radius / 40, colour, thick, cv2.LINE_AA,
            )  # fmt: skip
            alpha = rng.uniform(0.4, 0.8)
            img = _u8(cv2.addWeighted(layer, alpha, img, 1 - alpha, 0))
    return replace(page, image=img)


@_degradation
def binarise(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """A black-and-white scan: grey levels thresholded near Otsu's threshold."""
    rng = np.random.default_rng(rng)
    grey = cv2.cvtColor(page.image, cv2.COLOR_RGB2GRAY)
    otsu, _ = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thr = otsu * (1.0 + strength * rng.uniform(-0.15, 0.15))
    bw = np.where(grey > thr, 255, 0).astype(np.uint8)
    return replace(page, image=np.repeat(bw[..., None], 3, axis=2))


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
