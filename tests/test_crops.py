"""Single-lead crops: centred on the lead, its own mask as target, overlap share as asked."""

from __future__ import annotations

import numpy as np
import pytest

from ecgtrace.data import Record
from ecgtrace.render import PageSpec, Rendered, render_page
from ecgtrace.render.crops import crop_segment, iter_crops


@pytest.mark.parametrize("whole_trace", [False, True])
def test_crop_is_centred_on_the_lead_and_keeps_its_mask(page: Rendered, whole_trace: bool) -> None:
    clipped = 0
    for k, seg in enumerate(page.truth.segments):
        crop = crop_segment(page, k, whole_trace=whole_trace)
        centre = (crop.image.shape[0] - 1) / 2
        assert abs(np.mean(crop.zero_line[:, 0]) - centre) <= 1.0
        # The crop's mask is the page mask seen through the crop's window.
        r0, c0 = crop.origin
        full = seg.page_mask(page.truth.shape)
        rows, cols = np.nonzero(full)
        seen = (rows >= r0) & (rows < r0 + crop.mask.shape[0])
        assert crop.mask.sum() == seen.sum()
        assert crop.mask[rows[seen] - r0, cols[seen] - c0].all()
        clipped += int(not seen.all())
        assert not (crop.mask & crop.others).all()
        # The crop's pixels are the page's.
        inside = (slice(max(r0, 0), r0 + crop.image.shape[0]), slice(max(c0, 0), None))
        sub = page.image[inside][:, : crop.image.shape[1] - max(0, -c0)]
        assert np.array_equal(crop.image[max(0, -r0) :, max(0, -c0) :][: sub.shape[0]], sub)
    # Record 85's V4 reaches above its band and margin: only whole-trace crops hold all of it.
    assert (clipped == 0) if whole_trace else (clipped > 0)


def test_overlapping_crop_contains_the_neighbours_intrusion(record: Record) -> None:
    tight = render_page(record.p_signal, record.fs, PageSpec(overlap=0.8), rng=0)
    k = next(i for i, s in enumerate(tight.truth.segments) if s.label == "V3")
    crop = crop_segment(tight, k)
    assert crop.overlap
    band_rows = np.abs(np.arange(crop.image.shape[0]) - crop.image.shape[0] / 2) < (
        tight.truth.segments[k].band.height / 2
    )
    assert crop.others[band_rows].any()  # V2's big S waves come down into V3's band


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_iter_crops_gives_the_asked_overlap_share(record: Record, fraction: float) -> None:
    crops = list(
        iter_crops([(record.p_signal, record.fs)], 6, overlap_fraction=fraction, degrade=0.5, rng=2)
    )
    assert len(crops) == 6
    assert sum(c.overlap for c in crops) == round(6 * fraction)
    for c in crops:
        assert c.mask.any() and c.mask.shape == c.image.shape[:2]


def test_iter_crops_is_seeded(record: Record) -> None:
    a = list(iter_crops([(record.p_signal, record.fs)], 3, rng=5))
    b = list(iter_crops([(record.p_signal, record.fs)], 3, rng=5))
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="overlap_fraction"):
        next(iter_crops([(record.p_signal, record.fs)], 3, overlap_fraction=2.0))
