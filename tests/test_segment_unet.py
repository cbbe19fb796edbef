"""The shipped U-Net: preprocessing, ONNX against PyTorch, and what it finds on rendered crops."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace.bench.crops import score_crop
from ecgtrace.data import Record
from ecgtrace.metrics import iou
from ecgtrace.render import PageSpec, Rendered, render_page
from ecgtrace.render.crops import Crop, crop_segment
from ecgtrace.segment.unet import (
    DEFAULT_PREP,
    load_model,
    network_input,
    pad_input,
    resize_to_mm,
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
    assert x[3, 31 + 20, 5] == pytest.approx(0.5)  # one unit per 10 mm at 4 px/mm
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


def _score(crop: Crop, method: str) -> tuple[float, float]:
    result = score_crop(crop, method, fs=500.0)
    assert result.counts is not None
    return iou(result.counts), result.snr


def test_shipped_model_isolates_the_primary_trace(page: Rendered, tight: Rendered) -> None:
    overlapping = [k for k, s in enumerate(tight.truth.segments) if s.overlap]
    assert len(overlapping) >= 2
    for k in (0, 7):  # clean, no overlap: close to the true mask's ~20 dB
        crop = crop_segment(page, k, whole_trace=True)
        seg_iou, snr = _score(crop, "unet")
        assert seg_iou > 0.65 and snr > 13.0, (crop.lead, seg_iou, snr)
        seg_iou, snr = _score(crop, "unet+ink")
        assert seg_iou > 0.8 and snr > 17.0, (crop.lead, seg_iou, snr)
    for k in (overlapping[0], overlapping[-1]):  # neighbours' complexes cross the lead
        crop = crop_segment(tight, k, whole_trace=True)
        seg_iou, snr = _score(crop, "unet")
        _, classical_snr = _score(crop, "classical")
        assert seg_iou > 0.6 and snr > 8.0 and snr > classical_snr + 5.0, (crop.lead, snr)


def test_onnx_agrees_with_pytorch(page: Rendered) -> None:
    pytest.importorskip("torch")
    import torch

    from ecgtrace.train import load_exported, torch_weights_path

    if not torch_weights_path(weights_path()).exists():
        pytest.skip("the PyTorch weights models/unet.pt are kept in the repository, not the wheel")

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
