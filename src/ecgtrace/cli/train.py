"""``ecgtrace train``: train the U-Net on rendered crops (needs the ``train`` extra)."""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress

from ecgtrace.cli import app, err, fail, out

if TYPE_CHECKING:
    from ecgtrace import train as tr


@app.command("train")
def train_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Run folder: checkpoint, config, log.")
    ] = Path("runs/unet"),
    cache: Annotated[Path, typer.Option(help="Crop cache folder (made if missing).")] = Path(
        "runs/crops"
    ),
    shards: Annotated[int, typer.Option(help="Training shards (training split).")] = 30,
    pages_per_shard: Annotated[int, typer.Option(help="Rendered pages per shard.")] = 40,
    val_shards: Annotated[int, typer.Option(help="Validation shards (fold 9).")] = 2,
    val_pages: Annotated[int, typer.Option(help="Rendered pages per validation shard.")] = 16,
    steps: Annotated[int, typer.Option(help="Optimiser steps in all (resume continues).")] = 3000,
    batch: Annotated[int, typer.Option(help="Windows per step.")] = 16,
    base: Annotated[int, typer.Option(help="U-Net width of the first level.")] = 8,
    depth: Annotated[int, typer.Option(help="U-Net poolings.")] = 4,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, cosine).")] = 3e-3,
    seed: Annotated[int, typer.Option(help="Seed of the data and the run.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes rendering the cache.")] = 2,
    threads: Annotated[int, typer.Option(help="PyTorch threads.")] = 2,
    export: Annotated[
        Path | None, typer.Option(help="Write the trained model here as ONNX (+ .json).")
    ] = None,
) -> None:
    """Train the U-Net on rendered crops (resumable: run the same command again to go on)."""
    import logging

    try:
        from ecgtrace import train as tr
        from ecgtrace.train import UNetConfig
    except ImportError as exc:
        fail(f"training needs the train extra (pip install -e '.[train]'): {exc}")
    logging.getLogger("ecgtrace").setLevel(logging.INFO)
    cfg = tr.TrainConfig(
        model=UNetConfig(base=base, depth=depth), steps=steps, batch=batch, lr=lr, seed=seed
    )
    t0 = time.perf_counter()
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("rendering crops", total=shards + val_shards)
        tick = lambda: bar.advance(task)  # noqa: E731
        val_files = tr.generate_shards(
            cache, split="validation", shards=val_shards, pages_per_shard=val_pages,
            seed=seed, workers=workers, progress=tick,
        )  # fmt: skip
        train_files = tr.generate_shards(
            cache, split="train", shards=shards, pages_per_shard=pages_per_shard,
            seed=seed, workers=workers, progress=tick,
        )  # fmt: skip
    train_samples = [s for f in train_files for s in tr.load_shard(f)]
    val_samples = [s for f in val_files for s in tr.load_shard(f)]
    n_over = sum(s.overlap for s in train_samples)
    out.print(
        f"{len(train_samples)} training crops ({n_over} overlapping), "
        f"{len(val_samples)} validation crops; cache ready in {time.perf_counter() - t0:.0f} s"
    )
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("training", total=steps)
        model = tr.train(
            out_dir, train_samples, val_samples, cfg, threads=threads,
            progress=lambda step, loss: bar.update(task, completed=step, description=f"{loss:.3f}"),
        )  # fmt: skip
    last = _last_step(out_dir)
    out.print(
        f"step {last.step}: validation IoU {_or_nan(last.val_iou):.4f}, "
        f"training wall time {last.elapsed_s / 60:.1f} min"
    )
    if export is not None:
        _export(model, cfg, export, last, n_train=len(train_samples))


@dataclass(frozen=True)
class LastStep:
    """The run log's last validation entry (else its last entry)."""

    step: int
    elapsed_s: float
    val_iou: float | None


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _last_step(out_dir: Path) -> LastStep:
    history = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    vals = [h for h in history if "val_iou" in h]
    last = vals[-1] if vals else history[-1]
    return LastStep(step=last["step"], elapsed_s=last["elapsed_s"], val_iou=last.get("val_iou"))


def _export(
    model: object, cfg: tr.TrainConfig, path: Path, last: LastStep, *, n_train: int
) -> None:
    """Write the trained model as ONNX with what made it."""
    from ecgtrace import train as tr

    meta = {
        "command": "ecgtrace " + shlex.join(sys.argv[1:]),
        "steps": last.step,
        "train_wall_s": round(last.elapsed_s),
        "validation_iou": last.val_iou,
        "train_crops": n_train,
        "data": "PTB-XL training folds 1-8, rendered by ecgtrace.render",
    }
    tr.export_onnx(model, path, prep=cfg.prep, meta=meta)  # type: ignore[arg-type]
    out.print(f"{path}: ONNX model written")


@app.command("train-labels")
def train_labels_command(
    pages: Annotated[int, typer.Option(help="Rendered training pages (training split).")] = 360,
    val_pages: Annotated[int, typer.Option(help="Rendered validation pages (fold 9).")] = 60,
    epochs: Annotated[int, typer.Option(help="Passes over the training windows.")] = 16,
    seed: Annotated[int, typer.Option(help="Seed of the data and the run.")] = 0,
    cache: Annotated[
        Path, typer.Option(help="Windows cache (.npz; made if missing, reused if there).")
    ] = Path("runs/labels/windows.npz"),
    export: Annotated[
        Path | None, typer.Option(help="Write the trained classifier here (ONNX + .json).")
    ] = None,
) -> None:
    """Train the lead-label classifier on label windows cut from rendered pages."""
    try:
        from ecgtrace.train import labels as tl
    except ImportError as exc:
        fail(f"training needs the train extra (pip install -e '.[train]'): {exc}")
    import numpy as np

    if cache.exists():
        data = np.load(cache)
        train, val = (data["x"], data["y"]), (data["xv"], data["yv"])
    else:
        err.print(f"rendering {pages} + {val_pages} pages for label windows ...")
        train = tl.label_examples(pages, split="train", rng=[seed, 0])
        val = tl.label_examples(val_pages, split="validation", rng=[seed, 1])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, x=train[0], y=train[1], xv=val[0], yv=val[1])
    err.print(f"{len(train[1])} training and {len(val[1])} validation windows")
    result = tl.train_label_net(train, val, epochs=epochs, seed=seed)
    for line in result.log:
        out.print(line)
    out.print(f"validation accuracy {result.val_accuracy:.4f}, on labels "
              f"{result.val_label_accuracy:.4f}, {result.wall_s:.0f} s")  # fmt: skip
    if export is not None:
        meta = {
            "command": "ecgtrace " + shlex.join(sys.argv[1:]),
            "train_windows": len(train[1]),
            "validation_windows": len(val[1]),
            "validation_accuracy": round(result.val_accuracy, 4),
            "validation_label_accuracy": round(result.val_label_accuracy, 4),
            "train_wall_s": round(result.wall_s),
            "data": "PTB-XL training folds 1-8 (validation: fold 9), rendered by ecgtrace.render; "
            "25 % each as flat photo and scan styles",
        }
        tl.export_label_net(result.model, export, meta=meta)
        out.print(f"{export}: ONNX model written")
