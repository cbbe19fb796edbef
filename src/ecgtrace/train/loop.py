"""The training loop: BCE + Dice on random windows, validation IoU, resumable checkpoints.

``<out>/checkpoint.pt`` (model, optimiser, step, wall time, config) is saved every
``save_every`` steps with ``<out>/config.json`` beside it and a line per step in
``<out>/log.jsonl``; running again in the same folder resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ecgtrace.io.files import write_json
from ecgtrace.segment.unet import Preprocessing, network_input, pad_input
from ecgtrace.train.config import TrainConfig
from ecgtrace.train.model import UNet, build_model
from ecgtrace.train.shards import Sample
from ecgtrace.train.windows import batch_of

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


def loss_fn(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, *, dice_weight: float
) -> torch.Tensor:
    """Weighted BCE plus soft Dice over the batch: Dice keeps thin, sparse traces from vanishing.

    ``logits`` (n, 1, h, w); ``target`` in [0, 1] and ``weight`` (n, h, w)."""
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
    """Linear warm-up, then a cosine down to 3 % of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.03 * cfg.lr + 0.97 * cfg.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """What ``checkpoint.pt`` holds: the model's and the optimiser's state after ``step``
    steps and ``elapsed_s`` s of training, and the run's config (:meth:`TrainConfig.to_dict`)."""

    model: dict[str, Any]
    optimizer: dict[str, Any]
    step: int
    elapsed_s: float
    config: dict[str, Any]

    def save(self, path: Path) -> None:
        """Write it to ``path`` (whole or not at all)."""
        tmp = path.with_suffix(".tmp")
        state = {
            "model": self.model,
            "optimizer": self.optimizer,
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "config": self.config,
        }
        torch.save(state, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """The checkpoint :meth:`save` wrote to ``path``."""
        state = torch.load(path, map_location="cpu")
        return cls(
            model=state["model"],
            optimizer=state["optimizer"],
            step=int(state["step"]),
            elapsed_s=float(state["elapsed_s"]),
            config=state["config"],
        )


def load_checkpoint(path: Path) -> tuple[UNet, TrainConfig]:
    """The model (eval mode) and the run's config from a ``checkpoint.pt``."""
    ckpt = Checkpoint.load(path)
    cfg = TrainConfig.from_dict(ckpt.config)
    model = build_model(cfg.model)
    model.load_state_dict(ckpt.model)
    return model.eval(), cfg


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
    path = out / CHECKPOINT
    step, elapsed = 0, 0.0
    if path.exists():
        ckpt = Checkpoint.load(path)
        if ckpt.config != cfg.to_dict():
            raise ValueError(f"{path} was made with another config; use a new output folder")
        model.load_state_dict(ckpt.model)
        opt.load_state_dict(ckpt.optimizer)
        step, elapsed = ckpt.step, ckpt.elapsed_s
        log.info("resuming %s at step %d", path, step)
    write_json(out / "config.json", cfg.to_dict())
    t_start = time.perf_counter() - elapsed
    history = out / "log.jsonl"
    while step < cfg.steps:
        model.train()
        batch = batch_of(train_samples, cfg, np.random.default_rng([cfg.seed, step]))
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        loss = loss_fn(model(batch.x), batch.target, batch.weight, dice_weight=cfg.dice_weight)
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
            state = Checkpoint(
                model.state_dict(), opt.state_dict(), step, entry["elapsed_s"], cfg.to_dict()
            )
            state.save(path)
        if progress is not None:
            progress(step, entry["loss"])
    return model
