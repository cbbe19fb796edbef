"""Many input files: digitize each to its outputs, one bad file never stopping the others.

:func:`digitize_file` is the unit of work: one input file (an image or a PDF of any number of
pages) to its output files, all or nothing, returning an :class:`InputResult` instead of
raising on bad input. :func:`expand_inputs` turns folders, globs and list files into input
paths; :func:`run_batch` maps :func:`digitize_file` over them on local worker processes and
:func:`run_cluster` on a Dask distributed cluster. The output location is a folder or an fsspec
URL (``s3://bucket/out``): see :mod:`ecgtrace.io.remote`.
"""

from __future__ import annotations

import dataclasses
import glob
import io
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ecgtrace.io.outputs import FORMATS, expected_outputs, write_outputs
from ecgtrace.io.pages import SUFFIXES
from ecgtrace.io.remote import exists_all, filesystem, is_url, upload, write_file

if TYPE_CHECKING:
    from distributed import Client, LocalCluster
    from distributed import Future as TaskFuture

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
    from ecgtrace.pipeline import DigitizeError, digitize_pages

    t0 = time.perf_counter()
    path = Path(path)
    stem = stem or safe_stem(path)
    if is_url(outdir):
        return _digitize_to_url(path, os.fspath(outdir), options, stem)
    outdir = Path(outdir)
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


def _location(outdir: str | os.PathLike[str]) -> str | Path:
    """``outdir`` as a URL (checked: fsspec and the protocol's backend are there) or a path."""
    if is_url(outdir):
        filesystem(os.fspath(outdir))
        return os.fspath(outdir)
    return Path(outdir)


_Job = tuple[Path, str | Path, Options, str]  # input, output location, options, stem


def _log_at(level: int) -> None:
    # A worker process (spawned, or on another machine) logs as this one's ecgtrace logger.
    logging.getLogger("ecgtrace").setLevel(level)


def _peak_mb() -> float:
    """This process's peak resident memory, MB (0 where the platform does not say)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux/macOS
        return 0.0
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 / (1024.0 if sys.platform == "darwin" else 1.0)


def _job(args: _Job) -> InputResult:
    path, outdir, options, stem = args
    try:
        result = digitize_file(path, outdir, options, stem=stem)
    except Exception as exc:  # a bug must not lose the batch: report it against the file
        log.exception("%s: unexpected error", path)
        result = InputResult(str(path), "failed", error=f"{path}: internal error ({exc!r})")
    return dataclasses.replace(result, worker=os.getpid(), peak_mb=_peak_mb())


def _feed(
    pool: ProcessPoolExecutor,
    pending: dict[Future[InputResult], int],
    jobs: Sequence[_Job],
    retry: list[int],
    queue: Iterator[tuple[int, _Job]],
    limit: int,
) -> None:
    """Submit inputs (retries first) until ``limit`` are in flight or none are left."""
    while len(pending) < limit:
        if retry:
            k = retry.pop(0)
        else:
            nxt = next(queue, None)
            if nxt is None:
                return
            k = nxt[0]
        pending[pool.submit(_job, jobs[k])] = k


def run_batch(
    paths: Sequence[Path],
    outdir: str | os.PathLike[str],
    options: Options = Options(),
    *,
    workers: int = 1,
    on_result: Callable[[InputResult], None] | None = None,
) -> list[InputResult]:
    """Digitize ``paths`` into ``outdir`` (a folder or an fsspec URL) with ``workers`` local
    processes (1: in this one).

    At most ``2 * workers`` inputs are in flight, so memory stays bounded however long the
    list; each worker process is replaced after 50 inputs. Results come back in input order;
    ``on_result`` sees each as it finishes. Raises :class:`~ecgtrace.io.remote.LocationError`
    if ``outdir`` is a URL that cannot be used.
    """
    target = _location(outdir)
    jobs = [(p, target, options, s) for p, s in zip(paths, unique_stems(paths), strict=True)]
    results: dict[int, InputResult] = {}
    if workers <= 1:
        for k, job in enumerate(jobs):
            results[k] = _job(job)
            if on_result:
                on_result(results[k])
        return [results[k] for k in range(len(jobs))]
    level = logging.getLogger("ecgtrace").getEffectiveLevel()
    queue: Iterator[tuple[int, _Job]] = iter(enumerate(jobs))
    retry: list[int] = []  # inputs in flight when a worker died: each gets one more try
    tried: set[int] = set()
    while True:
        # A worker killed from outside (out of memory, a signal) breaks the whole pool: start
        # a fresh one; the input that killed it fails on its second try, the others go on.
        pool = ProcessPoolExecutor(
            max_workers=workers, max_tasks_per_child=50, initializer=_log_at, initargs=(level,)
        )
        pending: dict[Future[InputResult], int] = {}
        broken = False
        with pool:
            _feed(pool, pending, jobs, retry, queue, 2 * workers)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    k = pending.pop(fut)
                    try:
                        results[k] = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        if k in tried:
                            results[k] = InputResult(
                                str(jobs[k][0]), "failed",
                                error=f"{jobs[k][0]}: the worker process died digitizing it "
                                "(out of memory or killed)",
                            )  # fmt: skip
                        else:
                            tried.add(k)
                            retry.append(k)
                            continue
                    if on_result:
                        on_result(results[k])
                if not broken:
                    _feed(pool, pending, jobs, retry, queue, 2 * workers)
        if not broken:
            break
    return [results[k] for k in range(len(jobs))]


# ---- on a Dask cluster ------------------------------------------------------------------------

NEEDS_CLUSTER_EXTRA = "--cluster needs the cluster extra: pip install 'ecgtrace[cluster]'"


class ClusterError(RuntimeError):
    """The cluster cannot be used: the extra is missing, the address is malformed, the
    scheduler cannot be reached, or its workers cannot run ecgtrace."""


def _worker_version() -> str:
    from ecgtrace import __version__

    return __version__


def _connect(address: str | Client) -> tuple[Client, LocalCluster | None, bool]:
    """The client for ``address``, the LocalCluster made for it (or None), and whether the
    client is ours to close."""
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError(NEEDS_CLUSTER_EXTRA) from exc
    if isinstance(address, distributed.Client):
        return address, None, False
    if address.startswith("local:"):
        try:
            n = int(address.removeprefix("local:"))
        except ValueError:
            n = 0
        if n < 1:
            raise ClusterError(f"{address}: use local:N with N >= 1 workers")
        # One thread per worker process, like run_batch's workers: a page is digitized on
        # one core (the U-Net runs single-threaded), and a worker's memory limit then bounds
        # one page at a time. The scheduler's HTTP server
        # (the dashboard, with bokeh) listens on a free port of localhost: the default, 8787,
        # may be taken (by another batch), which distributed answers with a warning.
        cluster = distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
        )
        try:
            return distributed.Client(cluster), cluster, True
        except BaseException:
            cluster.close()
            raise
    if "://" not in address:
        raise ClusterError(f"{address}: use tcp://HOST:PORT (a Dask scheduler) or local:N")
    try:
        client = distributed.Client(address)
    except (OSError, ValueError) as exc:  # refused, timed out, unknown protocol
        raise ClusterError(f"cannot connect to the Dask scheduler at {address}: {exc}") from exc
    return client, None, True


def _cluster_job(args: _Job, log_level: int) -> InputResult:
    _log_at(log_level)
    return _job(args)


def _check_workers(client: Client) -> None:
    """Fail early, rather than once per input, if the workers cannot import ecgtrace."""
    from ecgtrace import __version__

    try:
        versions = client.run(_worker_version)
    except Exception as exc:
        raise ClusterError(
            f"the cluster's workers cannot run ecgtrace ({type(exc).__name__}: {exc}); "
            "install ecgtrace (with the same version) on every worker"
        ) from exc
    other = {w: v for w, v in versions.items() if v != __version__}
    if other:
        log.warning("workers with another ecgtrace version than %s: %s", __version__, other)


def run_cluster(
    paths: Sequence[Path],
    outdir: str | os.PathLike[str],
    options: Options = Options(),
    *,
    address: str | Client,
    on_result: Callable[[InputResult], None] | None = None,
    per_thread: int = 4,
) -> list[InputResult]:
    """Digitize ``paths`` into ``outdir`` (a folder or an fsspec URL) on a Dask cluster.

    ``address``: ``tcp://HOST:PORT`` of a running scheduler, ``local:N`` to start a
    LocalCluster of N one-thread worker processes (closed at the end), or a connected
    ``distributed.Client`` (left open). Workers need ecgtrace installed, and must see the
    inputs at the same (made absolute) paths and a local ``outdir`` on a shared filesystem.

    At most ``per_thread`` inputs per worker thread are in flight (the count of threads is
    looked at again every few seconds, as workers come and go), so a list of millions never
    floods the scheduler. Results come back in input order; ``on_result`` sees each as it
    finishes. A task the cluster loses (a killed worker, a cancelled task) becomes a failed
    result naming its input; nothing stops the batch. Raises :class:`ClusterError` when the
    cluster cannot be used and :class:`~ecgtrace.io.remote.LocationError` when a URL cannot.
    """
    target = _location(outdir)
    if isinstance(target, Path):
        target = target.absolute()
    stems = unique_stems(paths)
    queue: Iterator[tuple[int, _Job]] = (
        (k, (p.absolute(), target, options, s))
        for k, (p, s) in enumerate(zip(paths, stems, strict=True))
    )
    level = logging.getLogger("ecgtrace").getEffectiveLevel()
    client, cluster, ours = _connect(address)
    from distributed import as_completed

    results: dict[int, InputResult] = {}
    pending: dict[object, tuple[int, TaskFuture[InputResult]]] = {}  # key -> (input, future)
    try:
        _check_workers(client)
        cap, checked = 0, float("-inf")
        done_all = as_completed(loop=client.loop)

        def top_up() -> None:
            nonlocal cap, checked
            if time.monotonic() - checked > 5.0:
                cap = per_thread * max(1, sum(client.nthreads().values()))
                checked = time.monotonic()
            while len(pending) < cap:
                nxt = next(queue, None)
                if nxt is None:
                    return
                fut = client.submit(_cluster_job, nxt[1], level, pure=False)
                pending[fut.key] = (nxt[0], fut)
                done_all.add(fut)

        top_up()
        for fut in done_all:
            k, _ = pending.pop(fut.key)
            try:
                result = fut.result()
            except Exception as exc:  # lost by the cluster: KilledWorker, cancelled, ...
                result = InputResult(
                    str(paths[k]), "failed",
                    error=f"{paths[k]}: the cluster lost this input ({type(exc).__name__}: {exc})",
                )  # fmt: skip
            fut.release()
            results[k] = dataclasses.replace(result, file=str(paths[k]))
            if on_result:
                on_result(results[k])
            top_up()
    finally:
        if ours:
            client.close()
        elif pending:
            client.cancel([f for _, f in pending.values()])
        if cluster is not None:
            cluster.close()
    return [results[k] for k in range(len(paths))]


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
    import csv

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(summary_rows(results))
    return write_file(outdir, "summary.csv", buf.getvalue().encode())
