"""Many inputs on a Dask distributed cluster (the ``cluster`` extra)."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ecgtrace.batch.files import InputResult, Options, unique_stems
from ecgtrace.batch.local import Job, location, log_at, run_job

if TYPE_CHECKING:
    from distributed import Client, LocalCluster
    from distributed import Future as TaskFuture

log = logging.getLogger(__name__)


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


def _cluster_job(job: Job, log_level: int) -> InputResult:
    log_at(log_level)
    return run_job(job)


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
    options: Options | None = None,
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
    options = options or Options()
    target = location(outdir)
    if isinstance(target, Path):
        target = target.absolute()
    stems = unique_stems(paths)
    queue: Iterator[tuple[int, Job]] = (
        (k, Job(p.absolute(), target, options, s))
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
