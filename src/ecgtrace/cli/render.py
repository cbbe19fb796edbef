"""``ecgtrace render``: draw a PTB-XL record on ECG paper, or write a dataset of lead crops."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import Progress

from ecgtrace.cli import app, err, fail, out
from ecgtrace.cli.parsing import comma_list, parse_paper


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
            rhythm_leads=comma_list(rhythm),
            single_lead=lead,
            lead_order="cabrera" if cabrera else "standard",
            speed_mm_s=speed,
            gain_mm_mv=gain,
            dpi=dpi,
            page_mm=parse_paper(paper),
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
            applied = comma_list(degrade)
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
