"""Printed lead labels: the window's geometry, the shipped classifier on rendered pages (a
record and seeds it never trained on), the naming decisions they feed, ONNX against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace.data import example_record
from ecgtrace.layout import naming
from ecgtrace.layout.labels import (
    LABEL_CLASSES,
    LABEL_PX_PER_MM,
    WINDOW_ABOVE_MM,
    WINDOW_BEFORE_MM,
    WINDOW_SHAPE,
    Reading,
    Spot,
    default_reader,
    label_window,
    read_labels,
    weights_path,
)
from ecgtrace.render import PageSpec, Rendered, render_page
from ecgtrace.render import degrade as deg


def _page(**options: object) -> Rendered:
    record = example_record()
    return render_page(record.p_signal, record.fs, PageSpec(**options), rng=1)  # type: ignore[arg-type]


def _spots(page: Rendered) -> list[Spot]:
    return [Spot(s.baseline_row, s.band.left) for s in page.truth.segments]


def test_label_window_is_anchored_in_mm() -> None:
    ppm_row, ppm_col = 8.0, 7.0
    image = np.full((400, 400, 3), 250, np.uint8)
    # A dark 2 x 3 mm block 6-8 mm above the baseline (row 300), 1-4 mm after the start (col 100).
    image[300 - 8 * 8 : 300 - 6 * 8, 100 + 7 : 100 + 4 * 7] = 20
    win = label_window(image, Spot(300.0, 100.0), px_per_mm_row=ppm_row, px_per_mm_col=ppm_col)
    assert win.shape == WINDOW_SHAPE
    rows, cols = np.nonzero(win > 0.5)
    k = LABEL_PX_PER_MM
    assert rows.min() == pytest.approx((WINDOW_ABOVE_MM - 8) * k, abs=1.5)
    assert rows.max() == pytest.approx((WINDOW_ABOVE_MM - 6) * k, abs=1.5)
    assert cols.min() == pytest.approx((WINDOW_BEFORE_MM + 1) * k, abs=1.5)
    assert cols.max() == pytest.approx((WINDOW_BEFORE_MM + 4) * k, abs=1.5)
    # Past the page's edge is paper.
    edge = label_window(image, Spot(5.0, 2.0), px_per_mm_row=ppm_row, px_per_mm_col=ppm_col)
    assert edge.shape == WINDOW_SHAPE and edge.max() < 0.1


@pytest.mark.parametrize(
    "options",
    [
        dict(dpi=150.0, font="simplex"),
        dict(dpi=100.0, font="triplex", lead_order="cabrera", rhythm_leads=("V1", "V5")),
        dict(dpi=200.0, font="italic", layout="6x2", font_mm=2.8),
        dict(dpi=120.0, font="duplex", layout="12x1", overlap=0.6),
    ],
    ids=["simplex", "triplex cabrera", "italic 6x2", "duplex 12x1"],
)
def test_shipped_reader_reads_rendered_labels(options: dict[str, object]) -> None:
    page = _page(**options)
    truth = page.truth
    readings = read_labels(
        page.image, _spots(page), px_per_mm_row=truth.px_per_mm_row,
        px_per_mm_col=truth.px_per_mm_col,
    )  # fmt: skip
    read = [r.best[0] for r in readings]
    expected = [s.label for s in truth.segments]
    assert np.mean([a == b for a, b in zip(read, expected, strict=True)]) >= 0.9, (read, expected)


def test_no_label_reads_none_also_on_a_degraded_page() -> None:
    page = deg.apply(_page(dpi=150.0, labels=False), ["jpeg", "shading"], strength=0.6, rng=0)
    truth = page.truth
    mid = [Spot(s.baseline_row, 0.5 * (s.band.left + s.band.right)) for s in truth.segments]
    readings = read_labels(
        page.image, _spots(page) + mid, px_per_mm_row=truth.px_per_mm_row,
        px_per_mm_col=truth.px_per_mm_col,
    )  # fmt: skip
    assert np.mean([r.best[0] == "none" for r in readings]) >= 0.95


def _reading(label: str, p: float = 0.95) -> Reading:
    probs = np.full(len(LABEL_CLASSES), (1.0 - p) / (len(LABEL_CLASSES) - 1))
    probs[LABEL_CLASSES.index(label)] = p
    return Reading(tuple(float(v) for v in probs))


def _labels(grid: list[list[str]]) -> naming.PageLabels:
    return naming.PageLabels(tuple(tuple(_reading(x) for x in row) for row in grid))


def test_labels_tell_six_rows_apart() -> None:
    three_by_four = [
        ["I", "aVR", "V1", "V4"],
        ["II", "aVL", "V2", "V5"],
        ["III", "aVF", "V3", "V6"],
    ]
    rhythm = [["II"] + ["none"] * 3, ["V1"] + ["none"] * 3, ["V5"] + ["none"] * 3]
    six_by_two = [[a, "none", b, "none"] for a, b in zip(
        ["I", "II", "III", "aVR", "aVL", "aVF"], ["V1", "V2", "V3", "V4", "V5", "V6"], strict=True
    )]  # fmt: skip
    assert naming.six_from_labels(_labels(three_by_four + rhythm)) == "3x4"
    assert naming.six_from_labels(_labels(six_by_two)) == "6x2"
    assert naming.six_from_labels(_labels([["none"] * 4] * 6)) is None


def test_labels_tell_the_lead_order() -> None:
    cabrera = [
        [limb, "none", chest, "none"]
        for limb, chest in zip(["aVL", "I", "-aVR", "II", "aVF", "III"],
                               ["V1", "V2", "V3", "V4", "V5", "V6"], strict=True)
    ]  # fmt: skip
    assert naming.order_from_labels(_labels(cabrera), "6x2") == "cabrera"
    standard = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
    assert naming.order_from_labels(_labels(standard), "3x4") == "standard"
    assert naming.order_from_labels(_labels([["none"] * 4] * 3), "3x4") is None


def test_a_strip_takes_the_lead_its_label_names_once() -> None:
    assert naming.lead_from_label(_reading("V5")) == "V5"
    assert naming.lead_from_label(_reading("V5"), taken=("V5",)) is None
    assert naming.lead_from_label(_reading("V5", p=0.5)) is None
    assert naming.lead_from_label(_reading("none")) is None


def test_onnx_agrees_with_pytorch() -> None:
    pytest.importorskip("torch")
    import torch

    from ecgtrace.train.export import torch_weights_path
    from ecgtrace.train.labels import load_label_net

    if not torch_weights_path(weights_path()).exists():
        pytest.skip("the PyTorch weights models/labels.pt are kept in the repository")
    page = _page(dpi=150.0)
    truth = page.truth
    x = np.stack([
        label_window(page.image, s, px_per_mm_row=truth.px_per_mm_row,
                     px_per_mm_col=truth.px_per_mm_col)
        for s in _spots(page)
    ])  # fmt: skip
    onnx_p = default_reader()(x)
    with torch.no_grad():
        torch_p = torch.softmax(load_label_net(weights_path())(torch.from_numpy(x[:, None])), 1)
    assert np.abs(onnx_p - torch_p.numpy()).max() < 1e-4


def test_a_bare_edge_row_on_a_labelled_page_is_spurious() -> None:
    cells = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
    bare = [["none"] * 4]
    assert naming.spurious_row(_labels([*cells, ["II"] + ["none"] * 3, *bare])) == 4
    assert naming.spurious_row(_labels([*bare, *cells])) == 0
    assert naming.spurious_row(_labels([*cells, ["II"] + ["none"] * 3])) is None
    # One mark read alike on every row (a pulse's stroke taken for "I") is no label.
    alike = [["I"] + ["none"] * 3] * 3
    assert naming.spurious_row(_labels([*bare, *alike])) is None


def test_strip_labels_count_only_where_the_cells_are_read() -> None:
    cells = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
    assert naming.labels_trusted(_labels([*cells, ["V5"] + ["none"] * 3]), "3x4")
    unlabelled = [["I"] + ["none"] * 3] * 4
    assert not naming.labels_trusted(_labels(unlabelled), "3x4")
