"""The ``ecgtrace`` command. The only module that prints."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ecgtrace import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Turn ECG images into calibrated signals (mV against seconds).",
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(no_args_is_help=True, help="Speed benchmarks that print tables and JSON.")
app.add_typer(bench_app, name="bench")
eval_app = typer.Typer(no_args_is_help=True, help="Accuracy benchmarks that print tables and JSON.")
app.add_typer(eval_app, name="eval")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit with ``code``."""
    err.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code)


@app.callback(invoke_without_command=True)
def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    import logging

    # The library logs; here its warnings (already in each page's JSON) stay quiet unless a
    # command asks for more (digitize --verbose, train).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ecgtrace").setLevel(logging.ERROR)
    if version:
        out.print(f"ecgtrace {__version__}")
        raise typer.Exit()


def _parse_paper(paper: str) -> tuple[float, float] | None:
    from ecgtrace.render import PAPER_SIZES

    if paper.lower() == "fit":
        return None
    if paper.lower() in PAPER_SIZES:
        return PAPER_SIZES[paper.lower()]
    try:
        h, w = (float(v) for v in paper.lower().split("x"))
    except ValueError:
        fail(f"--paper {paper!r}: use letter, a4, fit or HEIGHTxWIDTH in mm (e.g. 210x297)")
    return h, w


def _leads(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


@app.command()
def digitize(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="ECG images (PNG, JPEG, TIFF, BMP, WebP) or PDFs; folders, globs "
            "('scans/**/*.jpg') and @list.txt (one path per line) too.",
            show_default=False,
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="Output folder, or an fsspec URL (s3://bucket/out, file://...)."
        ),
    ] = "out",
    layout: Annotated[
        str | None,
        typer.Option(
            help="Skip layout detection: 3x4, 3x4+II, 3x4+II,V1,V5, 6x2, 6x2+II, 12x1, single+V5."
        ),
    ] = None,
    cabrera: Annotated[
        bool | None,
        typer.Option("--cabrera/--standard-order", help="Limb-lead order (default: detected)."),
    ] = None,
    speed: Annotated[
        float | None, typer.Option(help="Paper speed, mm/s (default: pulses, else 25).")
    ] = None,
    gain: Annotated[
        float | None, typer.Option(help="Gain, mm/mV (default: pulses, else 10).")
    ] = None,
    fs: Annotated[float, typer.Option(help="Output sampling frequency, Hz.")] = 500.0,
    formats: Annotated[
        str, typer.Option("--format", help="Outputs, comma-separated: wfdb,csv,json,overlay.")
    ] = "wfdb,csv,json,overlay",
    method: Annotated[
        str, typer.Option(help="Segmenter: unet+ink, unet or classical.")
    ] = "unet+ink",
    dpi: Annotated[float, typer.Option(help="PDF: rasterise pages at this DPI.")] = 200.0,
    px_per_mm: Annotated[
        float | None, typer.Option(help="Grid pitch, px/mm, for pages without a grid.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Redo inputs whose outputs exist.")] = False,
    workers: Annotated[int, typer.Option(help="Local worker processes (0: one per core).")] = 0,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Run on a Dask cluster: tcp://HOST:8786, or local:N for a LocalCluster of N "
            "workers."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each stage.")] = False,
) -> None:
    """Digitize ECG pages: a WFDB record, CSV, JSON summary and overlay PNG per page.

    Exit code 0 when every input was digitized (or skipped: its outputs exist), 2 when the only
    input failed, 1 when some of several failed (each named in OUTPUT/summary.csv).
    """
    import contextlib
    import importlib
    import logging
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        Task,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from ecgtrace.batch import (
        ClusterError,
        InputResult,
        Options,
        expand_inputs,
        run_batch,
        run_cluster,
        write_summary,
    )
    from ecgtrace.io.outputs import FORMATS
    from ecgtrace.io.remote import LocationError

    if verbose:
        logging.getLogger("ecgtrace").setLevel(logging.INFO)
    elif cluster is not None:
        # Importing distributed sets its loggers to INFO: quiet (in this process) the lines of
        # a LocalCluster's scheduler and nannies. Without the extra, run_cluster says so.
        with contextlib.suppress(ImportError):
            importlib.import_module("distributed")
        logging.getLogger("distributed").setLevel(logging.WARNING)
    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        fail(f"unknown output format {', '.join(unknown) or formats!r}; use {', '.join(FORMATS)}")
    given = [fs, dpi] + [v for v in (speed, gain) if v is not None]
    if any(not v > 0 for v in given):
        fail("--fs, --dpi, --speed and --gain must be > 0")
    try:
        paths = expand_inputs(inputs)
    except OSError as exc:
        fail(f"cannot read the input list: {exc}")
    if not paths:
        fail(f"no input files found in {' '.join(inputs)}")
    options = Options(
        layout=layout,
        speed_mm_s=speed,
        gain_mm_mv=gain,
        fs=fs,
        lead_order=None if cabrera is None else ("cabrera" if cabrera else "standard"),
        method=method,
        px_per_mm=px_per_mm,
        dpi=dpi,
        formats=chosen,
        overwrite=overwrite,
    )
    if layout is not None:
        from ecgtrace.layout import LayoutError, parse_layout

        try:
            parse_layout(layout)
        except LayoutError as exc:
            fail(str(exc))
    if cluster is not None and workers > 0:
        fail("--workers is for local runs; with --cluster, the cluster's workers run the batch")
    n_workers = workers if workers > 0 else (os.cpu_count() or 1)
    n_workers = max(1, min(n_workers, len(paths)))
    t0 = time.perf_counter()
    single = len(paths) == 1

    class FilesPerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            rate = "" if task.speed is None else f"{task.speed:.2f} files/s"
            return Text(rate, style="progress.data.speed")

    columns = (BarColumn(), MofNCompleteColumn(), FilesPerSecond(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=single) as bar:
        task = bar.add_task("digitizing", total=len(paths))

        def report(r: InputResult) -> None:
            bar.advance(task)
            if r.status == "failed":
                err.print(f"error: {r.error}", highlight=False, markup=False)
            elif r.status == "skipped":
                out.print(
                    f"{r.file}: skipped (outputs exist; --overwrite redoes it)",
                    highlight=False,
                    markup=False,
                )
            else:
                out.print(
                    f"{r.file}: {r.layout}, confidence {r.mean_confidence:.2f}, "
                    f"{r.seconds:.2f} s -> {len(r.outputs)} files",
                    highlight=False,
                    markup=False,
                )

        try:
            if cluster is not None:
                results = run_cluster(paths, output, options, address=cluster, on_result=report)
            else:
                results = run_batch(paths, output, options, workers=n_workers, on_result=report)
        except (ClusterError, LocationError) as exc:
            fail(str(exc))
    failed = sum(r.status == "failed" for r in results)
    if not single:
        try:
            where = write_summary(results, output)
        except (OSError, LocationError) as exc:
            fail(f"cannot write summary.csv to {output}: {exc}")
        done = sum(r.status == "ok" for r in results)
        skipped = sum(r.status == "skipped" for r in results)
        out.print(
            f"{len(results)} inputs in {time.perf_counter() - t0:.1f} s: {done} digitized, "
            f"{skipped} skipped, {failed} failed; summary in {where}",
            highlight=False,
            markup=False,
        )
    if failed:
        raise typer.Exit(2 if single else 1)


@app.command()
def render(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")] = Path("out"),
    ecg_id: Annotated[
        int | None, typer.Option(help="PTB-XL record to draw (default: the bundled example).")
    ] = None,
    layout: Annotated[str, typer.Option(help="3x4, 6x2, 12x1 or single.")] = "3x4",
    rhythm: Annotated[str, typer.Option(help="Rhythm-strip leads, comma-separated.")] = "II",
    lead: Annotated[str, typer.Option(help="The lead of a single-lead strip.")] = "II",
    cabrera: Annotated[bool, typer.Option(help="Cabrera order of the limb leads.")] = False,
    speed: Annotated[float, typer.Option(help="Paper speed, mm/s.")] = 25.0,
    gain: Annotated[float, typer.Option(help="Gain, mm/mV.")] = 10.0,
    dpi: Annotated[float, typer.Option(help="Resolution, dots per inch.")] = 200.0,
    paper: Annotated[str, typer.Option(help="letter, a4, fit or HxW in mm.")] = "letter",
    grid: Annotated[
        str, typer.Option(help="Grid colour: pink red orange green blue grey.")
    ] = "pink",
    grid_style: Annotated[str, typer.Option(help="solid, dotted or none.")] = "solid",
    calibration: Annotated[
        str, typer.Option(help="Calibration pulses: left, right, none.")
    ] = "left",
    overlap: Annotated[float, typer.Option(help="0-1: tighten rows so traces cross.")] = 0.0,
    degrade: Annotated[str, typer.Option(help="Degradations, comma-separated, or 'random'.")] = "",
    strength: Annotated[float, typer.Option(help="Degradation strength, 0-1.")] = 0.7,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same files.")] = 0,
    crops: Annotated[
        int, typer.Option(help="Write a dataset of this many single-lead crops instead.")
    ] = 0,
    overlap_fraction: Annotated[float, typer.Option(help="Crops: share that overlap.")] = 0.5,
    split: Annotated[str, typer.Option(help="Crops: PTB-XL split to draw from.")] = "train",
) -> None:
    """Draw a PTB-XL record on ECG paper: PNG + JSON truth + NPZ masks (or a crop dataset)."""
    from ecgtrace import data
    from ecgtrace.io import save_rendered
    from ecgtrace.render import GridStyle, PageSpec, SpecError, render_page
    from ecgtrace.render import degrade as deg

    if crops > 0:
        _render_crops(output, crops, overlap_fraction, split, strength, seed)
        return
    try:
        rec = data.example_record() if ecg_id is None else data.load_record(ecg_id)
        spec = PageSpec(
            layout=layout,
            rhythm_leads=_leads(rhythm),
            single_lead=lead,
            lead_order="cabrera" if cabrera else "standard",
            speed_mm_s=speed,
            gain_mm_mv=gain,
            dpi=dpi,
            page_mm=_parse_paper(paper),
            grid=GridStyle.named(grid, style=grid_style),
            calibration=calibration,  # type: ignore[arg-type]
            overlap=overlap,
        )
        rng = np.random.default_rng(seed)
        page = render_page(rec.p_signal, rec.fs, spec, rng=rng)
        applied: tuple[str, ...] = ()
        if degrade == "random":
            page, applied = deg.random_degradations(page, strength=strength, rng=rng)
        elif degrade:
            applied = _leads(degrade)
            page = deg.apply(page, applied, strength=strength, rng=rng)
    except (SpecError, data.DataError, ValueError) as exc:
        fail(str(exc))
    stem = output / f"ecg{rec.ecg_id:05d}_{layout}_{dpi:g}dpi"
    meta = {"ecg_id": rec.ecg_id, "seed": seed, "degradations": list(applied), "spec": asdict(spec)}
    paths = save_rendered(page, stem, meta=meta)
    n_over = sum(s.overlap for s in page.truth.segments)
    out.print(
        f"{paths[0]}  {page.truth.shape[1]}x{page.truth.shape[0]} px, "
        f"{len(page.truth.segments)} lead segments ({n_over} overlapping)"
        + (f", degraded: {', '.join(applied)}" if applied else ""),
        highlight=False,
    )


def _render_crops(
    output: Path, n: int, overlap_fraction: float, split: str, strength: float, seed: int
) -> None:
    from ecgtrace import data
    from ecgtrace.io.files import write_json
    from ecgtrace.io.rendered import save_crop
    from ecgtrace.render.crops import iter_crops

    if split == "test":
        err.print("note: drawing crops from the test fold (fold 10): evaluate only, never train")
    try:
        ids = data.split_ids(split)  # type: ignore[arg-type]
        pick = np.random.default_rng(seed).permutation(len(ids))[: min(len(ids), 200)]
        records = [data.load_record(ids[i]) for i in pick]
        gen = iter_crops(
            [(r.p_signal, r.fs) for r in records],
            n,
            overlap_fraction=overlap_fraction,
            degrade=strength,
            rng=seed,
        )
        index = []
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("crops", total=n)
            for k, crop in enumerate(gen):
                _, row = save_crop(crop, output / f"crop_{k:06d}")
                index.append(row)
                bar.advance(task)
    except (data.DataError, ValueError, RuntimeError) as exc:
        fail(str(exc))
    write_json(output / "index.json", {"split": split, "seed": seed, "crops": index})
    n_over = sum(r["overlap"] for r in index)
    out.print(f"{output}: {len(index)} crops ({n_over} overlapping) from the {split} split")


@eval_app.command("crops")
def eval_crops(
    n: Annotated[int, typer.Option(help="Number of crops.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed: the same seed draws the same crops.")] = 0,
    split: Annotated[
        str, typer.Option(help="PTB-XL split: test (fold 10) or validation.")
    ] = "test",
    methods: Annotated[
        str,
        typer.Option(
            help="Methods, comma-separated: true mask, classical, unet, unet+ink (the U-Net's "
            "choice of the image's own ink), unet target (a perfect U-Net at its resolution)."
        ),
    ] = "true mask,classical,unet,unet+ink",
    source: Annotated[
        str,
        typer.Option(
            help="rendered: crops drawn by ecgtrace from a PTB-XL split; ecgtizer: lead crops "
            "cut from the ECGtizer PDFs (fold 10, another renderer; all of them, --n ignored)."
        ),
    ] = "rendered",
    dpi: Annotated[str, typer.Option(help="DPI range LOW,HIGH (or one value).")] = "100,300",
    clean: Annotated[bool, typer.Option(help="No degradations.")] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write every result here.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the table as Markdown here.")] = None,
) -> None:
    """Segment and extract N single-lead crops (half overlapping); print the table per method."""
    from ecgtrace import data
    from ecgtrace.evaluate import (
        crop_rows_markdown,
        evaluate_crops,
        score_crops,
        summarise_crops,
    )
    from ecgtrace.io.files import atomic_write_bytes, write_json

    if split not in ("test", "validation", "train"):
        fail(f"--split {split!r}: choose test, validation or train")
    try:
        dpis = [float(v) for v in dpi.split(",")]
    except ValueError:
        fail(f"--dpi {dpi!r}: give LOW,HIGH or one number")
    if source not in ("rendered", "ecgtizer"):
        fail(f"--source {source!r}: choose rendered or ecgtizer")
    try:
        with Progress(console=err, transient=True) as bar:
            if source == "ecgtizer":
                from ecgtrace.evaluate_ecgtizer import ecgtizer_crops, ecgtizer_ids

                ids = ecgtizer_ids()
                task = bar.add_task("crops", total=13 * len(ids))
                results = score_crops(
                    ecgtizer_crops(dpi=max(dpis), ids=ids),
                    methods=_leads(methods),
                    fs=500.0,
                    progress=lambda: bar.advance(task),
                )
            else:
                task = bar.add_task("crops", total=n)
                results = evaluate_crops(
                    n,
                    seed=seed,
                    split=split,  # type: ignore[arg-type]
                    methods=_leads(methods),
                    dpi=(min(dpis), max(dpis)),
                    degrade=0.0 if clean else 1.0,
                    progress=lambda: bar.advance(task),
                )
    except (data.DataError, ValueError) as exc:
        fail(str(exc))
    rows = summarise_crops(results)
    if source == "ecgtizer":
        title = f"lead crops of the ECGtizer PDFs (fold 10) at {max(dpis):g} DPI"
    else:
        look = "clean" if clean else "mixed degradations"
        title = f"single-lead crops, {split} split, n={n}, seed={seed}, DPI {dpi}, {look}"
    table = Table(title=title)
    for col in ("method", "subset", "n", "IoU", "MSE (mV^2)", "r", "SNR (dB)", "ms/crop"):
        table.add_column(col, justify="left" if col in ("method", "subset") else "right")
    for r in rows:
        table.add_row(
            r.method, r.subset, str(r.n), r.iou_text, f"{r.mse:.4f}", f"{r.r:.3f}",
            f"{r.snr:.2f}", f"{r.ms:.0f}",
        )  # fmt: skip
    out.print(table)
    if json_out is not None:
        write_json(
            json_out,
            {
                "source": source,
                "n": n,
                "seed": seed,
                "split": split,
                "dpi": dpi,
                "clean": clean,
                "rows": [asdict(r) for r in rows],
                "crops": [{**asdict(r), "degradations": list(r.degradations)} for r in results],
            },
        )
    if markdown is not None:
        atomic_write_bytes(markdown, crop_rows_markdown(rows).encode())


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
    import shlex
    import time

    try:
        from ecgtrace import train as tr
        from ecgtrace.segment.model import UNetConfig
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
    history = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    vals = [h for h in history if "val_iou" in h]
    last = vals[-1] if vals else history[-1]
    out.print(
        f"step {last['step']}: validation IoU {last.get('val_iou', float('nan')):.4f}, "
        f"training wall time {last['elapsed_s'] / 60:.1f} min"
    )
    if export is not None:
        meta = {
            "command": "ecgtrace " + shlex.join(sys.argv[1:]),
            "steps": last["step"],
            "train_wall_s": round(last["elapsed_s"]),
            "validation_iou": last.get("val_iou"),
            "train_crops": len(train_samples),
            "data": "PTB-XL training folds 1-8, rendered by ecgtrace.render",
        }
        tr.export_onnx(model, export, prep=cfg.prep, meta=meta)
        out.print(f"{export}: ONNX model written")


@bench_app.command("render")
def bench_render(
    n: Annotated[int, typer.Option(help="Timed runs per case.")] = 10,
    dpi: Annotated[str, typer.Option(help="DPIs, comma-separated.")] = "200",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the rows here.")] = None,
) -> None:
    """Render speed on one core: the bundled record in several layouts (target: 3x4 < 500 ms)."""
    from ecgtrace.evaluate import render_speed

    _one_core()
    try:
        dpis = tuple(float(v) for v in dpi.split(","))
    except ValueError:
        fail(f"--dpi {dpi!r}: give numbers separated by commas")
    rows = render_speed(n=n, dpis=dpis)
    table = Table(title=f"render speed, 1 core, {n} runs each (ms)")
    for col in ("case", "DPI", "pixels", "median", "p90", "min"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for r in rows:
        table.add_row(
            r.case, f"{r.dpi:g}", f"{r.shape[1]}x{r.shape[0]}",
            f"{r.median_ms:.0f}", f"{r.p90_ms:.0f}", f"{r.min_ms:.0f}",
        )  # fmt: skip
    out.print(table)
    if json_out is not None:
        from ecgtrace.io.files import write_json

        write_json(json_out, {"cores": 1, "rows": [asdict(r) for r in rows]})


def _one_core() -> None:
    import cv2

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)


@bench_app.command("unet")
def bench_unet(
    n: Annotated[int, typer.Option(help="Timed runs per crop.")] = 20,
    dpi: Annotated[float, typer.Option(help="Page DPI.")] = 200.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the rows here.")] = None,
) -> None:
    """U-Net inference per lead crop on one core with onnxruntime (target: 2.5 s crop <= 50 ms)."""
    from ecgtrace.evaluate import unet_speed

    _one_core()
    try:
        rows = unet_speed(n=n, dpi=dpi)
    except FileNotFoundError as exc:
        fail(str(exc))
    table = Table(title=f"U-Net inference, onnxruntime, 1 core, {n} runs each (ms)")
    for col in ("lead", "s", "crop px", "input px", "median", "p90", "min"):
        table.add_column(col, justify="left" if col == "lead" else "right")
    for r in rows:
        table.add_row(
            r.lead, f"{r.duration_s:g}", f"{r.crop_shape[1]}x{r.crop_shape[0]}",
            f"{r.input_shape[1]}x{r.input_shape[0]}",
            f"{r.median_ms:.1f}", f"{r.p90_ms:.1f}", f"{r.min_ms:.1f}",
        )  # fmt: skip
    out.print(table)
    if json_out is not None:
        from ecgtrace.io.files import write_json

        write_json(json_out, {"cores": 1, "rows": [asdict(r) for r in rows]})


def _read_input(path: Path, dpi: float) -> np.ndarray:
    """An image file, or the first page of a PDF rasterised at ``dpi``; fails on bad input."""
    from ecgtrace.io.images import InputError, read_image
    from ecgtrace.io.pdf import rasterize_pdf

    try:
        if path.suffix.lower() == ".pdf":
            return rasterize_pdf(path, dpi=dpi, pages=1)[0]
        return read_image(path)
    except InputError as exc:
        fail(str(exc))


@app.command("grid")
def grid_command(
    image: Annotated[Path, typer.Argument(help="An image (PNG, JPEG, TIFF, BMP, WebP) or PDF.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    dpi: Annotated[float, typer.Option(help="PDF: rasterise the first page at this DPI.")] = 200.0,
) -> None:
    """Detect the ECG grid: px/mm along rows and cols, rotation, phase, confidence."""
    import json

    from ecgtrace.grid import detect_grid

    grid = detect_grid(_read_input(image, dpi))
    if json_out:
        doc: dict[str, object] = {"image": str(image)}
        for key, value in grid.as_dict().items():
            finite = not isinstance(value, float) or np.isfinite(value)
            doc[key] = value if finite else None
        out.print(json.dumps(doc), highlight=False, markup=False, soft_wrap=True)
    elif grid.found:
        out.print(
            f"{image}: {grid.px_per_mm_row:.3f} px/mm (rows), {grid.px_per_mm_col:.3f} px/mm "
            f"(cols), rotation {grid.rotation_deg:+.2f} deg, confidence {grid.confidence:.2f}",
            highlight=False,
            markup=False,
        )
    if not grid.found:
        fail(f"{image}: no ECG grid found (confidence {grid.confidence:.2f})")


@eval_app.command("pages")
def eval_pages(
    source: Annotated[
        str,
        typer.Option(
            help="rendered: fold-10 records drawn by ecgtrace (mixed layouts, overlap-rich, half "
            "degraded); ecgtizer: the 66 ECGtizer PDFs (fold 10, another renderer)."
        ),
    ] = "rendered",
    n: Annotated[int, typer.Option(help="Rendered pages (ignored for ecgtizer).")] = 100,
    seed: Annotated[int, typer.Option(help="Seed: the same seed draws the same pages.")] = 0,
    methods: Annotated[
        str, typer.Option(help="Segmenters, comma-separated: unet+ink, unet, classical.")
    ] = "unet+ink",
    dpi: Annotated[
        str,
        typer.Option(help="rendered: DPI range LOW,HIGH; ecgtizer: each DPI listed (100,200,300)."),
    ] = "",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write rows and every page here.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the table as Markdown here.")] = None,
) -> None:
    """Digitize whole pages and score them against their truth (Challenge SNR, r, MSE, layout)."""
    from dataclasses import replace

    from ecgtrace import data
    from ecgtrace import evaluate_pages as ep
    from ecgtrace.io.files import atomic_write_bytes, write_json

    if source not in ("rendered", "ecgtizer"):
        fail(f"--source {source!r}: choose rendered or ecgtizer")
    try:
        dpis = [
            float(v) for v in (dpi or ("200" if source == "ecgtizer" else "100,300")).split(",")
        ]
    except ValueError:
        fail(f"--dpi {dpi!r}: give numbers separated by commas")
    chosen = _leads(methods)
    results: list[ep.PageResult] = []
    rows: list[ep.PageRow] = []
    try:
        with Progress(console=err, transient=True) as bar:
            for method in chosen:
                if source == "ecgtizer":
                    from ecgtrace.evaluate_ecgtizer import ecgtizer_ids

                    for d in dpis:
                        task = bar.add_task(f"{method} {d:g} DPI", total=len(ecgtizer_ids()))
                        batch = []
                        for result in ep.ecgtizer_pages(dpi=d, method=method):
                            batch.append(result)
                            bar.advance(task)
                        results += batch
                        rows += [
                            replace(r, source=f"ecgtizer {d:g} DPI")
                            for r in ep.summarise_pages(batch)
                        ]
                else:
                    task = bar.add_task(method, total=n)
                    batch = []
                    for result in ep.rendered_pages(
                        n=n, seed=seed, method=method, dpi=(min(dpis), max(dpis))
                    ):
                        batch.append(result)
                        bar.advance(task)
                    results += batch
                    rows += ep.summarise_pages(batch)
    except (data.DataError, ValueError) as exc:
        fail(str(exc))
    table = Table(title=f"pages: {source}, methods {methods}, DPI {dpi or dpis}, seed {seed}")
    heads = ("source", "method", "subset", "n", "leads", "MSE (mV^2)", "r", "SNR (dB)",
             "layout ok", "s/page", "p90 s", "failed")  # fmt: skip
    for col in heads:
        table.add_column(col, justify="left" if col in heads[:3] else "right")
    for r in rows:
        table.add_row(
            r.source, r.method, r.subset, str(r.n), str(r.n_leads), f"{r.mse:.4f}", f"{r.r:.3f}",
            f"{r.snr:.2f}", f"{100 * r.layout_acc:.0f} %", f"{r.seconds:.2f}",
            f"{r.p90_seconds:.2f}", str(r.errors),
        )  # fmt: skip
    out.print(table)
    stages = Table(title="time per stage (s, pages digitized)")
    for col in ("source", "method", "stage", "n", "mean", "p90"):
        stages.add_column(col)
    for sr in ep.stage_times_rows(results):
        stages.add_row(
            sr.source, sr.method, sr.stage, str(sr.n), f"{sr.mean_s:.3f}", f"{sr.p90_s:.3f}"
        )
    out.print(stages)
    if json_out is not None:
        doc = ep.pages_json(results, rows)
        doc.update({"source": source, "n": n, "seed": seed, "dpi": dpi, "methods": chosen})
        write_json(json_out, doc)
    if markdown is not None:
        atomic_write_bytes(markdown, ep.pages_markdown(rows).encode())


@bench_app.command("pages")
def bench_pages(
    n: Annotated[int, typer.Option(help="Timed runs per page.")] = 5,
    threads: Annotated[int, typer.Option(help="Threads for the lead boxes (2 cores: 2).")] = 2,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the timings here.")] = None,
) -> None:
    """End-to-end time per 200 DPI page (clean 3x4+II, 6x2+II, 12x1), with the time per stage."""
    from ecgtrace.data import example_record
    from ecgtrace.io.files import write_json
    from ecgtrace.pipeline import digitize_image
    from ecgtrace.render import PageSpec, render_page

    rec = example_record()
    specs = {
        "3x4+II": PageSpec(),
        "6x2+II": PageSpec(layout="6x2", rhythm_leads=("II",)),
        "12x1": PageSpec(layout="12x1"),
    }
    table = Table(title=f"digitize, 200 DPI page, {threads} thread(s), median of {n} runs (s)")
    cols = ("page", "px", "total", "grid", "deskew", "layout", "segment", "extract", "min total")
    for col in cols:
        table.add_column(col, justify="left" if col == "page" else "right")
    doc: dict[str, object] = {"threads": threads, "n": n, "cpu_count": os.cpu_count(), "pages": {}}
    for name, spec in specs.items():
        image = render_page(rec.p_signal, rec.fs, spec, rng=0).image
        digitize_image(image, threads=threads)  # warm: the model loads once per process
        runs = [digitize_image(image, threads=threads).times for _ in range(n)]
        med = {k: float(np.median([getattr(r, k) for r in runs])) for k in vars(runs[0])}
        table.add_row(
            name, f"{image.shape[1]}x{image.shape[0]}", f"{med['total_s']:.2f}",
            f"{med['grid_s']:.2f}", f"{med['deskew_s']:.3f}", f"{med['layout_s']:.2f}",
            f"{med['segment_s']:.2f}", f"{med['extract_s']:.2f}",
            f"{min(r.total_s for r in runs):.2f}",
        )  # fmt: skip
        doc["pages"][name] = {"px": list(image.shape[:2]), "median_s": med}  # type: ignore[index]
    out.print(table)
    if json_out is not None:
        write_json(json_out, doc)


@eval_app.command("grid")
def eval_grid(
    n: Annotated[int, typer.Option(help="Number of random renders (0: none).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed: the same seed draws the same renders.")] = 0,
    pdf_dpi: Annotated[
        str, typer.Option(help="ECGtizer PDFs: DPIs, comma-separated ('' to skip).")
    ] = "100,150,200,300",
    scans_out: Annotated[
        Path | None, typer.Option(help="Also write grid overlays of the real scans here.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write every result here.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write the tables as Markdown here.")
    ] = None,
) -> None:
    """Grid accuracy: N seeded renders (72-600 DPI, all styles, degradations) and ECGtizer PDFs."""
    from ecgtrace import data
    from ecgtrace import evaluate_grid as eg
    from ecgtrace.io.files import atomic_write_bytes, write_json

    try:
        dpis = tuple(float(v) for v in pdf_dpi.split(",") if v.strip())
    except ValueError:
        fail(f"--pdf-dpi {pdf_dpi!r}: give numbers separated by commas")
    command = "ecgtrace eval grid " + " ".join(sys.argv[3:])
    doc: dict = {"n": n, "seed": seed, "pdf_dpi": list(dpis)}
    renders = pdfs = None
    try:
        if n > 0:
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("renders", total=n)
                rows = eg.render_benchmark(
                    n, seed, progress=lambda k: bar.update(task, completed=k)
                )
            renders = eg.summarise_renders(rows)
            table = Table(title=f"grid on {n} renders (seed {seed}): 0.5 % px/mm, 0.2 deg")
            table.add_column("section")
            table.add_column("group")
            for col in eg.BREAKDOWN_COLUMNS:
                table.add_column(col, justify="right")
            for section, name, cells in eg.breakdown_rows(renders):
                table.add_row(section, name, *cells)
            out.print(table)
            nog, gone = renders["no_grid"], renders["grid_erased"]
            out.print(
                f"no-grid renders: {nog['n']}, reported as no grid "
                f"{100 * nog['found_false']:.0f} %;"
                f" grid erased by binarisation: {gone['n']}; failures: {len(renders['failures'])};"
                f" median {renders['ms_median']:.0f} ms per image",
                highlight=False,
            )
            doc["renders"] = renders
            doc["render_cases"] = [
                {**asdict(r), "degradations": list(r.degradations)} for r in rows
            ]
        folder = data.data_dir() / "ecgtizer-pdf"
        if dpis and folder.is_dir():
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("PDFs", total=len(list(folder.glob("*.pdf"))) * len(dpis))
                prow = eg.pdf_benchmark(
                    folder, dpis, progress=lambda k: bar.update(task, completed=k)
                )
            pdfs = eg.summarise_pdfs(prow)
            table = Table(title=f"grid on the ECGtizer PDFs ({len(prow) // len(dpis)} files)")
            for col in eg.PDF_COLUMNS:
                table.add_column(col, justify="right")
            for cells in eg.pdf_rows(pdfs):
                table.add_row(*cells)
            out.print(table)
            doc["pdfs"] = pdfs
            doc["pdf_cases"] = [asdict(r) for r in prow]
        elif dpis:
            err.print(f"note: {folder} not found; PDFs skipped")
        if scans_out is not None:
            srows = eg.scan_overlays(data.data_dir() / "scans", scans_out)
            table = Table(title=f"grid on the real scans (overlays in {scans_out})")
            for col in ("scan", "found", "px/mm row", "px/mm col", "rotation", "confidence"):
                table.add_column(col, justify="left" if col == "scan" else "right")
            for r in srows:
                table.add_row(
                    r.name, str(r.found), f"{r.px_per_mm_row:.3f}", f"{r.px_per_mm_col:.3f}",
                    f"{r.rotation_deg:+.2f}", f"{r.confidence:.2f}",
                )  # fmt: skip
            out.print(table)
            doc["scans"] = [asdict(r) for r in srows]
    except (data.DataError, ValueError, OSError) as exc:
        fail(str(exc))
    if json_out is not None:
        write_json(json_out, doc)
    if markdown is not None:
        atomic_write_bytes(markdown, eg.markdown_report(renders, pdfs, command=command).encode())


def run() -> None:  # pragma: no cover - console entry point wrapper
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
