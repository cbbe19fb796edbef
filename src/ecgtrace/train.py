"""Training the U-Net (the ``train`` extra): a crop cache, a plain resumable loop, ONNX export.

1. :func:`generate_shards` renders pages from a PTB-XL split (every style the renderer knows,
   all degradations at random strengths, at least half the crops overlapping), cuts each
   lead's crop at the working resolution with its exact target, and caches them as ``.npz``
   shards; shard ``k`` depends only on (seed, k), so any number of workers gives the same data.
2. :func:`train` samples random windows (with flips, colour and baseline jitter) from the
   cache, minimises BCE + Dice, checks IoU on validation crops (fold 9), and saves
   ``checkpoint.pt`` with ``config.json`` every ``save_every`` steps; run again to resume.
3. :func:`export_onnx` writes ``unet.onnx`` and ``unet.json`` (config, preprocessing, the
   command and wall time that made it).
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from ecgtrace.data import Split, available_fs, load_record, split_ids
from ecgtrace.io.files import atomic_write_bytes, write_json
from ecgtrace.render.crops import crop_segment
from ecgtrace.render.degrade import random_degradations
from ecgtrace.render.page import render_page
from ecgtrace.render.spec import random_spec
from ecgtrace.segment.model import UNet, UNetConfig, build_model
from ecgtrace.segment.unet import (
    DEFAULT_PREP,
    Preprocessing,
    network_input,
    pad_input,
    resize_to_mm,
)

log = logging.getLogger(__name__)

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

    Half the pages are drawn tight (rows overlapping); overlapping crops are taken first.
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


def _sample(page: object, k: int, *, prep: Preprocessing, rng: np.random.Generator) -> Sample:
    crop = crop_segment(page, k, half_height_mm=HALF_HEIGHT_MM)  # type: ignore[arg-type]
    kw = {
        "px_per_mm_row": crop.px_per_mm_row,
        "px_per_mm_col": crop.px_per_mm_col,
        "px_per_mm": prep.px_per_mm,
    }
    image = resize_to_mm(crop.image, **kw)
    cover = resize_to_mm(crop.mask.astype(np.float32), **kw)
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
    arrays: dict[str, NDArray[np.generic]] = {
        "centre_row": np.array([s.centre_row for s in samples]),
        "cols": np.array([(s.col0, s.col1) for s in samples], dtype=np.int32).reshape(-1, 2),
        "overlap": np.array([s.overlap for s in samples]),
    }
    for i, s in enumerate(samples):
        arrays[f"image_{i}"] = s.image
        arrays[f"target_{i}"] = s.target
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path)


def load_shard(path: Path) -> list[Sample]:
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


def _shard_job(args: tuple[Path, Split, int, int, int]) -> Path:
    path, split, seed, index, pages = args
    if not path.exists():
        torch.set_num_threads(1)
        save_shard(path, crop_samples(pages, split=split, rng=[seed, index]))
    return path


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
    """Make (or reuse) ``shards`` cache files ``<cache>/<split>-<seed>-<k>.npz``."""
    if split == "test":
        raise ValueError("never train or tune on the test split")
    cache.mkdir(parents=True, exist_ok=True)
    jobs = [
        (cache / f"{split}-{seed}-{k:04d}.npz", split, seed, k, pages_per_shard)
        for k in range(shards)
    ]
    done = []
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for path in pool.imap(_shard_job, jobs):
                done.append(path)
                if progress is not None:
                    progress()
    else:
        for job in jobs:
            done.append(_shard_job(job))
            if progress is not None:
                progress()
    return done


# ---- the loop ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run (saved beside each checkpoint)."""

    model: UNetConfig = field(default_factory=UNetConfig)
    prep: Preprocessing = field(default_factory=Preprocessing)
    steps: int = 3000
    batch: int = 16
    window: tuple[int, int] = (128, 256)
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    dice_weight: float = 1.0
    centre_jitter_mm: float = 2.0
    seed: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _window(
    sample: Sample, cfg: TrainConfig, rng: np.random.Generator
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """One augmented training window: input (4, h, w), target (h, w) in [0, 1], weight (h, w)."""
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
    return x, np.ascontiguousarray(tgt), np.ascontiguousarray(weight)


def batch_of(
    samples: Sequence[Sample], cfg: TrainConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    picks = [_window(samples[int(rng.integers(len(samples)))], cfg, rng) for _ in range(cfg.batch)]
    return tuple(torch.from_numpy(np.stack(a)) for a in zip(*picks, strict=True))  # type: ignore[return-value]


def loss_fn(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, *, dice_weight: float
) -> torch.Tensor:
    """Weighted BCE plus soft Dice over the batch: Dice keeps thin, sparse traces from vanishing."""
    logits = logits[:, 0]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    bce = (bce * weight).sum() / weight.sum().clamp(min=1.0)
    p = torch.sigmoid(logits) * weight
    t = target * weight
    dice = 1.0 - (2.0 * (p * t).sum() + 1.0) / (p.sum() + t.sum() + 1.0)
    return bce + dice_weight * dice


def predict(
    model: UNet, samples: Sequence[Sample], prep: Preprocessing
) -> list[NDArray[np.float32]]:
    """Probabilities (rows, cols) for whole cached crops, one at a time (PyTorch)."""
    model.eval()
    out = []
    with torch.no_grad():
        for s in samples:
            x = pad_input(network_input(s.image, centre_row=s.centre_row, prep=prep), prep.multiple)
            p = torch.sigmoid(model(torch.from_numpy(x[None])))[0, 0].numpy()
            out.append(p[: s.image.shape[0], : s.image.shape[1]])
    return out


def validation_iou(model: UNet, samples: Sequence[Sample], prep: Preprocessing) -> float:
    """Mean IoU per crop at the working resolution, over the lead's own columns."""
    ious = []
    for s, p in zip(samples, predict(model, samples, prep), strict=True):
        pred = p[:, s.col0 : s.col1] >= 0.5
        true = s.target[:, s.col0 : s.col1] >= 128
        union = np.count_nonzero(pred | true)
        if union:
            ious.append(np.count_nonzero(pred & true) / union)
    return float(np.mean(ious)) if ious else math.nan


def _lr(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.03 * cfg.lr + 0.97 * cfg.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def train(
    out: Path,
    train_samples: Sequence[Sample],
    val_samples: Sequence[Sample],
    cfg: TrainConfig,
    *,
    save_every: int = 100,
    val_every: int = 250,
    threads: int = 2,
    progress: Callable[[int, float], None] | None = None,
) -> UNet:
    """Train (or resume) in ``out``; returns the model. ``progress(step, loss)`` per step.

    Batch ``k`` is drawn from ``rng=[seed, k]``, so a resumed run sees the same data as an
    uninterrupted one.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt = out / "checkpoint.pt"
    step, elapsed = 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu")
        if state["config"] != json.loads(json.dumps(cfg.to_dict())):
            raise ValueError(f"{ckpt} was made with another config; use a new output folder")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state["elapsed_s"])
        log.info("resuming %s at step %d", ckpt, step)
    write_json(out / "config.json", cfg.to_dict())
    t_start = time.perf_counter() - elapsed
    history = out / "log.jsonl"
    while step < cfg.steps:
        model.train()
        x, target, weight = batch_of(train_samples, cfg, np.random.default_rng([cfg.seed, step]))
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        loss = loss_fn(model(x), target, weight, dice_weight=cfg.dice_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        entry: dict[str, float] = {"step": step, "loss": loss.item(), "lr": _lr(step - 1, cfg)}
        if step % val_every == 0 or step == cfg.steps:
            entry["val_iou"] = validation_iou(model, val_samples, cfg.prep)
            log.info("step %d loss %.4f validation IoU %.4f", step, entry["loss"], entry["val_iou"])
        entry["elapsed_s"] = time.perf_counter() - t_start
        with history.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        if step % save_every == 0 or step == cfg.steps:
            _save(ckpt, model, opt, cfg, step, entry["elapsed_s"])
        if progress is not None:
            progress(step, entry["loss"])
    return model


def _save(
    path: Path, model: UNet, opt: torch.optim.Optimizer, cfg: TrainConfig, step: int, elapsed: float
) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "elapsed_s": elapsed,
            "config": json.loads(json.dumps(cfg.to_dict())),
        },
        tmp,
    )
    tmp.replace(path)


def load_exported(path: Path) -> UNet:
    """The PyTorch model (eval mode) shipped beside an exported ``unet.onnx``."""
    meta = json.loads(path.with_suffix(".json").read_text())
    model = build_model(UNetConfig(**meta["model"]))
    model.load_state_dict(torch.load(path.with_suffix(".pt"), map_location="cpu"))
    return model.eval()


def load_checkpoint(path: Path) -> tuple[UNet, TrainConfig]:
    """The model (eval mode) and the run's config from a ``checkpoint.pt``."""
    state = torch.load(path, map_location="cpu")
    c = state["config"]
    cfg = TrainConfig(
        **{
            **c,
            "model": UNetConfig(**c["model"]),
            "prep": Preprocessing(**c["prep"]),
            "window": tuple(c["window"]),
        }
    )
    model = build_model(cfg.model)
    model.load_state_dict(state["model"])
    return model.eval(), cfg


def export_onnx(
    model: UNet, path: Path, *, prep: Preprocessing, meta: dict[str, object] | None = None
) -> None:
    """Write ``path`` (ONNX, dynamic batch/rows/cols), ``.json`` (config) and ``.pt`` beside it.

    The ``.pt`` holds the PyTorch weights (for fine-tuning and the agreement test).
    The TorchScript exporter (opset 17) is used: its graph runs about 1.4x faster in
    onnxruntime here than the dynamo exporter's; its deprecation warning is expected.
    """
    import io

    model = model.eval()
    x = torch.zeros(1, model.config.in_channels, 4 * prep.multiple, 8 * prep.multiple)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (x,),
            buf,  # type: ignore[arg-type]
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={
                "x": {0: "n", 2: "rows", 3: "cols"},
                "logits": {0: "n", 2: "rows", 3: "cols"},
            },
        )
    atomic_write_bytes(path, buf.getvalue())
    weights = io.BytesIO()
    torch.save(model.state_dict(), weights)
    atomic_write_bytes(path.with_suffix(".pt"), weights.getvalue())
    write_json(
        path.with_suffix(".json"),
        {"model": model.config.to_dict(), "preprocessing": asdict(prep), **(meta or {})},
    )
