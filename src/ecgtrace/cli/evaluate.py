"""``ecgtrace eval``: accuracy benchmarks (lead crops, whole pages, the grid)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress

from ecgtrace.cli import err, eval_app, fail, out
from ecgtrace.cli.parsing import comma_list, floats

if TYPE_CHECKING:
    from ecgtrace.bench.crops import CropResult
    from ecgtrace.bench.grid import PdfCase, RenderCase
    from ecgtrace.bench.grid_summary import RenderSummary
    from ecgtrace.bench.pages import PageResult

MarkdownOption = Annotated[Path | None, typer.Option(help="Write the table as Markdown here.")]
CROP_SOURCE_HELP = (
    "rendered: crops drawn by ecgtrace from a PTB-XL split; ecgtizer: lead crops "
    "cut from the ECGtizer PDFs (fold 10, another renderer; all of them, --n ignored)."
)


def _write_markdown(path: Path, text: str) -> None:
    from ecgtrace.io.files import atomic_write_bytes

    atomic_write_bytes(path, text.encode())


# ---- crops -------------------------------------------------------------------------------------


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
    source: Annotated[str, typer.Option(help=CROP_SOURCE_HELP)] = "rendered",
    dpi: Annotated[str, typer.Option(help="DPI range LOW,HIGH (or one value).")] = "100,300",
    clean: Annotated[bool, typer.Option(help="No degradations.")] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write every result here.")
    ] = None,
    markdown: MarkdownOption = None,
) -> None:
    """Segment and extract N single-lead crops (half overlapping); print the table per method."""
    from ecgtrace.bench.crops import crops_table, summarise_crops

    if split not in ("test", "validation", "train"):
        fail(f"--split {split!r}: choose test, validation or train")
    dpis = floats(dpi, "--dpi", "give LOW,HIGH or one number")
    if source not in ("rendered", "ecgtizer"):
        fail(f"--source {source!r}: choose rendered or ecgtizer")
    results = _crop_results(source, comma_list(methods), dpis, n=n, seed=seed, split=split,
                            clean=clean)  # fmt: skip
    rows = summarise_crops(results)
    if source == "ecgtizer":
        title = f"lead crops of the ECGtizer PDFs (fold 10) at {max(dpis):g} DPI"
    else:
        look = "clean" if clean else "mixed degradations"
        title = f"single-lead crops, {split} split, n={n}, seed={seed}, DPI {dpi}, {look}"
    table = crops_table(rows, title)
    out.print(table.to_rich())
    if json_out is not None:
        from ecgtrace.io.files import write_json

        run = {"source": source, "n": n, "seed": seed, "split": split, "dpi": dpi, "clean": clean}
        write_json(
            json_out,
            {**run, "rows": [asdict(r) for r in rows], "crops": [asdict(r) for r in results]},
        )
    if markdown is not None:
        _write_markdown(markdown, table.to_markdown())


def _crop_results(
    source: str,
    methods: Sequence[str],
    dpis: Sequence[float],
    *,
    n: int,
    seed: int,
    split: str,
    clean: bool,
) -> list[CropResult]:
    """Every crop of ``source`` scored by each method, with a progress bar."""
    from ecgtrace import data
    from ecgtrace.bench.crops import evaluate_crops, score_crops

    try:
        with Progress(console=err, transient=True) as bar:
            if source == "ecgtizer":
                from ecgtrace.bench.ecgtizer import ecgtizer_ids
                from ecgtrace.bench.ecgtizer_crops import ecgtizer_crops

                ids = ecgtizer_ids()
                task = bar.add_task("crops", total=13 * len(ids))
                return score_crops(
                    ecgtizer_crops(dpi=max(dpis), ids=ids),
                    methods=methods,
                    fs=500.0,
                    progress=lambda: bar.advance(task),
                )
            task = bar.add_task("crops", total=n)
            return evaluate_crops(
                n,
                seed=seed,
                split=split,  # type: ignore[arg-type]
                methods=methods,
                dpi=(min(dpis), max(dpis)),
                degrade=0.0 if clean else 1.0,
                progress=lambda: bar.advance(task),
            )
    except (data.DataError, ValueError) as exc:
        fail(str(exc))


# ---- pages -------------------------------------------------------------------------------------


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
    style: Annotated[
        str,
        typer.Option(
            help="rendered: mixed (half degraded), clean, photo (printed, photographed on a "
            "desk) or scan (printed, office-scanned: skewed, B/W or dithered)."
        ),
    ] = "mixed",
    methods: Annotated[
        str, typer.Option(help="Segmenters, comma-separated: unet+ink, unet, classical.")
    ] = "unet+ink",
    dpi: Annotated[
        str,
        typer.Option(
            help="rendered: DPI range LOW,HIGH (100,300; photo and scan 100,200); ecgtizer: "
            "each DPI listed (100,200,300)."
        ),
    ] = "",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write rows and every page here.")
    ] = None,
    markdown: MarkdownOption = None,
) -> None:
    """Digitize whole pages and score them against their truth (Challenge SNR, r, MSE, layout)."""
    from ecgtrace.bench import page_summary as ps
    from ecgtrace.bench.page_sources import PAGE_STYLES

    if source not in ("rendered", "ecgtizer"):
        fail(f"--source {source!r}: choose rendered or ecgtizer")
    if style not in PAGE_STYLES:
        fail(f"--style {style!r}: choose {', '.join(PAGE_STYLES)}")
    default_dpi = "100,200" if style in ("photo", "scan") else "100,300"
    dpis = floats(dpi or ("200" if source == "ecgtizer" else default_dpi), "--dpi")
    chosen = comma_list(methods)
    results = _page_results(source, chosen, dpis, n=n, seed=seed, style=style)
    if source == "ecgtizer":
        rows = ps.summarise_pages_by_dpi(results)
    else:
        rows = ps.summarise_pages(results)
    table = ps.pages_table(
        rows, f"pages: {source} {style}, methods {methods}, DPI {dpi or dpis}, seed {seed}"
    )
    out.print(table.to_rich())
    out.print(ps.stages_table(ps.stage_times_rows(results)).to_rich())
    if json_out is not None:
        from ecgtrace.io.files import write_json

        run = {"source": source, "style": style, "n": n, "seed": seed, "dpi": dpi,
               "methods": chosen}  # fmt: skip
        write_json(json_out, {**ps.pages_json(results, rows), **run})
    if markdown is not None:
        _write_markdown(markdown, table.to_markdown())


def _page_results(
    source: str,
    methods: Sequence[str],
    dpis: Sequence[float],
    *,
    n: int,
    seed: int,
    style: str = "mixed",
) -> list[PageResult]:
    """Every page of ``source`` digitized by each method (ECGtizer: at each DPI, else at a DPI
    drawn in the range), with a progress bar."""
    from ecgtrace import data
    from ecgtrace.bench.ecgtizer import ecgtizer_ids
    from ecgtrace.bench.page_sources import ecgtizer_pages, rendered_pages

    results: list[PageResult] = []
    try:
        with Progress(console=err, transient=True) as bar:
            for method in methods:
                if source == "ecgtizer":
                    for d in dpis:
                        task = bar.add_task(f"{method} {d:g} DPI", total=len(ecgtizer_ids()))
                        for result in ecgtizer_pages(dpi=d, method=method):
                            results.append(result)
                            bar.advance(task)
                else:
                    task = bar.add_task(method, total=n)
                    span = (min(dpis), max(dpis))
                    for result in rendered_pages(
                        n=n, seed=seed, method=method, dpi=span, style=style
                    ):
                        results.append(result)
                        bar.advance(task)
    except (data.DataError, ValueError) as exc:
        fail(str(exc))
    return results


# ---- rectification -----------------------------------------------------------------------------


@eval_app.command("rectify")
def eval_rectify(
    n: Annotated[int, typer.Option(help="Photo-style pages (fold 10).")] = 100,
    seed: Annotated[
        int, typer.Option(help="Seed: the same seed draws the pages of eval pages.")
    ] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every page here.")] = None,
    markdown: MarkdownOption = None,
) -> None:
    """How flat photos come out: each page's local scale (truth traces through the
    rectification, 1 s windows) against 0.5 % uniformity."""
    from ecgtrace import data
    from ecgtrace.bench.rectification import flatness_pages, flatness_table

    pages = []
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("photos", total=n)
            for page in flatness_pages(n=n, seed=seed):
                pages.append(page)
                bar.advance(task)
    except (data.DataError, ValueError) as exc:
        fail(str(exc))
    table = flatness_table(pages, seed=seed)
    out.print(table.to_rich())
    if json_out is not None:
        from ecgtrace.io.files import write_json

        write_json(json_out, {"n": n, "seed": seed, "pages": [asdict(p) for p in pages]})
    if markdown is not None:
        _write_markdown(markdown, table.to_markdown())


# ---- grid --------------------------------------------------------------------------------------


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
    from ecgtrace.bench import grid_summary as gs
    from ecgtrace.bench.ecgtizer import ecgtizer_folder
    from ecgtrace.bench.scans import scan_overlays, scans_table

    dpis = tuple(floats(pdf_dpi, "--pdf-dpi", blanks=True))
    command = "ecgtrace eval grid " + " ".join(sys.argv[3:])
    doc: dict[str, object] = {"n": n, "seed": seed, "pdf_dpi": list(dpis)}
    renders = pdfs = None
    try:
        if n > 0:
            cases = _render_cases(n, seed)
            renders = gs.summarise_renders(cases)
            _print_renders(renders, n, seed)
            doc["renders"] = asdict(renders)
            doc["render_cases"] = [asdict(r) for r in cases]
        folder = ecgtizer_folder()
        if dpis and folder.is_dir():
            pdf_cases = _pdf_cases(folder, dpis)
            pdfs = gs.summarise_pdfs(pdf_cases)
            title = f"grid on the ECGtizer PDFs ({len(pdf_cases) // len(dpis)} files)"
            out.print(gs.pdf_table(pdfs, title).to_rich())
            doc["pdfs"] = gs.pdfs_json(pdfs)
            doc["pdf_cases"] = [asdict(r) for r in pdf_cases]
        elif dpis:
            err.print(f"note: {folder} not found; PDFs skipped")
        if scans_out is not None:
            scans = scan_overlays(data.data_dir() / "scans", scans_out)
            out.print(scans_table(scans, scans_out).to_rich())
            doc["scans"] = [asdict(r) for r in scans]
    except (data.DataError, ValueError, OSError) as exc:
        fail(str(exc))
    if json_out is not None:
        from ecgtrace.io.files import write_json

        write_json(json_out, doc)
    if markdown is not None:
        _write_markdown(markdown, gs.markdown_report(renders, pdfs, command=command))


def _render_cases(n: int, seed: int) -> list[RenderCase]:
    from ecgtrace.bench.grid import render_benchmark

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("renders", total=n)
        return render_benchmark(n, seed, progress=lambda k: bar.update(task, completed=k))


def _pdf_cases(folder: Path, dpis: tuple[float, ...]) -> list[PdfCase]:
    from ecgtrace.bench.grid import pdf_benchmark

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("PDFs", total=len(list(folder.glob("*.pdf"))) * len(dpis))
        return pdf_benchmark(folder, dpis, progress=lambda k: bar.update(task, completed=k))


def _print_renders(renders: RenderSummary, n: int, seed: int) -> None:
    from ecgtrace.bench.grid_summary import breakdown_table

    title = f"grid on {n} renders (seed {seed}): 0.5 % px/mm, 0.2 deg"
    out.print(breakdown_table(renders, title).to_rich())
    nog, gone = renders.no_grid, renders.grid_erased
    out.print(
        f"no-grid renders: {nog.n}, reported as no grid {100 * nog.found_false:.0f} %;"
        f" grid erased by binarisation: {gone.n}; failures: {len(renders.failures)};"
        f" median {renders.ms_median:.0f} ms per image",
        highlight=False,
    )
