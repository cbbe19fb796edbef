"""One input file to its outputs, all or nothing, reported rather than raised; the inputs
named on a command line; the batch's ``summary.csv``."""

from __future__ import annotations

import csv
import dataclasses
import glob
import io
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ecgtrace.digitization import DigitizeOptions
from ecgtrace.io.outputs import FORMATS, expected_outputs, write_outputs
from ecgtrace.io.pages import SUFFIXES
from ecgtrace.io.remote import exists_all, is_url, upload, write_file

Status = Literal["ok", "skipped", "failed"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Options:
    """What the pipeline is told (:meth:`digitize_options`), plus the PDF resolution (DPI),
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

    def digitize_options(self) -> DigitizeOptions:
        """What the pipeline is told of every page."""
        return DigitizeOptions(
            layout=self.layout,
            speed_mm_s=self.speed_mm_s,
            gain_mm_mv=self.gain_mm_mv,
            fs=self.fs,
            lead_order=self.lead_order,
            method=self.method,
            px_per_mm=self.px_per_mm,
        )


@dataclass(frozen=True)
class InputResult:
    """What became of one input file: ``status`` ok, skipped (outputs already there) or
    failed (``error``: one line naming the file and the cause); ``layout`` and
    ``mean_confidence`` of its pages (``;``-joined for several); ``seconds`` of wall time;
    ``worker`` the process id that did it and ``peak_mb`` that process's peak resident memory
    (MB) so far."""

    file: str
    status: Status
    pages: int = 0
    layout: str = ""
    mean_confidence: float = float("nan")
    seconds: float = 0.0
    error: str = ""
    outputs: tuple[str, ...] = field(default_factory=tuple)
    worker: int = 0
    peak_mb: float = 0.0


def safe_stem(path: str | os.PathLike[str]) -> str:
    """The file name without its suffix, with characters other than letters, digits, ``-``
    and ``_`` replaced by ``_`` (a WFDB record name allows no others)."""
    stem = _UNSAFE.sub("_", Path(path).stem).strip("_")
    return stem or "ecg"


def page_stems(stem: str, n_pages: int) -> list[str]:
    """``[stem]`` for one page, ``[stem-p1, stem-p2, ...]`` for several."""
    return [stem] if n_pages == 1 else [f"{stem}-p{k}" for k in range(1, n_pages + 1)]


def _done(path: Path, outdir: str | Path, stem: str, formats: Sequence[str]) -> bool:
    from ecgtrace.io.pdf import count_pages

    try:
        n = count_pages(path) if path.suffix.lower() == ".pdf" else 1
    except ValueError:
        return False
    names = [p.name for s in page_stems(stem, n) for p in expected_outputs(".", s, formats)]
    if is_url(outdir):
        return exists_all(os.fspath(outdir), names)
    return all((Path(outdir) / name).exists() for name in names)


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
    all exist are skipped unless ``options.overwrite``. ``outdir`` may be an fsspec URL: the
    outputs are then made in a local temporary folder and uploaded, each page's JSON last.
    """
    from ecgtrace.digitization import DigitizeError
    from ecgtrace.pipeline import digitize_pages

    t0 = time.perf_counter()
    path = Path(path)
    stem = stem or safe_stem(path)
    if is_url(outdir):
        return _digitize_to_url(path, os.fspath(outdir), options, stem)
    outdir = Path(outdir)
    if not options.overwrite and _done(path, outdir, stem, options.formats):
        return InputResult(str(path), "skipped")
    try:
        digs = digitize_pages(path, options.digitize_options(), dpi=options.dpi)
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


def _digitize_to_url(path: Path, url: str, options: Options, stem: str) -> InputResult:
    t0 = time.perf_counter()

    def failed(what: str, exc: Exception, pages: int = 0) -> InputResult:
        return InputResult(
            str(path), "failed", pages=pages, seconds=time.perf_counter() - t0,
            error=f"{path}: cannot {what} {url} ({type(exc).__name__}: {exc})",
        )  # fmt: skip

    # Any error of the store (network, credentials, a missing backend) is this input's failure.
    try:
        if not options.overwrite and _done(path, url, stem, options.formats):
            return InputResult(str(path), "skipped")
    except Exception as exc:
        return failed("look for the outputs in", exc)
    with tempfile.TemporaryDirectory(prefix="ecgtrace-") as tmp:
        local = digitize_file(path, tmp, dataclasses.replace(options, overwrite=True), stem=stem)
        if local.status != "ok":
            return dataclasses.replace(local, seconds=time.perf_counter() - t0)
        try:
            urls = upload(local.outputs, url)
        except Exception as exc:
            return failed("write the outputs to", exc, local.pages)
    return dataclasses.replace(local, seconds=time.perf_counter() - t0, outputs=tuple(urls))


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


SUMMARY_FIELDS = (
    "file", "status", "pages", "layout", "mean_confidence", "seconds", "error", "worker", "peak_mb"
)  # fmt: skip


def summary_rows(results: Iterable[InputResult]) -> Iterator[list[str]]:
    """The rows of ``summary.csv`` (a header first)."""
    yield list(SUMMARY_FIELDS)
    for r in results:
        conf = "" if r.mean_confidence != r.mean_confidence else f"{r.mean_confidence:.3f}"
        yield [
            r.file, r.status, str(r.pages), r.layout, conf, f"{r.seconds:.2f}", r.error,
            str(r.worker or ""), f"{r.peak_mb:.0f}" if r.peak_mb else "",
        ]  # fmt: skip


def write_summary(results: Iterable[InputResult], outdir: str | os.PathLike[str]) -> str:
    """Write ``summary.csv`` (:func:`summary_rows`) into ``outdir`` (a folder: atomically, or
    an fsspec URL) and return where it went."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(summary_rows(results))
    return write_file(outdir, "summary.csv", buf.getvalue().encode())
