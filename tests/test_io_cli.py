"""Files out and the command line: what a user runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ecgtrace.data import data_dir
from ecgtrace.io import save_rendered
from ecgtrace.render import Rendered


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ECGTRACE_DATA": str(data_dir())}  # the child runs elsewhere
    return subprocess.run(
        [sys.executable, "-m", "ecgtrace", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_save_rendered_round_trips(page: Rendered, tmp_path: Path) -> None:
    paths = save_rendered(page, tmp_path / "p", meta={"ecg_id": 85})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "p.npz", "p.png"]
    assert paths[0].stat().st_mode & 0o044  # readable by others, as files usually are
    image = cv2.imread(str(tmp_path / "p.png"))[..., ::-1]
    assert np.array_equal(image, page.image)
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["ecg_id"] == 85 and len(doc["truth"]["segments"]) == 13
    seg = doc["truth"]["segments"][0]
    assert np.allclose(seg["polyline_row"], page.truth.segments[0].polyline[:, 0], atol=1e-6)
    with np.load(tmp_path / "p.npz") as npz:
        assert np.array_equal(npz["instance_mask"], page.truth.instance_masks())
        assert np.array_equal(npz["alpha_3"], page.truth.segments[3].alpha)


def test_cli_render_page_and_errors(tmp_path: Path) -> None:
    ok = _cli("render", "-o", str(tmp_path), "--layout", "6x2", "--degrade", "rotate,jpeg",
              "--dpi", "100", cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    stems = {p.suffix for p in tmp_path.iterdir()}
    assert stems == {".png", ".json", ".npz"}
    doc = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert doc["degradations"] == ["rotate", "jpeg"] and doc["truth"]["rotation_deg"] != 0
    for args, cause in [
        (["--layout", "5x5"], "unknown layout"),
        (["--dpi", "0"], "dpi must be > 0"),
        (["--degrade", "smudge"], "unknown degradation"),
        (["--paper", "huge"], "--paper"),
    ]:
        bad = _cli("render", "-o", str(tmp_path / "bad"), *args, cwd=tmp_path)
        assert bad.returncode == 2
        assert bad.stderr.count("\n") == 1 and cause in bad.stderr
        assert "Traceback" not in bad.stderr
        assert not (tmp_path / "bad").exists()  # nothing half-written


@pytest.mark.usefixtures("shared_data")
def test_cli_crops_dataset(tmp_path: Path) -> None:
    res = _cli("render", "--crops", "4", "--overlap-fraction", "0.5", "--seed", "1",
               "-o", str(tmp_path), cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index["crops"]) == 4 and sum(c["overlap"] for c in index["crops"]) == 2
    for c in index["crops"]:
        mask = cv2.imread(str(tmp_path / c["mask"]), cv2.IMREAD_GRAYSCALE)
        image = cv2.imread(str(tmp_path / c["image"]))
        assert mask.shape == image.shape[:2] and (mask == 255).any()


def test_cli_same_seed_same_files(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        res = _cli("render", "-o", str(tmp_path / folder), "--dpi", "100", "--degrade", "random",
                   "--seed", "3", cwd=tmp_path)  # fmt: skip
        assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 3
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_cli_bench_unet_and_eval_errors(tmp_path: Path) -> None:
    res = _cli("bench", "unet", "--n", "1", "--json", str(tmp_path / "b.json"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert [r["lead"] for r in rows] == ["I", "II"]
    assert rows[0]["duration_s"] == 2.5 and rows[1]["duration_s"] == 10.0
    assert rows[0]["input_shape"][1] == pytest.approx(
        rows[0]["crop_shape"][1] * 4 / (200 / 25.4), abs=1
    )
    bad = _cli("eval", "crops", "--source", "scans", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--source" in bad.stderr
    bad = _cli("eval", "crops", "--methods", "unet,magic", "--split", "validation", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown method 'magic'" in bad.stderr
