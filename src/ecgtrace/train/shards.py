"""The crop cache: rendered lead crops at the working resolution with their exact targets.

Pages come from a PTB-XL split, in every style the renderer knows, with all degradations at
random strengths, 60 % of them drawn tight (rows overlapping). Shard ``k`` depends
only on (seed, k), so any number of workers gives the same data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from ecgtrace.data import Split, available_fs, load_record, split_ids
from ecgtrace.io.files import write_npz
from ecgtrace.render.crops import crop_segment
from ecgtrace.render.degrade import random_degradations
from ecgtrace.render.page import render_page
from ecgtrace.render.spec import random_spec
from ecgtrace.render.truth import Rendered
from ecgtrace.segment.unet import DEFAULT_PREP, ImageT, Preprocessing, resize_to_mm

HALF_HEIGHT_MM = 24.0  # cached crops: 24 mm above and below the baseline
MAX_COLS = 512  # longer strips are cut to a random window of this many px


@dataclass(frozen=True)
class Sample:
    """A cached crop at the working resolution.

    ``image`` (rows, cols, 3) uint8; ``target`` (rows, cols) uint8, 255 = own trace (coverage
    of a working pixel >= 50 %, proportionally less below); ``centre_row`` the baseline (px);
    ``col0``, ``col1`` the lead's own columns (outside them the loss ignores the crop, as the
    row's next lead may continue the same line).
    """

    image: NDArray[np.uint8]
    target: NDArray[np.uint8]
    centre_row: float
    col0: int
    col1: int
    overlap: bool


def crop_samples(
    n_pages: int,
    *,
    split: Split,
    rng: int | Sequence[int] | np.random.Generator | None,
    prep: Preprocessing = DEFAULT_PREP,
    dpi: tuple[float, float] = (90.0, 220.0),
    per_page: int = 6,
) -> list[Sample]:
    """Render ``n_pages`` random pages and cut up to ``per_page`` lead crops from each.

    Most pages are drawn tight (rows overlapping); overlapping crops are taken first.
    """
    rng = np.random.default_rng(rng)
    ids = split_ids(split)
    out: list[Sample] = []
    for _ in range(n_pages):
        ecg_id = ids[int(rng.integers(len(ids)))]
        rates = available_fs(ecg_id)
        rec = load_record(ecg_id, fs=rates[int(rng.integers(len(rates)))])
        tight = rng.random() < 0.6
        spec = random_spec(
            rng,
            overlap=float(rng.uniform(0.6, 1.0) if tight else rng.uniform(0.0, 0.6)),
            dpi=dpi,
            layouts=("3x4", "6x2", "12x1") if tight else ("3x4", "6x2", "12x1", "single"),
        )
        page = render_page(rec.p_signal, rec.fs, spec, rng=rng)
        page, _ = random_degradations(page, strength=1.0, rng=rng)
        segs = page.truth.segments
        order = sorted(rng.permutation(len(segs)), key=lambda k: not segs[k].overlap)
        for k in order[:per_page]:
            out.append(_sample(page, int(k), prep=prep, rng=rng))
    return out


def _sample(page: Rendered, k: int, *, prep: Preprocessing, rng: np.random.Generator) -> Sample:
    """Segment ``k``'s crop, resized to ``prep``'s working px/mm (a random window of
    :data:`MAX_COLS` columns when longer)."""
    crop = crop_segment(page, k, half_height_mm=HALF_HEIGHT_MM)

    def resized(image: ImageT) -> ImageT:
        return resize_to_mm(
            image,
            px_per_mm_row=crop.px_per_mm_row,
            px_per_mm_col=crop.px_per_mm_col,
            px_per_mm=prep.px_per_mm,
        )

    image = resized(crop.image)
    cover = resized(crop.mask.astype(np.float32))
    # Coverage of 0.5 (the masks' threshold) and above maps to 255, less proportionally.
    target = np.clip(np.asarray(cover, dtype=np.float32) * 2.0 * 255.0, 0, 255).astype(np.uint8)
    scale_r = image.shape[0] / crop.image.shape[0]
    scale_c = image.shape[1] / crop.image.shape[1]
    centre = (float(np.nanmean(crop.zero_line[:, 0])) + 0.5) * scale_r - 0.5
    col0 = max(0, math.floor(np.nanmin(crop.polyline[:, 1]) * scale_c))
    col1 = min(image.shape[1], math.ceil(np.nanmax(crop.polyline[:, 1]) * scale_c) + 1)
    if image.shape[1] > MAX_COLS:
        start = int(rng.integers(0, image.shape[1] - MAX_COLS + 1))
        image, target = image[:, start : start + MAX_COLS], target[:, start : start + MAX_COLS]
        col0, col1 = max(0, col0 - start), min(MAX_COLS, col1 - start)
    return Sample(
        image=np.ascontiguousarray(image, dtype=np.uint8),
        target=np.ascontiguousarray(target),
        centre_row=centre,
        col0=col0,
        col1=col1,
        overlap=crop.overlap,
    )


def save_shard(path: Path, samples: Sequence[Sample]) -> None:
    """Write ``samples`` to one ``.npz`` shard (atomically)."""
    arrays: dict[str, NDArray[np.generic]] = {
        "centre_row": np.array([s.centre_row for s in samples]),
        "cols": np.array([(s.col0, s.col1) for s in samples], dtype=np.int32).reshape(-1, 2),
        "overlap": np.array([s.overlap for s in samples]),
    }
    for i, s in enumerate(samples):
        arrays[f"image_{i}"] = s.image
        arrays[f"target_{i}"] = s.target
    write_npz(path, **arrays)


def load_shard(path: Path) -> list[Sample]:
    """The samples of a shard written by :func:`save_shard`."""
    with np.load(path) as z:
        return [
            Sample(
                image=z[f"image_{i}"],
                target=z[f"target_{i}"],
                centre_row=float(c),
                col0=int(cols[0]),
                col1=int(cols[1]),
                overlap=bool(o),
            )
            for i, (c, cols, o) in enumerate(
                zip(z["centre_row"], z["cols"], z["overlap"], strict=True)
            )
        ]


@dataclass(frozen=True)
class _ShardJob:
    """Shard ``index`` of ``split`` for ``seed``: ``pages`` pages, written to ``path``."""

    path: Path
    split: Split
    seed: int
    index: int
    pages: int


def _make_shard(job: _ShardJob) -> Path:
    """Render the shard unless it is cached already; its path."""
    if not job.path.exists():
        torch.set_num_threads(1)  # the pool's processes are the parallelism
        save_shard(job.path, crop_samples(job.pages, split=job.split, rng=[job.seed, job.index]))
    return job.path


def generate_shards(
    cache: Path,
    *,
    split: Split,
    shards: int,
    pages_per_shard: int = 40,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[], None] | None = None,
) -> list[Path]:
    """Make (or reuse) ``shards`` cache files ``<cache>/<split>-<seed>-<k>.npz``;
    ``progress()`` after each."""
    if split == "test":
        raise ValueError("never train or tune on the test split")
    cache.mkdir(parents=True, exist_ok=True)
    jobs = [
        _ShardJob(cache / f"{split}-{seed}-{k:04d}.npz", split, seed, k, pages_per_shard)
        for k in range(shards)
    ]
    done = []
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for path in pool.imap(_make_shard, jobs):
                done.append(path)
                if progress is not None:
                    progress()
    else:
        for job in jobs:
            done.append(_make_shard(job))
            if progress is not None:
                progress()
    return done
