"""The crop benchmark: seeded, scored against truth, summarised per subset."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace.bench.crops import (
    crop_box,
    crop_geometry,
    crop_grid,
    crops_table,
    evaluate_crops,
    segment_crop,
    summarise_crops,
)
from ecgtrace.metrics import iou
from ecgtrace.render import Rendered
from ecgtrace.render.crops import crop_segment
from ecgtrace.segment.box import segment_box


def test_crop_benchmark_scores_methods_against_truth(shared_data: None) -> None:
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
    assert "| true mask | all | 4 |" in crops_table(rows, "crops").to_markdown()
    again = evaluate_crops(4, seed=3, split="validation", dpi=(150.0, 150.0), degrade=0.0)
    assert [r.snr for r in again] == [r.snr for r in results]


def test_unknown_method_is_refused(shared_data: None) -> None:
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        evaluate_crops(1, seed=0, split="validation", methods=("magic",))


@pytest.mark.parametrize("method", ["classical", "unet"])
def test_shipped_methods_run_the_lead_box_segmenter(page: Rendered, method: str) -> None:
    crop = crop_segment(page, 0, whole_trace=True)
    rows, cols = crop.image.shape[:2]
    geometry = crop_geometry(crop, 500.0)
    box = crop_box(crop, geometry)
    span = geometry.duration_s * geometry.speed_mm_s * geometry.px_per_mm_col
    assert (box.box.left, box.box.right) == (geometry.col0, pytest.approx(geometry.col0 + span))
    assert abs(box.baseline_row - (rows - 1) / 2) <= 1.0
    grid = crop_grid(crop)
    assert grid.found and grid.px_per_mm_row == crop.px_per_mm_row
    found = segment_box(crop.image, box, grid, method=method)
    # The window holds the crop's rows (and more: 27 mm either side, padded white).
    assert found.origin_row <= 0 and found.origin_row + found.prob.shape[0] >= rows
    prob = segment_crop(crop, method, geometry)
    assert prob.shape == (rows, cols)
    r0, c0 = -found.origin_row, max(0, -found.origin_col)
    c1 = min(cols, found.origin_col + found.prob.shape[1])
    np.testing.assert_array_equal(
        prob[:, c0:c1], found.prob[r0 : r0 + rows, c0 - found.origin_col : c1 - found.origin_col]
    )
    assert not prob[:, : int(geometry.col0) - 1].any()  # zero left of the box
    assert (prob[crop.mask] >= 0.5).mean() > 0.5
