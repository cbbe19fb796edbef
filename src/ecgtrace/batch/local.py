"""Many inputs on local worker processes: bounded in flight, a killed worker's inputs retried."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ecgtrace.batch.files import InputResult, Options, digitize_file, unique_stems
from ecgtrace.io.remote import filesystem, is_url

log = logging.getLogger(__name__)


def location(outdir: str | os.PathLike[str]) -> str | Path:
    """``outdir`` as a URL (checked: fsspec and the protocol's backend are there) or a path."""
    if is_url(outdir):
        filesystem(os.fspath(outdir))
        return os.fspath(outdir)
    return Path(outdir)


@dataclass(frozen=True)
class Job:
    """One input to digitize: its ``path``, the output ``location`` (a folder or a URL), the
    ``options`` and the output files' ``stem``."""

    path: Path
    location: str | Path
    options: Options
    stem: str


def log_at(level: int) -> None:
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


def run_job(job: Job) -> InputResult:
    """:func:`digitize_file` of one job, with the worker and its peak memory; never raises."""
    path = job.path
    try:
        result = digitize_file(path, job.location, job.options, stem=job.stem)
    except Exception as exc:  # a bug must not lose the batch: report it against the file
        log.exception("%s: unexpected error", path)
        result = InputResult(str(path), "failed", error=f"{path}: internal error ({exc!r})")
    return dataclasses.replace(result, worker=os.getpid(), peak_mb=_peak_mb())


def _feed(
    pool: ProcessPoolExecutor,
    pending: dict[Future[InputResult], int],
    jobs: Sequence[Job],
    retry: list[int],
    queue: Iterator[tuple[int, Job]],
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
        pending[pool.submit(run_job, jobs[k])] = k


def run_batch(
    paths: Sequence[Path],
    outdir: str | os.PathLike[str],
    options: Options | None = None,
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
    options = options or Options()
    target = location(outdir)
    jobs = [Job(p, target, options, s) for p, s in zip(paths, unique_stems(paths), strict=True)]
    results: dict[int, InputResult] = {}
    if workers <= 1:
        for k, job in enumerate(jobs):
            results[k] = run_job(job)
            if on_result:
                on_result(results[k])
        return [results[k] for k in range(len(jobs))]
    level = logging.getLogger("ecgtrace").getEffectiveLevel()
    queue: Iterator[tuple[int, Job]] = iter(enumerate(jobs))
    retry: list[int] = []  # inputs in flight when a worker died: each gets one more try
    tried: set[int] = set()
    while True:
        # A worker killed from outside (out of memory, a signal) breaks the whole pool: start
        # a fresh one; the input that killed it fails on its second try, the others go on.
        pool = ProcessPoolExecutor(
            max_workers=workers, max_tasks_per_child=50, initializer=log_at, initargs=(level,)
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
                                str(jobs[k].path), "failed",
                                error=f"{jobs[k].path}: the worker process died digitizing it "
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
