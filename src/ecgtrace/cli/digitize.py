"""``ecgtrace digitize``: ECG pages to WFDB, CSV, JSON and overlays, one or many at a time."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeRemainingColumn,
)
from rich.text import Text

from ecgtrace.batch import InputResult, Options
from ecgtrace.cli import app, err, fail, say

Inputs = Annotated[
    list[str],
    typer.Argument(
        help="ECG images (PNG, JPEG, TIFF, BMP, WebP) or PDFs; folders, globs "
        "('scans/**/*.jpg') and @list.txt (one path per line) too.",
        show_default=False,
    ),
]
OutputOption = Annotated[
    str,
    typer.Option(
        "--output", "-o", help="Output folder, or an fsspec URL (s3://bucket/out, file://...)."
    ),
]
LayoutOption = Annotated[
    str | None,
    typer.Option(
        help="Skip layout detection: 3x4, 3x4+II, 3x4+II,V1,V5, 6x2, 6x2+II, 12x1, single+V5."
    ),
]
CabreraOption = Annotated[
    bool | None,
    typer.Option("--cabrera/--standard-order", help="Limb-lead order (default: detected)."),
]
SpeedOption = Annotated[
    float | None, typer.Option(help="Paper speed, mm/s (default: pulses, else 25).")
]
GainOption = Annotated[float | None, typer.Option(help="Gain, mm/mV (default: pulses, else 10).")]
FsOption = Annotated[float, typer.Option(help="Output sampling frequency, Hz.")]
FormatOption = Annotated[
    str, typer.Option("--format", help="Outputs, comma-separated: wfdb,csv,json,overlay.")
]
MethodOption = Annotated[str, typer.Option(help="Segmenter: unet+ink, unet or classical.")]
DpiOption = Annotated[float, typer.Option(help="PDF: rasterise pages at this DPI.")]
PxPerMmOption = Annotated[
    float | None, typer.Option(help="Grid pitch, px/mm, for pages without a grid.")
]
OverwriteOption = Annotated[bool, typer.Option(help="Redo inputs whose outputs exist.")]
WorkersOption = Annotated[int, typer.Option(help="Local worker processes (0: one per core).")]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        help="Run on a Dask cluster: tcp://HOST:8786, or local:N for a LocalCluster of N workers."
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log each stage.")]


@app.command()
def digitize(
    inputs: Inputs,
    output: OutputOption = "out",
    layout: LayoutOption = None,
    cabrera: CabreraOption = None,
    speed: SpeedOption = None,
    gain: GainOption = None,
    fs: FsOption = 500.0,
    formats: FormatOption = "wfdb,csv,json,overlay",
    method: MethodOption = "unet+ink",
    dpi: DpiOption = 200.0,
    px_per_mm: PxPerMmOption = None,
    overwrite: OverwriteOption = False,
    workers: WorkersOption = 0,
    cluster: ClusterOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Digitize ECG pages: a WFDB record, CSV, JSON summary and overlay PNG per page.

    Exit code 0 when every input was digitized (or skipped: its outputs exist), 2 when the only
    input failed, 1 when some of several failed (each named in OUTPUT/summary.csv).
    """
    _set_logging(verbose=verbose, cluster=cluster is not None)
    chosen = _formats(formats)
    if any(not v > 0 for v in [fs, dpi] + [v for v in (speed, gain) if v is not None]):
        fail("--fs, --dpi, --speed and --gain must be > 0")
    paths = _input_paths(inputs)
    options = Options(
        layout=_checked_layout(layout),
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
    if cluster is not None and workers > 0:
        fail("--workers is for local runs; with --cluster, the cluster's workers run the batch")
    t0 = time.perf_counter()
    results = _run(paths, output, options, cluster=cluster, workers=workers)
    failed = sum(r.status == "failed" for r in results)
    single = len(paths) == 1
    if not single:
        _summary(results, output, seconds=time.perf_counter() - t0)
    if failed:
        raise typer.Exit(2 if single else 1)


def _set_logging(*, verbose: bool, cluster: bool) -> None:
    if verbose:
        logging.getLogger("ecgtrace").setLevel(logging.INFO)
    elif cluster:
        # Importing distributed sets its loggers to INFO: quiet (in this process) the lines of
        # a LocalCluster's scheduler and nannies. Without the extra, run_cluster says so.
        with contextlib.suppress(ImportError):
            importlib.import_module("distributed")
        logging.getLogger("distributed").setLevel(logging.WARNING)


def _formats(formats: str) -> tuple[str, ...]:
    from ecgtrace.io.outputs import FORMATS

    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        fail(f"unknown output format {', '.join(unknown) or formats!r}; use {', '.join(FORMATS)}")
    return chosen


def _input_paths(inputs: list[str]) -> list[Path]:
    from ecgtrace.batch import expand_inputs

    try:
        paths = expand_inputs(inputs)
    except OSError as exc:
        fail(f"cannot read the input list: {exc}")
    if not paths:
        fail(f"no input files found in {' '.join(inputs)}")
    return paths


def _checked_layout(layout: str | None) -> str | None:
    """``layout`` as given, once it parses."""
    if layout is not None:
        from ecgtrace.leads import LayoutError, parse_layout

        try:
            parse_layout(layout)
        except LayoutError as exc:
            fail(str(exc))
    return layout


class FilesPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = "" if task.speed is None else f"{task.speed:.2f} files/s"
        return Text(rate, style="progress.data.speed")


def _report(r: InputResult) -> None:
    """One line per input as it is done."""
    if r.status == "failed":
        err.print(f"error: {r.error}", highlight=False, markup=False)
    elif r.status == "skipped":
        say(f"{r.file}: skipped (outputs exist; --overwrite redoes it)")
    else:
        say(
            f"{r.file}: {r.layout}, confidence {r.mean_confidence:.2f}, "
            f"{r.seconds:.2f} s -> {len(r.outputs)} files"
        )


def _run(
    paths: Sequence[Path], output: str, options: Options, *, cluster: str | None, workers: int
) -> list[InputResult]:
    """Digitize every input, locally or on the cluster, with a progress bar for several."""
    from ecgtrace.batch import ClusterError, run_batch, run_cluster
    from ecgtrace.io.remote import LocationError

    n_workers = workers if workers > 0 else (os.cpu_count() or 1)
    n_workers = max(1, min(n_workers, len(paths)))
    columns = (BarColumn(), MofNCompleteColumn(), FilesPerSecond(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=len(paths) == 1) as bar:
        task = bar.add_task("digitizing", total=len(paths))

        def report(r: InputResult) -> None:
            bar.advance(task)
            _report(r)

        try:
            if cluster is not None:
                return run_cluster(paths, output, options, address=cluster, on_result=report)
            return run_batch(paths, output, options, workers=n_workers, on_result=report)
        except (ClusterError, LocationError) as exc:
            fail(str(exc))


def _summary(results: Sequence[InputResult], output: str, *, seconds: float) -> None:
    """Write OUTPUT/summary.csv and say how the batch went."""
    from ecgtrace.batch import write_summary
    from ecgtrace.io.remote import LocationError

    try:
        where = write_summary(results, output)
    except (OSError, LocationError) as exc:
        fail(f"cannot write summary.csv to {output}: {exc}")
    done = sum(r.status == "ok" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    failed = sum(r.status == "failed" for r in results)
    say(
        f"{len(results)} inputs in {seconds:.1f} s: {done} digitized, "
        f"{skipped} skipped, {failed} failed; summary in {where}"
    )
