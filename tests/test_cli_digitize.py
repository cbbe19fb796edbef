"""`ecgtrace digitize`: outputs, exit codes, errors, skipping and batches, as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ecgtrace.batch import (
    InputResult,
    Options,
    digitize_file,
    expand_inputs,
    run_batch,
    safe_stem,
)
from ecgtrace.data import data_dir
from ecgtrace.io.files import write_png
from ecgtrace.io.wfdb import read_record
from ecgtrace.render import Rendered

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ECGTRACE_DATA": str(data_dir())}
    return subprocess.run(
        [sys.executable, "-m", "ecgtrace", "digitize", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, page: Rendered) -> Path:
    """A folder with one good page (as JPEG, as a scan would come) and bad files."""
    folder = tmp_path_factory.mktemp("inputs")
    cv2.imwrite(
        str(folder / "good page.jpg"), page.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    (folder / "empty.png").write_bytes(b"")
    (folder / "random.jpg").write_bytes(np.random.default_rng(0).bytes(4000))
    write_png(folder / "blank.png", np.full((400, 600, 3), 250, np.uint8))
    (folder / "folder.png").mkdir()
    return folder


def test_the_readme_example(tmp_path: Path) -> None:
    result = _cli(str(REPO / "examples" / "ecg_page.png"), "-o", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "ecg_page.csv", "ecg_page.dat", "ecg_page.hea", "ecg_page.json", "ecg_page.overlay.png"
    ]  # fmt: skip
    assert "3x4+II" in result.stdout
    rec = read_record(tmp_path / "ecg_page")
    assert rec.sig_name[:3] == ("I", "II", "III") and rec.fs == 500 and set(rec.units) == {"mV"}
    doc = json.loads((tmp_path / "ecg_page.json").read_text())
    assert doc["layout"] == "3x4+II" and len(doc["leads"]) == 13


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        ("empty.png", "the file is empty"),
        ("random.jpg", "cannot decode it"),
        ("blank.png", "no ECG grid found"),
        ("folder.png", "is a folder"),
        ("missing.png", "no such file"),
    ],
)
def test_one_bad_input_is_one_line_and_exit_2(
    inputs: Path, tmp_path: Path, name: str, cause: str
) -> None:
    result = _cli(str(inputs / name), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and cause in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_options_exit_2(tmp_path: Path) -> None:
    page = str(REPO / "examples" / "ecg_page.png")
    for args in (["--layout", "5x5"], ["--format", "xml"], ["--fs", "0"]):
        result = _cli(page, "-o", str(tmp_path), *args, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.startswith("error: "), args
        assert not any(tmp_path.iterdir())


def test_batch_goes_on_past_bad_files_and_resumes(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = expand_inputs([str(inputs)])
    assert {p.name for p in paths} == {
        "good page.jpg", "empty.png", "random.jpg", "blank.png", "folder.png"
    }  # fmt: skip
    results = run_batch(paths, out, Options(formats=("csv", "json")), workers=2)
    status = {Path(r.file).name: r.status for r in results}
    assert status == {
        "good page.jpg": "ok", "empty.png": "failed", "random.jpg": "failed",
        "blank.png": "failed", "folder.png": "failed",
    }  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["good_page.csv", "good_page.json"]
    # A rerun skips what is done; --overwrite redoes it.
    again = digitize_file(inputs / "good page.jpg", out, Options(formats=("csv", "json")))
    assert again.status == "skipped"
    redo = digitize_file(
        inputs / "good page.jpg", out, Options(formats=("csv", "json"), overwrite=True)
    )
    assert redo.status == "ok" and redo.layout == "3x4+II"


def test_cli_batch_writes_a_summary_and_exits_1(inputs: Path, tmp_path: Path) -> None:
    result = _cli(
        str(inputs), "-o", str(tmp_path), "--format", "json", "--workers", "1", cwd=tmp_path
    )
    assert result.returncode == 1
    with (tmp_path / "summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    good = [r for r in rows if r["status"] == "ok"]
    assert (
        len(good) == 1 and good[0]["layout"] == "3x4+II" and float(good[0]["mean_confidence"]) > 0.5
    )
    assert all(r["error"] for r in rows if r["status"] == "failed")
    assert "1 digitized" in result.stdout and "4 failed" in result.stdout


def test_stems_are_safe_record_names() -> None:
    assert safe_stem("scan 1.v2.png") == "scan_1_v2"
    assert safe_stem("Ünïcode.png") == "n_code"
    assert safe_stem("....png") == "ecg"


def test_a_killed_worker_loses_nothing(inputs: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(4):
        os.link(inputs / "good page.jpg", folder / f"p{k}.jpg")
    killed: list[int] = []

    def kill_first_worker(result: InputResult) -> None:
        if not killed:  # SIGKILL the process that did the first input, as the OOM killer would
            killed.append(result.worker)
            os.kill(result.worker, signal.SIGKILL)

    paths = expand_inputs([str(folder)])
    results = run_batch(
        paths, tmp_path / "out", Options(formats=("json",)), workers=2, on_result=kill_first_worker
    )
    assert killed and [r.status for r in results] == ["ok"] * 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"p{k}.json" for k in range(4)]
    assert all(r.peak_mb > 50 for r in results)
