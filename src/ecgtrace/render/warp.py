"""Move a rendered page and all of its truth through a geometric mapping.

A mapping is given both ways over (n, 2) arrays of (row, col) px: ``forward`` takes points of the
source image to the output image, ``inverse`` takes output points back to the source (used to
resample). Polylines, boxes and pulses go through ``forward``; images and each lead's ink coverage
are resampled through ``inverse``, the coverage supersampled so masks stay exact at the same
threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.render.truth import PageTruth, PulseTruth, Rendered
from ecgtrace.types import Box

PointMap = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def homography_map(h_rc: NDArray[np.floating[Any]]) -> PointMap:
    """A point map for a 3x3 homography acting on homogeneous (row, col, 1)."""

    def apply(points: NDArray[np.float64]) -> NDArray[np.float64]:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        hom = np.concatenate([p, np.ones((p.shape[0], 1))], axis=1) @ h_rc.T
        return hom[:, :2] / hom[:, 2:3]

    return apply


def remap_image(
    image: NDArray,
    inverse: PointMap,
    out_shape: tuple[int, int],
    *,
    border: tuple[int, ...] | None,
) -> NDArray:
    """Resample ``image`` onto an output grid of ``out_shape`` through ``inverse`` (bilinear);
    what comes from outside is ``border`` (None: the nearest edge pixel, as a camera sees the
    surroundings continue)."""
    rr, cc = np.mgrid[0 : out_shape[0], 0 : out_shape[1]].astype(np.float64)
    src = inverse(np.stack([rr.ravel(), cc.ravel()], axis=1))
    map_r = src[:, 0].reshape(out_shape).astype(np.float32)
    map_c = src[:, 1].reshape(out_shape).astype(np.float32)
    return cv2.remap(
        image,
        map_c,
        map_r,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE if border is None else cv2.BORDER_CONSTANT,
        borderValue=border or 0,
    )


def _box_points(box: Box, n: int = 8) -> NDArray[np.float64]:
    t = np.linspace(0.0, 1.0, n)
    top = np.stack([np.full(n, box.top), box.left + t * box.width], axis=1)
    bottom = np.stack([np.full(n, box.bottom), box.left + t * box.width], axis=1)
    left = np.stack([box.top + t * box.height, np.full(n, box.left)], axis=1)
    right = np.stack([box.top + t * box.height, np.full(n, box.right)], axis=1)
    return np.concatenate([top, bottom, left, right])


def map_box(box: Box, forward: PointMap) -> Box:
    """The axis-aligned box around a mapped box (its edges sampled, so mild warps are covered)."""
    p = forward(_box_points(box))
    return Box(p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max())


def _map_points(points: NDArray[np.float64], forward: PointMap) -> NDArray[np.float64]:
    out = np.full_like(points, np.nan)
    ok = np.all(np.isfinite(points), axis=1)
    if ok.any():
        out[ok] = forward(points[ok])
    return out


def _remap_alpha(
    alpha: NDArray[np.uint8],
    origin: tuple[int, int],
    forward: PointMap,
    inverse: PointMap,
    ss: int,
) -> tuple[NDArray[np.uint8], tuple[int, int]]:
    r0, c0 = origin
    h, w = alpha.shape
    box = map_box(Box(r0 - 0.5, c0 - 0.5, r0 + h - 0.5, c0 + w - 0.5), forward)
    nr0, nc0 = math.floor(box.top) - 1, math.floor(box.left) - 1
    nh, nw = math.ceil(box.bottom) + 2 - nr0, math.ceil(box.right) + 2 - nc0
    # Sub-pixel sample positions inside each output pixel, then an area average.
    offs = (np.arange(ss) + 0.5) / ss - 0.5
    rr = (nr0 + np.arange(nh)[:, None] + offs[None, :]).ravel()
    cc = (nc0 + np.arange(nw)[:, None] + offs[None, :]).ravel()
    grid_r, grid_c = np.meshgrid(rr, cc, indexing="ij")
    src = inverse(np.stack([grid_r.ravel(), grid_c.ravel()], axis=1))
    map_r = (src[:, 0] - r0).reshape(grid_r.shape).astype(np.float32)
    map_c = (src[:, 1] - c0).reshape(grid_r.shape).astype(np.float32)
    fine = cv2.remap(
        alpha.astype(np.float32),
        map_c,
        map_r,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    coarse = fine.reshape(nh, ss, nw, ss).mean(axis=(1, 3))
    return np.clip(np.round(coarse), 0, 255).astype(np.uint8), (nr0, nc0)


def _local_scale(forward: PointMap, at: NDArray[np.float64], step: float) -> tuple[float, float]:
    """How much one px along rows and along cols at ``at`` stretches under ``forward``."""
    p = forward(at + np.array([[0.0, 0.0], [step, 0.0], [0.0, step]]))
    return (
        float(np.linalg.norm(p[1] - p[0]) / step),
        float(np.linalg.norm(p[2] - p[0]) / step),
    )


def warp_truth(
    truth: PageTruth,
    forward: PointMap,
    inverse: PointMap,
    out_shape: tuple[int, int],
    *,
    rotation_deg: float = 0.0,
    scale_hint: float = 1.0,
) -> PageTruth:
    """Move every geometric field of ``truth`` through the mapping.

    ``scale_hint`` is about how much the mapping shrinks the page (e.g. 0.5 for halving), so
    the ink coverage is supersampled enough to stay exact.
    """
    ss = max(2, math.ceil(2.0 / max(scale_hint, 1e-3)))
    segments = []
    for seg in truth.segments:
        alpha, origin = _remap_alpha(seg.alpha, seg.alpha_origin, forward, inverse, ss)
        zero = _map_points(seg.zero_line, forward)
        finite = seg.polyline[np.all(np.isfinite(seg.polyline), axis=1)]
        centre = finite.mean(axis=0) if finite.size else seg.zero_line.mean(axis=0)
        s_row, s_col = _local_scale(forward, centre, 10.0)
        segments.append(
            replace(
                seg,
                polyline=_map_points(seg.polyline, forward),
                zero_line=zero,
                baseline_row=float(np.nanmean(zero[:, 0])),
                px_per_mm_row=seg.px_per_mm_row * s_row,
                px_per_mm_col=seg.px_per_mm_col * s_col,
                band=map_box(seg.band, forward),
                alpha=alpha,
                alpha_origin=origin,
                label_box=None if seg.label_box is None else map_box(seg.label_box, forward),
            )
        )
    pulses = [
        PulseTruth(
            row_index=p.row_index,
            box=map_box(p.box, forward),
            foot=forward(p.foot),
            top=forward(p.top),
            height_mv=p.height_mv,
        )
        for p in truth.pulses
    ]
    centre = np.array([(truth.shape[0] - 1) / 2, (truth.shape[1] - 1) / 2])
    s_row, s_col = _local_scale(forward, centre, 10.0)
    return replace(
        truth,
        shape=out_shape,
        px_per_mm_row=truth.px_per_mm_row * s_row,
        px_per_mm_col=truth.px_per_mm_col * s_col,
        rotation_deg=truth.rotation_deg + rotation_deg,
        segments=tuple(segments),
        pulses=tuple(pulses),
        marks=tuple(map_box(m, forward) for m in truth.marks),
        header_box=None if truth.header_box is None else map_box(truth.header_box, forward),
    )


def warp_page(
    page: Rendered,
    forward: PointMap,
    inverse: PointMap,
    out_shape: tuple[int, int] | None = None,
    *,
    rotation_deg: float = 0.0,
    border: tuple[int, int, int] | None = None,
    replicate: bool = False,
) -> Rendered:
    """Resample the image through ``inverse`` and move the truth through ``forward``; what
    comes from outside is ``border`` (default the paper's colour), or the nearest edge pixel
    where ``replicate``."""
    shape = out_shape or page.truth.shape
    fill = border or page.truth.spec.grid.paper_colour
    edge = None if replicate else tuple(int(v) for v in fill)
    image = remap_image(page.image, inverse, shape, border=edge)
    truth = warp_truth(page.truth, forward, inverse, shape, rotation_deg=rotation_deg)
    return Rendered(image=image, truth=truth)
