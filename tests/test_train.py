"""Training: the crop cache has exact targets, the loop resumes where it stopped, export works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ecgtrace.segment.unet import load_model, network_input, pad_input  # noqa: E402
from ecgtrace.train import (  # noqa: E402
    Sample,
    TrainConfig,
    UNetConfig,
    build_model,
    crop_samples,
    export_onnx,
    generate_shards,
    load_checkpoint,
    load_shard,
    save_shard,
    train,
)

pytestmark = pytest.mark.usefixtures("shared_data")


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return crop_samples(2, split="validation", rng=5, per_page=3)


def test_cached_crops_carry_their_own_trace(samples: list[Sample], tmp_path: Path) -> None:
    assert 2 <= len(samples) <= 6  # a single-strip page has one lead
    for s in samples:
        rows, cols = s.target.shape
        assert s.image.shape == (rows, cols, 3) and s.image.dtype == np.uint8
        assert rows == pytest.approx(2 * 24 * 4, abs=4)  # +-24 mm at 4 px/mm
        assert 0 <= s.col0 < s.col1 <= cols
        assert abs(s.centre_row - rows / 2) < 1.5
        own = s.target >= 128
        assert own[:, s.col0 : s.col1].any(axis=0).mean() > 0.9  # the trace runs the whole span
        # the target sits on ink: darker than the crop's paper
        assert np.median(s.image[own].max(axis=1)) < np.median(s.image.max(axis=2)) - 40
    save_shard(tmp_path / "a.npz", samples)
    back = load_shard(tmp_path / "a.npz")
    assert all(np.array_equal(a.target, b.target) for a, b in zip(samples, back, strict=True))
    assert [b.col0 for b in back] == [a.col0 for a in samples]


def test_the_test_split_is_never_cached(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="never train"):
        generate_shards(tmp_path, split="test", shards=1)


def test_training_resumes_exactly(samples: list[Sample], tmp_path: Path) -> None:
    cfg = TrainConfig(model=UNetConfig(base=4, depth=2), steps=4, batch=2, window=(32, 64))
    whole = train(tmp_path / "whole", samples, samples[:2], cfg, save_every=1, val_every=2)

    class Stop(Exception):
        pass

    def interrupt(step: int, loss: float) -> None:
        if step == 2:
            raise Stop

    with pytest.raises(Stop):
        train(tmp_path / "cut", samples, samples[:2], cfg, save_every=1, progress=interrupt)
    resumed = train(tmp_path / "cut", samples, samples[:2], cfg, save_every=1, val_every=2)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    log = [json.loads(x) for x in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3, 4]
    assert "val_iou" in log[-1]
    _, back = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert back == cfg
    with pytest.raises(ValueError, match="another config"):
        train(tmp_path / "cut", samples, samples[:2], TrainConfig(steps=5))


def test_export_runs_in_onnxruntime(tmp_path: Path, samples: list[Sample]) -> None:
    torch.manual_seed(0)
    model = build_model(UNetConfig(base=4, depth=3)).eval()
    cfg = TrainConfig()
    export_onnx(model, tmp_path / "m.onnx", prep=cfg.prep, meta={"command": "test"})
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["model"]["base"] == 4 and meta["preprocessing"]["px_per_mm"] == 4.0
    runtime = load_model(tmp_path / "m.onnx")
    for s in samples[:2]:  # any size: rows and cols are dynamic
        x = pad_input(network_input(s.image, centre_row=s.centre_row), 8)[None]
        with torch.no_grad():
            expected = torch.sigmoid(model(torch.from_numpy(x)))[:, 0].numpy()
        assert np.abs(runtime(x) - expected).max() < 1e-4
