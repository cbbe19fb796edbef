"""The crop benchmark: seeded, scored against truth, summarised per subset."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace.evaluate import crop_rows_markdown, evaluate_crops, summarise_crops
from ecgtrace.metrics import iou

pytestmark = pytest.mark.usefixtures("shared_data")


def test_crop_benchmark_scores_methods_against_truth() -> None:
    results = evaluate_crops(4, seed=3, split="validation", dpi=(150.0, 150.0), degrade=0.0)
    assert len(results) == 16
    assert {r.method for r in results} == {"true mask", "classical", "unet", "unet+ink"}
    assert sum(r.overlap for r in results if r.method == "true mask") == 2
    for r in results:
        if r.method == "true mask":
            assert r.counts is not None
            # all but a pixel or two: the lead box ends where the time span ends, half a pen
            # width inside the ink's end
            assert iou(r.counts) > 0.999 and r.counts.fp == 0
            assert r.snr > 5 and r.r > 0.9
        assert r.ms > 0 and np.isfinite(r.mse)
    rows = summarise_crops(results)
    assert [(r.method, r.subset) for r in rows] == [
        ("true mask", "overlap"),
        ("true mask", "no overlap"),
        ("true mask", "all"),
        ("classical", "overlap"),
        ("classical", "no overlap"),
        ("classical", "all"),
        ("unet", "overlap"),
        ("unet", "no overlap"),
        ("unet", "all"),
        ("unet+ink", "overlap"),
        ("unet+ink", "no overlap"),
        ("unet+ink", "all"),
    ]
    assert "| true mask | all | 4 |" in crop_rows_markdown(rows)
    again = evaluate_crops(4, seed=3, split="validation", dpi=(150.0, 150.0), degrade=0.0)
    assert [r.snr for r in again] == [r.snr for r in results]


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        evaluate_crops(1, seed=0, split="validation", methods=("magic",))
