"""Crops cut from the ECGtizer PDFs (a foreign renderer): geometry and truth line up with ink."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from ecgtrace.bench.ecgtizer import (
    CELLS,
    FAINT_MAX,
    PageGeometry,
    ecgtizer_ids,
    ecgtizer_path,
    page_geometry,
    reader_gain,
)
from ecgtrace.bench.ecgtizer_crops import ecgtizer_crops, page_crops
from ecgtrace.data import Record, load_record
from ecgtrace.io.pdf import rasterize_pdf
from ecgtrace.leads import LEAD_NAMES
from ecgtrace.render.crops import Crop

DPI = 100.0
# 9: a quiet record; 299: tall R waves that run into the neighbouring rows and off the grid.
IDS = (9, 299)
LEADS = [lead for row in CELLS for lead in row]


@pytest.fixture(scope="module")
def pdfs(shared_data: None) -> dict[int, tuple[NDArray[np.uint8], PageGeometry, Record]]:
    if not set(IDS) <= set(ecgtizer_ids()):
        pytest.skip("ECGtizer PDFs not present in the shared data")
    out = {}
    for ecg_id in IDS:
        image = rasterize_pdf(ecgtizer_path(ecg_id), dpi=DPI, pages=1)[0]
        out[ecg_id] = (image, page_geometry(image, name=str(ecg_id)), load_record(ecg_id, fs=500))
    return out


@pytest.fixture(scope="module")
def crops(pdfs: dict) -> dict[int, list[Crop]]:
    got = list(ecgtizer_crops(dpi=DPI, ids=IDS))
    return {ecg_id: got[13 * k : 13 * (k + 1)] for k, ecg_id in enumerate(IDS)}


def test_ids_are_the_3x4_pdfs(shared_data: None) -> None:
    ids = ecgtizer_ids()
    if not ids:
        pytest.skip("ECGtizer PDFs not present in the shared data")
    assert ids == sorted(set(ids))
    assert 9 in ids
    assert all(ecgtizer_path(i).name == f"{i:05d}_hr.pdf" for i in ids)


def test_geometry_scale_gain_and_rows(pdfs: dict) -> None:
    for _, g, _ in pdfs.values():
        assert abs(g.px_per_mm_row / (DPI / 25.4) - 1) < 0.01
        assert abs(g.px_per_mm_col / (DPI / 25.4) - 1) < 0.01
        # The pulse is 10 mm tall (1 mV at 10 mm/mV); the traces are drawn at 10 mm/mV.
        assert abs(g.gain_measured - 10.0) < 0.3
        assert g.gain_mm_mv == 10.0
        # Rows 40 mm apart, t = 0 just right of the pulses, both rows' ends where expected.
        assert np.allclose(np.diff(g.baselines) / g.px_per_mm_row, 40.0, atol=0.25)
        assert g.pulse_boxes[0, 3] < g.col_t0 < g.pulse_boxes[0, 3] + 2 * g.px_per_mm_col
        assert abs(g.strip_end_error_mm) < 0.5
        assert abs(g.rows_end_error_mm) < 0.5


def test_thirteen_crops_with_their_truth(pdfs: dict, crops: dict) -> None:
    for ecg_id, (image, g, record) in pdfs.items():
        got = crops[ecg_id]
        assert [c.lead for c in got] == LEADS
        again = page_crops(image, record.p_signal, record.fs, g)
        for k, c in enumerate(got):
            rhythm = k == 12
            n = round((10.0 if rhythm else 2.5) * record.fs)
            assert c.times_s.shape == c.signal_mv.shape == (n,)
            assert c.times_s[-1] - c.times_s[0] + 1 / record.fs == pytest.approx(n / record.fs)
            assert c.times_s[0] == pytest.approx(0.0 if rhythm else 2.5 * (k % 4))
            i0 = round(c.times_s[0] * record.fs)
            lead = LEAD_NAMES.index(c.lead)
            assert np.array_equal(c.signal_mv, record.p_signal[i0 : i0 + n, lead])
            assert c.polyline.shape == c.zero_line.shape == (n, 2)
            assert c.mask.shape == c.others.shape == c.image.shape[:2]
            assert not c.mask.any() and not c.others.any() and not c.mask_known
            assert c.image.dtype == np.uint8 and c.image.shape[2] == 3
            assert c.degradations == ("ecgtizer",)
            assert (c.speed_mm_s, c.gain_mm_mv) == (25.0, 10.0)
            # Centred on the baseline; the time span is the crop's width less the margins.
            assert abs(c.zero_line[0, 0] - (c.image.shape[0] - 1) / 2) <= 1.0
            span_mm = (c.polyline[-1, 1] - c.polyline[0, 1]) / c.px_per_mm_col + 25.0 / record.fs
            assert span_mm == pytest.approx(25.0 * n / record.fs, rel=1e-6)
            width_px = (span_mm + 10.0) * c.px_per_mm_col
            assert width_px <= c.image.shape[1] <= width_px + 2.5
            # The crop's pixels are the page's (around the baseline, inside the page).
            r0, c0 = c.origin
            mid = c.image.shape[0] // 2
            page_part = image[r0 + mid - 5 : r0 + mid + 5, c0 : c0 + c.image.shape[1]]
            assert np.array_equal(c.image[mid - 5 : mid + 5], page_part)
            assert np.array_equal(c.polyline, again[k].polyline)


def _on_ink(c: Crop, shift_px: float = 0.0) -> float:
    """Share of the polyline's columns whose darkest pixel within 2 rows of it is ink.

    ``shift_px`` moves the polyline along the time axis first. At 100 DPI the 0.24 mm strokes
    are under a pixel wide and anti-aliased, so ink here is ``max(R, G, B) < FAINT_MAX``.
    """
    brightest = c.image.max(axis=2)
    line_cols = c.polyline[:, 1] + shift_px
    cols = np.arange(np.ceil(max(line_cols[0], 0)), np.floor(line_cols[-1]) + 1)
    cols = cols[cols < brightest.shape[1]]
    rows = np.round(np.interp(cols, line_cols, c.polyline[:, 0])).astype(int)
    darkest = np.array(
        [
            brightest[max(r - 2, 0) : max(r + 3, 0), k].min(initial=255)
            for r, k in zip(rows, cols.astype(int), strict=True)
        ]
    )
    return float(np.mean(darkest < FAINT_MAX))


def test_truth_polyline_lies_on_the_ink(crops: dict) -> None:
    for got in crops.values():
        for c in got:
            assert _on_ink(c) >= 0.9, c.lead
        # The time axis is right: 1 mm either way fits the rhythm strip worse.
        strip = got[12]
        mm = strip.px_per_mm_col
        assert _on_ink(strip) > max(_on_ink(strip, -mm), _on_ink(strip, mm)) + 0.05


def test_whole_trace_crops_grow_and_overlaps_are_flagged(crops: dict) -> None:
    quiet, tall = crops[9], crops[299]
    standard = [round((40.0 + 10.0) * c.px_per_mm_row) for c in tall]
    assert all(abs(c.image.shape[0] - s) <= 3 for c, s in zip(quiet, standard, strict=True))
    # Record 299's R waves reach far above lead I's band: its crop grows to hold them.
    lead_i = tall[0]
    assert lead_i.image.shape[0] > standard[0] + 10
    assert np.nanmin(lead_i.polyline[:, 0]) >= 0
    assert lead_i.overlap
    assert sum(c.overlap for c in tall) >= 5
    assert sum(c.overlap for c in quiet) <= 2
    narrow = list(ecgtizer_crops(dpi=DPI, ids=[299], whole_trace=False))
    assert all(abs(c.image.shape[0] - s) <= 3 for c, s in zip(narrow, standard, strict=True))


def test_pages_of_another_layout_are_refused(pdfs: dict) -> None:
    image, g, _ = pdfs[9]
    with pytest.raises(ValueError, match="no ECG grid"):
        page_geometry(np.full((600, 800, 3), 255, np.uint8), name="blank")
    erased = image.copy()
    erased[:, : g.pulse_boxes[0, 3] + 1] = 255
    with pytest.raises(ValueError, match="calibration pulses"):
        page_geometry(erased, name="erased")
    with pytest.raises(ValueError, match="no such ECGtizer PDF"):
        next(ecgtizer_crops(dpi=DPI, ids=[1]))


def test_the_reader_snaps_gains_near_its_renderers_own() -> None:
    assert reader_gain(10.2) == 10.0 and reader_gain(19.5) == 20.0 and reader_gain(4.9) == 5.0
    assert reader_gain(10.5) == 10.5  # 5 % off: read as measured
    assert reader_gain(2.5) == 2.5  # a standard gain, but not one this renderer prints
