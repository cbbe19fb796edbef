"""Training windows: random, augmented cut-outs of cached crops, and batches of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from ecgtrace.segment.unet import network_input
from ecgtrace.train.config import TrainConfig
from ecgtrace.train.shards import Sample


@dataclass(frozen=True, eq=False)
class Window:
    """One training window: network input ``x`` (4, h, w), ``target`` (h, w) in [0, 1] and
    the loss's ``weight`` (h, w): 1 on the lead's own columns, 0 elsewhere and on padding."""

    x: NDArray[np.float32]
    target: NDArray[np.float32]
    weight: NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class Batch:
    """:class:`Window` fields stacked: ``x`` (n, 4, h, w), ``target`` and ``weight`` (n, h, w)."""

    x: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor


def random_window(sample: Sample, cfg: TrainConfig, rng: np.random.Generator) -> Window:
    """A ``cfg.window`` cut-out of ``sample`` near its baseline, flipped, recoloured and its
    baseline jittered at random (paper-padded where the crop is smaller)."""
    h, w = cfg.window
    img, tgt = sample.image, sample.target.astype(np.float32) / 255.0
    weight = np.zeros(tgt.shape, dtype=np.float32)
    weight[:, sample.col0 : sample.col1] = 1.0
    centre = sample.centre_row
    rows, cols = tgt.shape
    ppm = cfg.prep.px_per_mm
    r0 = round(centre - h / 2 + rng.uniform(-6, 6) * ppm)
    r0 = int(np.clip(r0, 0, max(0, rows - h)))
    c0 = int(rng.integers(0, max(0, cols - w) + 1))
    img = img[r0 : r0 + h, c0 : c0 + w]
    tgt, weight = tgt[r0 : r0 + h, c0 : c0 + w], weight[r0 : r0 + h, c0 : c0 + w]
    centre -= r0
    if img.shape[:2] != (h, w):  # pad with paper; padding never counts in the loss
        pr, pc = h - img.shape[0], w - img.shape[1]
        paper = np.median(img.reshape(-1, 3), axis=0).astype(np.uint8)
        img = np.concatenate([img, np.broadcast_to(paper, (pr, img.shape[1], 3))], axis=0)
        img = np.concatenate([img, np.broadcast_to(paper, (h, pc, 3))], axis=1)
        tgt, weight = np.pad(tgt, ((0, pr), (0, pc))), np.pad(weight, ((0, pr), (0, pc)))
    if rng.random() < 0.5:
        img, tgt, weight = img[:, ::-1], tgt[:, ::-1], weight[:, ::-1]
    if rng.random() < 0.3:
        img, tgt, weight = img[::-1], tgt[::-1], weight[::-1]
        centre = h - 1 - centre
    if rng.random() < 0.3:
        img = img[:, :, rng.permutation(3)]
    img = np.ascontiguousarray(img)
    if rng.random() < 0.5:  # contrast, brightness and gamma
        f = img.astype(np.float32) / 255.0
        f = f ** rng.uniform(0.6, 1.6) * rng.uniform(0.7, 1.1) + rng.uniform(-0.05, 0.1)
        img = np.clip(f * 255.0, 0, 255).astype(np.uint8)
    centre += rng.uniform(-1, 1) * cfg.centre_jitter_mm * ppm
    x = network_input(img, centre_row=centre, prep=cfg.prep)
    return Window(x=x, target=np.ascontiguousarray(tgt), weight=np.ascontiguousarray(weight))


def batch_of(samples: Sequence[Sample], cfg: TrainConfig, rng: np.random.Generator) -> Batch:
    """``cfg.batch`` windows of samples drawn at random (with replacement)."""
    picks = [
        random_window(samples[int(rng.integers(len(samples)))], cfg, rng) for _ in range(cfg.batch)
    ]
    return Batch(
        x=torch.from_numpy(np.stack([p.x for p in picks])),
        target=torch.from_numpy(np.stack([p.target for p in picks])),
        weight=torch.from_numpy(np.stack([p.weight for p in picks])),
    )
