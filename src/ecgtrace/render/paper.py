"""Degradations of the sheet itself: texture, creases, stains, pen strokes and stamps."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from ecgtrace._arrays import CV_SHIFT, cv_points
from ecgtrace.render._degradation import (
    Rng,
    as_u8,
    degradation,
    mean_px_per_mm,
    smooth_field,
    with_image,
)
from ecgtrace.render.truth import Rendered


@degradation
def paper_texture(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Fibres and uneven paper: low-frequency blotches plus fine grain."""
    rng = np.random.default_rng(rng)
    shape = page.truth.shape
    coarse = smooth_field(shape, 40 * mean_px_per_mm(page) / 8, rng)
    fine = smooth_field(shape, 2.0, rng)
    tone = 1.0 + strength * (0.04 * coarse + 0.03 * fine)
    return with_image(page, page.image * tone[..., None])


@degradation
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
        width = rng.uniform(1.0, 3.0) * mean_px_per_mm(page) / 8
        tone -= 0.25 * strength * np.exp(-((d / width) ** 2)) * np.sign(d + 1e-3) * 0.5
        tone -= 0.12 * strength * np.exp(-((d / (4 * width)) ** 2))
    # Wrinkles: short wandering creases, faint.
    wrinkle = np.zeros((rows, cols), np.float32)
    for _ in range(rng.integers(3, 12)):
        steps = rng.normal(0, 0.3, size=40).cumsum() + rng.uniform(0, 2 * np.pi)
        step = rng.uniform(0.5, 1.5) * mean_px_per_mm(page)
        path = np.cumsum(np.stack([np.sin(steps), np.cos(steps)], axis=1) * step, axis=0)
        path += (rng.uniform(0, rows), rng.uniform(0, cols))
        cv2.polylines(wrinkle, [cv_points(path)], False, 1.0, 1, cv2.LINE_AA, shift=CV_SHIFT)
    tone -= 0.15 * strength * cv2.GaussianBlur(wrinkle, (0, 0), 1.0)
    return with_image(page, page.image * np.clip(tone, 0.3, 1.2)[..., None])


@degradation
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
    return with_image(page, page.image * mult)


@degradation
def strokes(page: Rendered, *, strength: float = 1.0, rng: Rng = None) -> Rendered:
    """Handwriting-like pen strokes and stamps, some over the traces."""
    rng = np.random.default_rng(rng)
    img = page.image.copy()
    ppm = mean_px_per_mm(page)
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
            cv2.polylines(
                img, [cv_points(pts)], False, colour, max(1, round(rng.uniform(0.25, 0.6) * ppm)),
                cv2.LINE_AA, shift=CV_SHIFT,
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
            img = as_u8(cv2.addWeighted(layer, alpha, img, 1 - alpha, 0))
    return replace(page, image=img)
