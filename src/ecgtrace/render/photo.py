"""What a phone camera and an office scanner do to a printed page, truth moved with the image.

:func:`on_background` lays the sheet on a desk or cloth and looks at it through a homography
(any turn, quarter turns included, and a camera not square to the page); :func:`lens` bends
straight lines (radial distortion); :func:`cast_shadow`, :func:`glare` and :func:`banding` are
light and printer effects; :func:`dither` is a black-and-white halftone scan. The two recipes
:func:`photo_style` and :func:`scan_style` chain them with the degradations of
:mod:`ecgtrace.render.degrade` as a phone photo and an office scan of a printed page would.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace._arrays import perspective_rc, rotation_rc
from ecgtrace.render._degradation import Rng, as_u8, degradation, smooth_field, with_image
from ecgtrace.render.degrade import GEOMETRIC
from ecgtrace.render.truth import Rendered
from ecgtrace.render.warp import homography_map, remap_image, warp_page, warp_truth

_TURN_P = (0.8, 0.08, 0.04, 0.08)  # quarter turns of a photographed sheet: mostly none
# Surfaces a page is photographed on: (base RGB, texture amplitude, grain direction or None).
_BACKGROUNDS: tuple[tuple[tuple[int, int, int], float, str | None], ...] = (
    ((120, 80, 50), 30.0, "wood"),
    ((165, 125, 85), 25.0, "wood"),
    ((60, 60, 65), 12.0, None),  # dark desk
    ((35, 40, 70), 15.0, None),  # blue cloth
    ((140, 140, 135), 18.0, None),  # grey table
    ((205, 200, 190), 10.0, None),  # light table: little contrast with the paper
)


def _background(shape: tuple[int, int], rng: np.random.Generator) -> NDArray[np.float32]:
    """(rows, cols, 3) float32 surface: a colour with blotches and, for wood, grain."""
    base, amp, kind = _BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))]
    tone = np.asarray(base, np.float32) * rng.uniform(0.8, 1.2, size=3).astype(np.float32)
    field = amp * smooth_field(shape, max(shape) / 12, rng)
    if kind == "wood":
        stretched = smooth_field((shape[0], max(2, shape[1] // 40)), 3.0, rng)
        grain = cv2.resize(stretched, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
        field = field + 0.6 * amp * grain
    fine = 0.25 * amp * smooth_field(shape, 1.5, rng)
    return np.clip(tone[None, None, :] + (field + fine)[..., None], 0, 255)


@degradation
def on_background(
    page: Rendered,
    *,
    strength: float = 1.0,
    rng: Rng = None,
    quarter_turns: int | None = None,
) -> Rendered:
    """The sheet on a desk, photographed: turned by up to +-12 deg x strength plus
    ``quarter_turns`` x 90 deg (drawn: 0 mostly, sometimes 1, 2 or 3), its corners moved by up
    to 7 % x strength (perspective), and 4-15 % of background around it."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    turns = (
        int(rng.choice(4, p=[0.8, 0.08, 0.04, 0.08])) if quarter_turns is None else quarter_turns
    )
    angle = float(rng.uniform(-12, 12) * strength) + 90.0 * (turns % 4)
    turn = rotation_rc(angle, ((rows - 1) / 2, (cols - 1) / 2))
    corners = np.array([[0, 0], [0, cols - 1], [rows - 1, cols - 1], [rows - 1, 0]], np.float64)
    hom = np.concatenate([corners, np.ones((4, 1))], axis=1) @ turn.T
    dst = hom[:, :2] / hom[:, 2:3]
    size = np.array([rows, cols], np.float64) if turns % 2 == 0 else np.array([cols, rows], float)
    dst += rng.uniform(-1, 1, size=(4, 2)) * 0.07 * strength * size
    margin = rng.uniform(0.04, 0.15, size=2) * size
    dst -= dst.min(axis=0) - margin
    out_shape = (
        int(np.ceil(dst[:, 0].max() + margin[0])),
        int(np.ceil(dst[:, 1].max() + margin[1])),
    )
    h = perspective_rc(corners, dst)
    forward, inverse = homography_map(h), homography_map(np.linalg.inv(h))
    moved = warp_page(page, forward, inverse, out_shape, rotation_deg=angle)
    ones = np.full((rows, cols), 255, np.uint8)
    paper = remap_image(ones, inverse, out_shape, border=(0,)).astype(np.float32)[..., None] / 255
    surface = _background(out_shape, rng)
    return with_image(moved, moved.image * paper + surface * (1 - paper))


@degradation
def lens(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Radial (barrel or pincushion) distortion of a phone lens: up to 4 % at the corners."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    centre = np.array([(rows - 1) / 2, (cols - 1) / 2]) + rng.uniform(-0.05, 0.05, 2) * (rows, cols)
    radius = 0.5 * float(np.hypot(rows, cols))
    k = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0) * 0.04 * strength)

    def inverse(q: NDArray[np.float64]) -> NDArray[np.float64]:
        d = q - centre
        r2 = (d**2).sum(axis=1, keepdims=True) / radius**2
        return centre + d * (1 + k * r2)

    def forward(p: NDArray[np.float64]) -> NDArray[np.float64]:
        q = p.copy()
        for _ in range(20):  # fixed point of inverse(q) = p; the distortion is small
            q = q + (p - inverse(q))
        return q

    return warp_page(page, forward, inverse, replicate=True)


@degradation
def cast_shadow(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """The shadow of a hand or phone: a soft-edged dark region over part of the page."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    offset = rng.uniform(0.15, 0.45) * (rows * abs(np.sin(a)) + cols * abs(np.cos(a)))
    d = (rr - rows / 2) * np.sin(a) + (cc - cols / 2) * np.cos(a) - offset
    d += 0.05 * max(rows, cols) * smooth_field((rows, cols), max(rows, cols) / 6, rng)
    soft = rng.uniform(0.01, 0.05) * max(rows, cols)
    inside = 1.0 / (1.0 + np.exp(-d / soft))
    dark = 1.0 - strength * rng.uniform(0.2, 0.45) * inside
    return with_image(page, page.image * dark[..., None])


@degradation
def glare(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """A lamp's reflection: a soft bright spot washing out ink and grid."""
    rng = np.random.default_rng(rng)
    rows, cols = page.truth.shape
    r0, c0 = rng.uniform(0.1, 0.9) * rows, rng.uniform(0.1, 0.9) * cols
    sigma = rng.uniform(0.05, 0.15) * max(rows, cols)
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
    spot = np.exp(-((rr - r0) ** 2 + (cc - c0) ** 2) / (2 * sigma**2))
    wash = (strength * rng.uniform(0.3, 0.7) * spot)[..., None]
    return with_image(page, page.image * (1 - wash) + 255.0 * wash)


@degradation
def banding(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Printer banding: faint periodic stripes across the page (a worn print head)."""
    rng = np.random.default_rng(rng)
    rows = page.truth.shape[0]
    period = rng.uniform(0.01, 0.04) * rows
    phase = rng.uniform(0, 2 * np.pi)
    r = np.arange(rows, dtype=np.float32)[:, None]
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * r / period + phase)
    lift = (strength * rng.uniform(0.1, 0.3) * stripes)[..., None]  # ink lightened in bands
    img = page.image.astype(np.float32)
    return with_image(page, img + (255.0 - img) * lift)


# 8x8 Bayer matrix: ordered dithering, as fax machines and cheap scanners print grey.
_BAYER: NDArray[np.float64] = np.array([[0, 2], [3, 1]], np.float64)
for _ in range(2):
    _BAYER = np.block([[4 * _BAYER, 4 * _BAYER + 2], [4 * _BAYER + 3, 4 * _BAYER + 1]])
_BAYER = (_BAYER + 0.5) / _BAYER.size  # thresholds in (0, 1)


@degradation
def dither(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """A dithered black-and-white scan: grey levels become dot patterns (ordered dither), so
    a light grid turns into dots of the trace's colour."""
    rng = np.random.default_rng(rng)
    grey = cv2.cvtColor(page.image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    # Lighten first: a scanner's threshold keeps paper white and the grid as sparse dots.
    grey = np.clip(grey + strength * rng.uniform(0.0, 0.15), 0, 1)
    rows, cols = grey.shape
    tile = np.tile(_BAYER, (rows // 8 + 1, cols // 8 + 1))[:rows, :cols]
    bw = np.where(grey > tile, 255, 0).astype(np.uint8)
    return with_image(page, np.repeat(bw[..., None], 3, axis=2))


Step = tuple[str, Callable[..., Rendered], float]
# What moves pixels in the two recipes; ``flat=True`` leaves them out.
_MOVING = GEOMETRIC | {"on_background", "lens"}


def _chain(
    page: Rendered, steps: list[Step], rng: np.random.Generator, *, flat: bool = False
) -> tuple[Rendered, tuple[str, ...]]:
    """Each step with its probability, at a random strength; with ``flat`` none that moves
    pixels (:data:`_MOVING`)."""
    applied = []
    for name, func, p in steps:
        if flat and name in _MOVING:
            continue
        if rng.random() < p:
            page = func(page, strength=float(rng.uniform(0.3, 1.0)), rng=rng)
            applied.append(name)
    return page, tuple(applied)


def photo_style(
    page: Rendered, *, rng: Rng = None, flat: bool = False
) -> tuple[Rendered, tuple[str, ...]]:
    """A phone photo of the printed page: (the page, the names of what was applied).

    ``flat``: only what leaves every pixel where it is (paper, light, ink, noise, compression;
    no sheet on a desk, curl or lens), for training data cut at the truth's coordinates.
    """
    from ecgtrace.render import degrade as d

    rng = np.random.default_rng(rng)
    steps: list[Step] = [
        ("paper_texture", d.paper_texture, 0.6),
        ("creases", d.creases, 0.4),
        ("strokes", d.strokes, 0.3),
        ("curl", d.curl, 0.6),
        ("on_background", on_background, 1.0),
        ("lens", lens, 0.5),
        ("shading", d.shading, 0.8),
        ("cast_shadow", cast_shadow, 0.4),
        ("glare", glare, 0.2),
        ("colour_cast", d.colour_cast, 0.7),
        ("gaussian_blur", d.gaussian_blur, 0.3),
        ("motion_blur", d.motion_blur, 0.2),
        ("sensor_noise", d.sensor_noise, 0.8),
        ("jpeg", d.jpeg, 1.0),
    ]
    return _chain(page, steps, rng, flat=flat)


def scan_style(
    page: Rendered, *, rng: Rng = None, flat: bool = False
) -> tuple[Rendered, tuple[str, ...]]:
    """An office scan of the printed page: skewed, sometimes turned, banded, black-and-white
    (thresholded or dithered) or grey, at a scanner's resolution. ``flat`` as in
    :func:`photo_style` (no turn, skew or downscale)."""
    from ecgtrace.render import degrade as d

    rng = np.random.default_rng(rng)
    turns = int(rng.choice(4, p=[0.85, 0.05, 0.05, 0.05]))
    applied: list[str] = []
    if turns and not flat:
        page = quarter_turn(page, turns)
        applied.append(f"turn{90 * turns}")
    if not flat:
        page = d.rotate(page, degrees=float(rng.uniform(-3, 3)))
        applied.append("rotate")
    steps: list[Step] = [
        ("paper_texture", d.paper_texture, 0.3),
        ("creases", d.creases, 0.3),
        ("strokes", d.strokes, 0.3),
        ("banding", banding, 0.3),
        ("faded", d.faded, 0.4),
        ("downscale", d.downscale, 0.4),
    ]
    page, more = _chain(page, steps, rng, flat=flat)
    applied += more
    ink = rng.random()
    if ink < 0.4:
        page, applied = d.binarise(page, rng=rng), [*applied, "binarise"]
    elif ink < 0.8:
        page, applied = dither(page, rng=rng), [*applied, "dither"]
    if rng.random() < 0.5:
        page, applied = d.jpeg(page, rng=rng), [*applied, "jpeg"]
    return page, tuple(applied)


def quarter_turn(page: Rendered, turns: int) -> Rendered:
    """The page turned counter-clockwise by ``turns`` x 90 deg, exactly (no resampling)."""
    turns %= 4
    if turns == 0:
        return page
    rows, cols = page.truth.shape
    shape = (rows, cols) if turns == 2 else (cols, rows)
    # Counter-clockwise in the image: (r, c) -> (cols - 1 - c, r) for one turn.
    maps = {
        1: (
            lambda p: np.stack([cols - 1 - p[:, 1], p[:, 0]], 1),
            lambda q: np.stack([q[:, 1], cols - 1 - q[:, 0]], 1),
        ),
        2: (
            lambda p: np.stack([rows - 1 - p[:, 0], cols - 1 - p[:, 1]], 1),
            lambda q: np.stack([rows - 1 - q[:, 0], cols - 1 - q[:, 1]], 1),
        ),
        3: (
            lambda p: np.stack([p[:, 1], rows - 1 - p[:, 0]], 1),
            lambda q: np.stack([rows - 1 - q[:, 1], q[:, 0]], 1),
        ),
    }
    forward, inverse = maps[turns]
    image = np.ascontiguousarray(np.rot90(page.image, turns))
    truth = warp_truth(page.truth, forward, inverse, shape, rotation_deg=90.0 * turns)
    return Rendered(image=as_u8(image), truth=truth)


STYLES: dict[str, Callable[..., tuple[Rendered, tuple[str, ...]]]] = {
    "photo": photo_style,
    "scan": scan_style,
}
