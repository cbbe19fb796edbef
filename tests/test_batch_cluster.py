"""`run_cluster` / `digitize --cluster`: a batch on a real Dask LocalCluster of 2 workers,
into a folder and into an fsspec URL; resuming; a task lost by the cluster; the CLI."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import distributed
import pytest

from ecgtrace.batch import (
    ClusterError,
    InputResult,
    Options,
    expand_inputs,
    run_cluster,
    write_summary,
)
from ecgtrace.batch import cluster as batch_cluster
from ecgtrace.batch.local import Job
from ecgtrace.data import data_dir, example_record
from ecgtrace.io.files import write_png
from ecgtrace.render import PageSpec, render_page

GOOD = [f"page{k}.png" for k in range(4)]
OPTIONS = Options(formats=("wfdb", "json"))
NAMES = ["hea", "dat", "json"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four small rendered pages and a zero-byte PNG."""
    rec = example_record()
    folder = tmp_path_factory.mktemp("pages")
    for k, name in enumerate(GOOD):
        write_png(folder / name, render_page(rec.p_signal, rec.fs, PageSpec(dpi=100), rng=k).image)
    (folder / "empty.png").write_bytes(b"")
    return folder


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """One LocalCluster for the module (as run_cluster's local:N makes it)."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as c,
    ):
        yield c


def _check_first_run(results: list[InputResult], paths: list[Path]) -> None:
    assert [r.file for r in results] == [str(p) for p in paths]  # input order
    by_name = {Path(r.file).name: r for r in results}
    assert by_name["empty.png"].status == "failed"
    assert "empty.png" in by_name["empty.png"].error
    for name in GOOD:
        r = by_name[name]
        assert r.status == "ok", r.error
        assert r.pages == 1 and r.layout == "3x4+II" and r.mean_confidence > 0.5


def test_a_folder_on_the_cluster_then_resumed(
    folder: Path, client: distributed.Client, tmp_path: Path
) -> None:
    paths = expand_inputs([str(folder)])
    assert [p.name for p in paths] == ["empty.png", *GOOD]
    seen: list[InputResult] = []
    results = run_cluster(paths, tmp_path, OPTIONS, address=client, on_result=seen.append)
    _check_first_run(results, paths)
    assert sorted(r.file for r in seen) == sorted(r.file for r in results)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(f"{Path(n).stem}.{ext}" for n in GOOD for ext in NAMES)
    assert json.loads((tmp_path / "page2.json").read_text())["layout"] == "3x4+II"

    again = run_cluster(paths, tmp_path, OPTIONS, address=client)
    assert [r.status for r in again] == ["failed"] + ["skipped"] * len(GOOD)


def test_an_fsspec_url_output(folder: Path, client: distributed.Client, tmp_path: Path) -> None:
    url = f"file://{tmp_path}/remote/out"
    paths = expand_inputs([str(folder)])
    results = run_cluster(paths, url, OPTIONS, address=client)
    _check_first_run(results, paths)
    ok = next(r for r in results if r.status == "ok")
    assert all(o.startswith("file://") for o in ok.outputs) and len(ok.outputs) == 3
    out = tmp_path / "remote" / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{Path(n).stem}.{ext}" for n in GOOD for ext in NAMES
    )  # no temporary files left behind
    assert write_summary(results, url) == f"{url}/summary.csv"
    rows = list(csv.DictReader((out / "summary.csv").read_text().splitlines()))
    assert [r["status"] for r in rows] == ["failed"] + ["ok"] * len(GOOD)

    again = run_cluster(paths, url, OPTIONS, address=client)
    assert [r.status for r in again] == ["failed"] + ["skipped"] * len(GOOD)


def test_a_task_the_cluster_loses_fails_its_input_only(
    folder: Path, client: distributed.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(job: Job, log_level: int) -> InputResult:
        raise RuntimeError("worker blew up")  # escapes the job, as a bug in the worker would

    monkeypatch.setattr(batch_cluster, "_cluster_job", broken)  # a local function: pickled by value
    paths = [folder / "page0.png", folder / "page1.png"]
    results = run_cluster(paths, tmp_path, OPTIONS, address=client)
    assert [r.status for r in results] == ["failed", "failed"]
    for r, p in zip(results, paths, strict=True):
        assert r.file == str(p) and str(p) in r.error and "worker blew up" in r.error


def test_cluster_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="local:N"):
        run_cluster([tmp_path / "a.png"], tmp_path, address="local:zero")
    with pytest.raises(ClusterError, match="tcp://HOST:PORT"):
        run_cluster([tmp_path / "a.png"], tmp_path, address="my-scheduler")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as without the cluster extra
    with pytest.raises(ClusterError, match=r"pip install 'ecgtrace\[cluster\]'"):
        run_cluster([tmp_path / "a.png"], tmp_path, address="local:2")


def test_the_cli_on_a_local_cluster(folder: Path, tmp_path: Path) -> None:
    few = tmp_path / "few"  # two good pages and the bad one: the CLI starts its own cluster
    few.mkdir()
    for name in ["empty.png", *GOOD[:2]]:
        (few / name).write_bytes((folder / name).read_bytes())
    out = tmp_path / "out"
    env = {**os.environ, "ECGTRACE_DATA": str(data_dir())}
    cmd = [sys.executable, "-m", "ecgtrace", "digitize", str(few), "-o", str(out)]
    result = subprocess.run(
        [*cmd, "--cluster", "local:2", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "empty.png" in result.stderr
    assert "3 inputs" in result.stdout and "2 digitized, 0 skipped, 1 failed" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["page0.json", "page1.json", "summary.csv"]
    rows = list(csv.DictReader((out / "summary.csv").read_text().splitlines()))
    assert [Path(r["file"]).name for r in rows] == ["empty.png", "page0.png", "page1.png"]
    assert [r["status"] for r in rows] == ["failed", "ok", "ok"]
    assert rows[0]["error"] and rows[1]["layout"] == "3x4+II"
