"""``ecgtrace bench``: speed benchmarks (rendering, U-Net per crop, whole pages)."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from ecgtrace.cli import bench_app, fail, out
from ecgtrace.cli.parsing import floats

JsonOption = Annotated[Path | None, typer.Option("--json", help="Write the rows here.")]


def _one_core() -> None:
    import cv2

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)


@bench_app.command("render")
def bench_render(
    n: Annotated[int, typer.Option(help="Timed runs per case.")] = 10,
    dpi: Annotated[str, typer.Option(help="DPIs, comma-separated.")] = "200",
    json_out: JsonOption = None,
) -> None:
    """Render speed on one core: the bundled record in several layouts (target: 3x4 < 500 ms)."""
    from ecgtrace.bench.speed import render_speed, render_speed_table

    _one_core()
    dpis = tuple(floats(dpi, "--dpi"))
    rows = render_speed(n=n, dpis=dpis)
    out.print(render_speed_table(rows, n).to_rich())
    if json_out is not None:
        from ecgtrace.io.files import write_json

        write_json(json_out, {"cores": 1, "rows": [asdict(r) for r in rows]})


@bench_app.command("unet")
def bench_unet(
    n: Annotated[int, typer.Option(help="Timed runs per crop.")] = 20,
    dpi: Annotated[float, typer.Option(help="Page DPI.")] = 200.0,
    json_out: JsonOption = None,
) -> None:
    """U-Net inference per lead crop on one core with onnxruntime (target: 2.5 s crop <= 50 ms)."""
    from ecgtrace.bench.speed import unet_speed, unet_speed_table

    _one_core()
    try:
        rows = unet_speed(n=n, dpi=dpi)
    except FileNotFoundError as exc:
        fail(str(exc))
    out.print(unet_speed_table(rows, n).to_rich())
    if json_out is not None:
        from ecgtrace.io.files import write_json

        write_json(json_out, {"cores": 1, "rows": [asdict(r) for r in rows]})


@bench_app.command("pages")
def bench_pages(
    n: Annotated[int, typer.Option(help="Timed runs per page.")] = 5,
    threads: Annotated[int, typer.Option(help="Threads for the lead boxes (2 cores: 2).")] = 2,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the timings here.")] = None,
) -> None:
    """End-to-end time per 200 DPI page (clean 3x4+II, 6x2+II, 12x1), with the time per stage."""
    from ecgtrace.bench.speed import page_speed, page_speed_json, page_speed_table
    from ecgtrace.io.files import write_json

    rows = page_speed(n=n, threads=threads)
    out.print(page_speed_table(rows, n=n, threads=threads).to_rich())
    if json_out is not None:
        write_json(json_out, page_speed_json(rows, n=n, threads=threads))
