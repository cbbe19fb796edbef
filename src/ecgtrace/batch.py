"""Many input files: digitize each to its outputs, one bad file never stopping the others.

:func:`digitize_file` is the unit of work: one input file (an image or a PDF of any number of
pages) to its output files, all or nothing, returning an :class:`InputResult` instead of
raising on bad input. :func:`expand_inputs` turns folders, globs and list files into input
paths; :func:`run_batch` maps :func:`digitize_file` over them on local worker processes.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ecgtrace.io.outputs import FORMATS, expected_outputs, write_outputs
from ecgtrace.io.pages import SUFFIXES

log = logging.getLogger(__name__)

Status = Literal["ok", "skipped", "failed"]
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Options:
    """What :func:`ecgtrace.pipeline.digitize_image` is told, plus the PDF resolution (DPI),
    the output formats and whether existing outputs are replaced."""

    layout: str | None = None
    speed_mm_s: float | None = None
    gain_mm_mv: float | None = None
    fs: float = 500.0
    lead_order: str | None = None
    method: str = "unet+ink"
    px_per_mm: float | None = None
    dpi: float = 200.0
    formats: tuple[str, ...] = FORMATS
    overwrite: bool = False

    def pipeline_options(self) -> dict[str, object]:
        return {
            "layout": self.layout,
            "speed_mm_s": self.speed_mm_s,
            "gain_mm_mv": self.gain_mm_mv,
            "fs": self.fs,
            "lead_order": self.lead_order,
            "method": self.method,
            "px_per_mm": self.px_per_mm,
        }


@dataclass(frozen=True)
class InputResult:
    """What became of one input file: ``status`` ok, skipped (outputs already there) or
    failed (``error``: one line naming the file and the cause); ``layout`` and
    ``mean_confidence`` of its pages (``;``-joined for several); ``seconds`` of wall time."""

    file: str
    status: Status
    pages: int = 0
    layout: str = ""
    mean_confidence: float = float("nan")
    seconds: float = 0.0
    error: str = ""
    outputs: tuple[str, ...] = field(default_factory=tuple)


def safe_stem(path: str | os.PathLike[str]) -> str:
    """The file name without its suffix, with characters other than letters, digits, ``-``
    and ``_`` replaced by ``_`` (a WFDB record name allows no others)."""
    stem = _UNSAFE.sub("_", Path(path).stem).strip("_")
    return stem or "ecg"


def page_stems(stem: str, n_pages: int) -> list[str]:
    """``[stem]`` for one page, ``[stem-p1, stem-p2, ...]`` for several."""
    return [stem] if n_pages == 1 else [f"{stem}-p{k}" for k in range(1, n_pages + 1)]


def _done(path: Path, outdir: Path, stem: str, formats: Sequence[str]) -> bool:
    from ecgtrace.io.pdf import count_pages

    try:
        n = count_pages(path) if path.suffix.lower() == ".pdf" else 1
    except ValueError:
        return False
    return all(
        p.exists() for s in page_stems(stem, n) for p in expected_outputs(outdir, s, formats)
    )


def digitize_file(
    path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    options: Options = Options(),
    *,
    stem: str | None = None,
) -> InputResult:
    """Digitize one input file to its outputs in ``outdir``; never raises on bad input.

    Every page is digitized before anything is written; then each page's outputs are written
    atomically, and if any write fails, what this call wrote is removed. Inputs whose outputs
    all exist are skipped unless ``options.overwrite``.
    """
    from ecgtrace.pipeline import DigitizeError, digitize_pages

    t0 = time.perf_counter()
    path, outdir = Path(path), Path(outdir)
    stem = stem or safe_stem(path)
    if not options.overwrite and _done(path, outdir, stem, options.formats):
        return InputResult(str(path), "skipped")
    try:
        digs = digitize_pages(path, dpi=options.dpi, **options.pipeline_options())
    except DigitizeError as exc:
        return InputResult(str(path), "failed", seconds=time.perf_counter() - t0, error=str(exc))
    except MemoryError:
        return InputResult(
            str(path), "failed", seconds=time.perf_counter() - t0,
            error=f"{path}: out of memory while digitizing",
        )  # fmt: skip
    written: list[Path] = []
    try:
        for dig, s in zip(digs, page_stems(stem, len(digs)), strict=True):
            written += write_outputs(dig, outdir, s, formats=options.formats)
    except (OSError, ValueError) as exc:
        for p in written:
            p.unlink(missing_ok=True)
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return InputResult(
            str(path), "failed", pages=len(digs), seconds=time.perf_counter() - t0,
            error=f"{path}: cannot write the outputs to {outdir} ({cause})",
        )  # fmt: skip
    return InputResult(
        str(path),
        "ok",
        pages=len(digs),
        layout=";".join(d.layout.name for d in digs),
        mean_confidence=sum(d.mean_confidence for d in digs) / len(digs),
        seconds=time.perf_counter() - t0,
        outputs=tuple(str(p) for p in written),
    )


# ---- many files --------------------------------------------------------------------------------


def expand_inputs(items: Iterable[str]) -> list[Path]:
    """Input paths from command-line items: a folder (its supported files, recursively,
    sorted), a glob (``scans/**/*.png``), ``@list.txt`` (one path per line; ``#`` comments),
    or a path (kept even if it does not exist, so it is reported)."""
    found: list[Path] = []
    for item in items:
        if item.startswith("@"):
            listing = Path(item[1:])
            lines = listing.read_text().splitlines()
            found += [Path(x.strip()) for x in lines if x.strip() and not x.startswith("#")]
        elif Path(item).is_dir() and Path(item).suffix.lower() not in SUFFIXES:
            found += sorted(p for p in Path(item).rglob("*") if p.suffix.lower() in SUFFIXES)
        elif glob.has_magic(item):
            found += sorted(Path(p) for p in glob.glob(item, recursive=True))
        else:
            found.append(Path(item))
    return list(dict.fromkeys(found))


def unique_stems(paths: Sequence[Path]) -> list[str]:
    """A stem per input, made unique (``name``, ``name_2``, ...) where two inputs share one."""
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        s = safe_stem(p)
        seen[s] = seen.get(s, 0) + 1
        out.append(s if seen[s] == 1 else f"{s}_{seen[s]}")
    return out


def _job(args: tuple[Path, Path, Options, str]) -> InputResult:
    path, outdir, options, stem = args
    try:
        return digitize_file(path, outdir, options, stem=stem)
    except Exception as exc:  # a bug must not lose the batch: report it against the file
        log.exception("%s: unexpected error", path)
        return InputResult(str(path), "failed", error=f"{path}: internal error ({exc!r})")


def run_batch(
    paths: Sequence[Path],
    outdir: str | os.PathLike[str],
    options: Options = Options(),
    *,
    workers: int = 1,
    on_result: Callable[[InputResult], None] | None = None,
) -> list[InputResult]:
    """Digitize ``paths`` into ``outdir`` with ``workers`` local processes (1: in this one).

    At most ``2 * workers`` inputs are in flight, so memory stays bounded however long the
    list; each worker process is replaced after 50 inputs. Results come back in input order;
    ``on_result`` sees each as it finishes.
    """
    outdir = Path(outdir)
    jobs = [(p, outdir, options, s) for p, s in zip(paths, unique_stems(paths), strict=True)]
    results: dict[int, InputResult] = {}
    if workers <= 1:
        for k, job in enumerate(jobs):
            results[k] = _job(job)
            if on_result:
                on_result(results[k])
        return [results[k] for k in range(len(jobs))]
    with ProcessPoolExecutor(max_workers=workers, max_tasks_per_child=50) as pool:
        pending: dict[Future[InputResult], int] = {}
        queue: Iterator[tuple[int, tuple[Path, Path, Options, str]]] = iter(enumerate(jobs))
        for k, job in queue:
            pending[pool.submit(_job, job)] = k
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                k = pending.pop(fut)
                results[k] = fut.result()
                if on_result:
                    on_result(results[k])
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(_job, nxt[1])] = nxt[0]
    return [results[k] for k in range(len(jobs))]


SUMMARY_FIELDS = ("file", "status", "pages", "layout", "mean_confidence", "seconds", "error")


def summary_rows(results: Iterable[InputResult]) -> Iterator[list[str]]:
    """The rows of ``summary.csv`` (a header first)."""
    yield list(SUMMARY_FIELDS)
    for r in results:
        conf = "" if r.mean_confidence != r.mean_confidence else f"{r.mean_confidence:.3f}"
        yield [r.file, r.status, str(r.pages), r.layout, conf, f"{r.seconds:.2f}", r.error]
