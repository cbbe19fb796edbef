"""The classical segmenter on rendered crops: it finds the ink and drops the grid."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace.data import Record
from ecgtrace.render import GridStyle, PageSpec, degrade, render_page
from ecgtrace.render.crops import crop_segment
from ecgtrace.segment import segment_classical


@pytest.mark.parametrize(
    ("grid", "looks"),
    [
        (GridStyle.named("pink"), ()),
        (GridStyle.named("red"), ("shading", "sensor_noise", "jpeg")),
        (GridStyle.named("grey", style="dotted"), ()),
        (GridStyle.named("green"), ("faded", "paper_texture")),
        (GridStyle.named("blue"), ("binarise",)),
    ],
)
def test_finds_the_trace_and_drops_the_grid(
    record: Record, grid: GridStyle, looks: tuple[str, ...]
) -> None:
    page = render_page(record.p_signal, record.fs, PageSpec(grid=grid), rng=0)
    page = degrade.apply(page, looks, strength=0.6, rng=1)
    t = page.truth
    text = np.zeros(t.shape, bool)  # labels, pulses, separators, header: ink, but not traces
    boxes = [p.box for p in t.pulses] + list(t.marks) + [t.header_box]
    boxes += [s.label_box for s in t.segments]
    for b in boxes:
        if b is not None:
            text[b.slices(t.shape)] = True
    for k in (0, 5, 10):
        crop = crop_segment(page, k)
        prob = segment_classical(crop.image, px_per_mm=crop.px_per_mm_row)
        assert prob.shape == crop.mask.shape and prob.dtype == np.float32
        found = prob >= 0.5
        # nearly all of the lead's own trace that the image still shows as ink is found
        visible = crop.mask & (crop.image.astype(float).mean(axis=2) < 160)
        assert found[visible].mean() > 0.85, (grid, looks, crop.lead)
        # and what is found is ink: some lead's trace, or text and marks, not grid
        r0, c0 = crop.origin
        ink = crop.mask | crop.others
        rows = slice(max(r0, 0), r0 + ink.shape[0])
        cols = slice(max(c0, 0), c0 + ink.shape[1])
        cut = text[rows, cols]
        ink[max(0, -r0) : max(0, -r0) + cut.shape[0], max(0, -c0) : max(0, -c0) + cut.shape[1]] |= (
            cut
        )
        grown = np.zeros_like(ink)
        for dr in (-2, -1, 0, 1, 2):
            for dc in (-2, -1, 0, 1, 2):
                grown |= np.roll(np.roll(ink, dr, axis=0), dc, axis=1)
        stray = found & ~grown
        assert stray.sum() < 0.05 * found.sum(), (grid, looks, crop.lead, stray.sum())


def test_blank_paper_gives_nothing() -> None:
    blank = np.full((120, 400, 3), 250, np.uint8)
    assert segment_classical(blank, px_per_mm=8.0).max() < 0.5


def test_refuses_a_grey_image() -> None:
    with pytest.raises(ValueError, match="RGB"):
        segment_classical(np.zeros((10, 10), np.uint8), px_per_mm=8.0)
