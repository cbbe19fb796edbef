"""The lead-label classifier (:mod:`ecgtrace.layout.labels`): data, model, training, export.

Examples are label windows cut from rendered pages at each cell's start (the label it holds, or
``none`` where the page has no labels) and at random places inside cells (``none``), with the
anchor jittered by up to a millimetre or two and the scale by a few per cent, as a page's found
baselines and pitch are. Pages come from a PTB-XL split, every style and font the renderer
knows: 20 % clean, 30 % through the non-geometric degradations, 25 % each as flat photos and
scans (:func:`~ecgtrace.render.photo.photo_style` and ``scan_style`` with ``flat=True``: the
window's anchor is the truth's, which moving the pixels would shift).
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from ecgtrace.data import Split, available_fs, load_record, split_ids
from ecgtrace.io.files import atomic_write_bytes, write_json
from ecgtrace.layout.labels import (
    LABEL_CLASSES,
    WINDOW_AFTER_MM,
    WINDOW_BEFORE_MM,
    WINDOW_SHAPE,
    Spot,
    label_window,
)
from ecgtrace.render.degrade import GEOMETRIC, random_degradations
from ecgtrace.render.page import render_page
from ecgtrace.render.photo import photo_style, scan_style
from ecgtrace.render.spec import random_spec
from ecgtrace.render.truth import Rendered
from ecgtrace.train.export import onnx_bytes, torch_weights_path
from ecgtrace.types import Box

NONE = LABEL_CLASSES.index("none")


@dataclass(frozen=True)
class LabelNetConfig:
    """Widths of the three pooled conv levels and of the last conv."""

    widths: tuple[int, ...] = (16, 32, 48, 64)

    def to_dict(self) -> dict[str, list[int]]:
        return {k: list(v) for k, v in asdict(self).items()}


class LabelNet(nn.Module):
    """(n, 1, 75, 80) darkness -> (n, classes) logits: conv-BN-ReLU levels (max-pooled but the
    last), pooled to a 3x5 map (where in the window the ink is matters; 3x5 divides the last
    level's 9x10, as ONNX's pooling needs), one linear layer."""

    def __init__(self, config: LabelNetConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        cin = 1
        for k, w in enumerate(config.widths):
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            if k < len(config.widths) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = w
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d((3, 5)))
        self.head = nn.Linear(cin * 15, len(LABEL_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))


def build_label_net(config: LabelNetConfig | None = None) -> LabelNet:
    return LabelNet(config or LabelNetConfig())


def _hits_label(spot: Spot, ppm: float, boxes: Sequence[Box]) -> bool:
    """Whether the window at ``spot`` overlaps any of the label ``boxes`` (px)."""
    window = Box(
        spot.baseline_row - 14.0 * ppm,
        spot.start_col - (WINDOW_BEFORE_MM + 1.0) * ppm,
        spot.baseline_row + 3.0 * ppm,
        spot.start_col + (WINDOW_AFTER_MM + 1.0) * ppm,
    )
    return any(window.intersects(b) for b in boxes)


def page_examples(
    page: Rendered, rng: np.random.Generator
) -> tuple[list[NDArray[np.float32]], list[int]]:
    """Label windows of one rendered page and their classes: each cell's start, jittered
    (its label, ``none`` without labels), and one random place inside each cell (``none``)."""
    truth = page.truth
    ppm_r, ppm_c = truth.px_per_mm_row, truth.px_per_mm_col
    boxes = [s.label_box for s in truth.segments if s.label_box is not None]
    windows, classes = [], []
    for seg in truth.segments:
        scale = rng.uniform(0.94, 1.06)
        base = seg.baseline_row + rng.normal(0.0, 0.6) * ppm_r
        starts = [(seg.band.left + rng.normal(0.0, 0.6) * ppm_c, True)]
        width_mm = (seg.band.right - seg.band.left) / ppm_c
        if width_mm > 20.0:
            starts.append((seg.band.left + rng.uniform(4.0, width_mm - 14.0) * ppm_c, False))
        for col, at_start in starts:
            spot = Spot(float(base), float(col))
            if at_start:
                label = seg.label if seg.label_box is not None else "none"
            elif _hits_label(spot, ppm_c, boxes):
                continue
            else:
                label = "none"
            win = label_window(
                page.image, spot, px_per_mm_row=ppm_r * scale, px_per_mm_col=ppm_c * scale
            )
            windows.append(win)
            classes.append(LABEL_CLASSES.index(label))
    return windows, classes


def label_examples(
    n_pages: int,
    *,
    split: Split,
    rng: int | Sequence[int] | np.random.Generator | None,
    dpi: tuple[float, float] = (80.0, 300.0),
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Windows (n, 75, 80) float32 and their classes (n,) from ``n_pages`` random pages."""
    rng = np.random.default_rng(rng)
    ids = split_ids(split)
    windows: list[NDArray[np.float32]] = []
    classes: list[int] = []
    for _ in range(n_pages):
        ecg_id = ids[int(rng.integers(len(ids)))]
        rates = available_fs(ecg_id)
        rec = load_record(ecg_id, fs=rates[int(rng.integers(len(rates)))])
        spec = random_spec(rng, overlap=float(rng.uniform(0.0, 1.0)), dpi=dpi)
        page = render_page(rec.p_signal, rec.fs, spec, rng=rng)
        look = rng.random()
        if look < 0.3:
            page, _ = random_degradations(page, rng=rng, p=0.35, exclude=GEOMETRIC)
        elif look < 0.8:
            page, _ = (photo_style if look < 0.55 else scan_style)(page, rng=rng, flat=True)
        w, c = page_examples(page, rng)
        windows += w
        classes += c
    x = np.stack(windows) if windows else np.zeros((0, *WINDOW_SHAPE), np.float32)
    return x.astype(np.float32), np.asarray(classes, dtype=np.int64)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Contrast, offset and noise per window (a photo's grey pen, a scan's speckle)."""
    n = x.shape[0]
    gain = 0.5 + torch.rand(n, 1, 1, 1, generator=gen)
    noise = 0.06 * torch.rand(n, 1, 1, 1, generator=gen) * torch.randn(x.shape, generator=gen)
    return (x * gain + noise).clamp(0.0, 1.0)


@dataclass(frozen=True)
class LabelTraining:
    """The trained model, its validation accuracy (all windows, and windows with a label) and
    the training wall time (s)."""

    model: LabelNet
    val_accuracy: float
    val_label_accuracy: float
    wall_s: float
    log: tuple[str, ...]


def accuracy(model: LabelNet, x: NDArray[np.float32], y: NDArray[np.int64]) -> tuple[float, float]:
    """Share of windows classified right, and of those holding a label."""
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(torch.from_numpy(x[i : i + 256, None])).argmax(1)
                          for i in range(0, len(x), 256)]).numpy()  # fmt: skip
    right = pred == y
    labelled = y != NONE
    return float(right.mean()), float(right[labelled].mean()) if labelled.any() else math.nan


def train_label_net(
    train: tuple[NDArray[np.float32], NDArray[np.int64]],
    val: tuple[NDArray[np.float32], NDArray[np.int64]],
    *,
    epochs: int = 16,
    batch: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    config: LabelNetConfig | None = None,
) -> LabelTraining:
    """Train a :class:`LabelNet` (AdamW, one-cycle cosine) and score it on ``val``."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_label_net(config)
    x, y = torch.from_numpy(train[0][:, None]), torch.from_numpy(train[1])
    steps = epochs * math.ceil(len(x) / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    log = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            loss = nn.functional.cross_entropy(model(_augment(x[idx], gen)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        acc, lab = accuracy(model, *val)
        log.append(f"epoch {epoch + 1}: loss {loss.item():.3f}, val {acc:.4f} (labels {lab:.4f})")
    acc, lab = accuracy(model, *val)
    return LabelTraining(model.eval(), acc, lab, time.perf_counter() - t0, tuple(log))


def export_label_net(model: LabelNet, path: Path, *, meta: dict[str, object]) -> None:
    """Write ``path`` (ONNX, dynamic batch), its ``.json`` (config, classes, window, ``meta``)
    beside it, and the PyTorch weights to :func:`~ecgtrace.train.export.torch_weights_path`."""
    model = model.eval()
    x = torch.zeros(1, 1, *WINDOW_SHAPE)
    atomic_write_bytes(path, onnx_bytes(model, x, {"x": {0: "n"}, "logits": {0: "n"}}))
    weights = io.BytesIO()
    torch.save(model.state_dict(), weights)
    atomic_write_bytes(torch_weights_path(path), weights.getvalue())
    write_json(
        Path(path).with_suffix(".json"),
        {"model": model.config.to_dict(), "classes": list(LABEL_CLASSES),
         "window_shape": list(WINDOW_SHAPE), **meta},
    )  # fmt: skip


def load_label_net(path: Path) -> LabelNet:
    """The PyTorch model (eval mode) exported with the ONNX model ``path``."""
    meta = json.loads(Path(path).with_suffix(".json").read_text())
    model = build_label_net(LabelNetConfig(widths=tuple(meta["model"]["widths"])))
    model.load_state_dict(torch.load(torch_weights_path(path), map_location="cpu"))
    return model.eval()
