"""The shipped U-Net: preprocessing, ONNX against PyTorch, and what it finds on rendered crops."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace.data import Record
from ecgtrace.evaluate import crop_geometry, lead_columns
from ecgtrace.extract import extract_lead
from ecgtrace.metrics import challenge_snr, confusion, iou
from ecgtrace.render import PageSpec, Rendered, render_page
from ecgtrace.render.crops import crop_segment
from ecgtrace.segment.unet import (
    DEFAULT_PREP,
    load_model,
    network_input,
    pad_input,
    resize_to_mm,
    segment_unet,
    weights_path,
)


def test_resize_to_mm_gives_the_working_pitch() -> None:
    image = np.zeros((80, 120), dtype=np.float32)
    image[40, :] = 1.0  # a 1 px line; 8 px/mm rows, 6 px/mm cols
    out = resize_to_mm(image, px_per_mm_row=8.0, px_per_mm_col=6.0, px_per_mm=4.0)
    assert out.shape == (40, 80)
    assert out.dtype == np.float32
    assert out.sum() == pytest.approx(image.sum() * (40 * 80) / (80 * 120), rel=1e-3)


def test_network_input_normalises_paper_and_marks_the_baseline() -> None:
    image = np.full((64, 96, 3), (250, 235, 240), dtype=np.uint8)  # tinted paper
    image[30:32] = 0  # a dark trace
    x = network_input(image, centre_row=31.0)
    assert x.shape == (4, 64, 96) and x.dtype == np.float32
    np.testing.assert_allclose(x[:3, 0, 0], 0.5, atol=1e-6)  # paper is paper, whatever its tint
    np.testing.assert_allclose(x[:3, 30, 0], -0.5, atol=1e-6)
    assert x[3, 31, 5] == 0.0
    assert x[3, 31 + 40, 5] == pytest.approx(1.0)  # one unit per 10 mm at 4 px/mm
    padded = pad_input(x, 16)
    assert padded.shape == (4, 64, 96)
    padded = pad_input(x[:, :50, :90], 16)
    assert padded.shape == (4, 64, 96)
    np.testing.assert_allclose(np.diff(padded[3, :, 0]), 1 / 40, atol=1e-6)
    assert np.all(padded[:3, 50:] == 0.5)


@pytest.fixture(scope="module")
def tight(record: Record) -> Rendered:
    """A 3x4 page at 200 DPI with rows pushed together so large complexes cross."""
    return render_page(record.p_signal, record.fs, PageSpec(overlap=0.9), rng=1)


def _score(page: Rendered, k: int) -> tuple[float, float]:
    crop = crop_segment(page, k, whole_trace=True)
    geometry = crop_geometry(crop, record_fs := 500.0)
    keep = lead_columns(geometry, crop.image.shape[1])
    prob = np.zeros(crop.mask.shape, dtype=np.float32)
    prob[:, keep] = segment_unet(
        crop.image, px_per_mm_row=crop.px_per_mm_row, px_per_mm_col=crop.px_per_mm_col
    )[:, keep]
    assert prob.shape == crop.mask.shape and prob.dtype == np.float32
    sig = extract_lead(prob, geometry, fs=record_fs)
    return iou(confusion(prob >= 0.5, crop.mask)), challenge_snr(crop.signal_mv, sig.mv, fs=500.0)


def test_shipped_model_isolates_the_primary_trace(page: Rendered, tight: Rendered) -> None:
    overlapping = [k for k, s in enumerate(tight.truth.segments) if s.overlap]
    assert overlapping
    for rendered, k in ((page, 0), (page, 7), (tight, overlapping[0]), (tight, overlapping[-1])):
        seg_iou, snr = _score(rendered, k)
        assert seg_iou > 0.6, (rendered.truth.segments[k].lead, seg_iou)
        assert snr > 10.0, (rendered.truth.segments[k].lead, snr)


def test_onnx_agrees_with_pytorch(page: Rendered) -> None:
    pytest.importorskip("torch")
    import torch

    from ecgtrace.train import load_exported

    crop = crop_segment(page, 5, whole_trace=True)
    small = resize_to_mm(
        crop.image, px_per_mm_row=crop.px_per_mm_row, px_per_mm_col=crop.px_per_mm_col,
        px_per_mm=DEFAULT_PREP.px_per_mm,
    )  # fmt: skip
    x = pad_input(network_input(small, centre_row=small.shape[0] / 2), 16)[None]
    onnx_prob = load_model()(x)
    with torch.no_grad():
        torch_prob = torch.sigmoid(load_exported(weights_path())(torch.from_numpy(x)))[:, 0]
    assert np.abs(onnx_prob - torch_prob.numpy()).max() < 1e-4
    assert onnx_prob.max() > 0.9  # it did see a trace


def test_missing_weights_say_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError, match="no U-Net weights"):
        load_model(tmp_path / "none.onnx")
