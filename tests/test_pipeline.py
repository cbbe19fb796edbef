"""Whole pages through the pipeline, scored against the renderer's exact truth."""

from __future__ import annotations

import numpy as np
import pypdfium2 as pdfium
import pytest

from ecgtrace import Digitization, DigitizeOptions, digitize
from ecgtrace.bench.ecgtizer import ecgtizer_ids, ecgtizer_path
from ecgtrace.data import Record
from ecgtrace.digitization import DigitizeError
from ecgtrace.leads import LEAD_NAMES
from ecgtrace.metrics import lead_snrs
from ecgtrace.pipeline import digitize_pages
from ecgtrace.recording import combine, einthoven_rms
from ecgtrace.render import GridStyle, PageSpec, Rendered, degrade, render_page
from ecgtrace.render.photo import quarter_turn


def _snrs(page: Rendered, dig: Digitization) -> np.ndarray:
    return lead_snrs(page.truth.signal_plotted, dig.p_signal, fs=dig.fs)


@pytest.fixture(scope="module")
def clean(page: Rendered) -> Digitization:
    return digitize(page.image, DigitizeOptions(fs=500.0))


def test_clean_3x4_page(page: Rendered, clean: Digitization) -> None:
    assert clean.layout.name == "3x4+II"
    assert clean.p_signal.shape == (5000, 12)
    assert clean.sig_name == LEAD_NAMES and clean.units == "mV" and clean.fs == 500.0
    # NaN exactly where the page plots nothing: lead I only in 0-2.5 s, II (rhythm) throughout.
    plotted = np.isfinite(page.truth.signal_plotted)
    read = np.isfinite(clean.p_signal)
    assert np.all(read <= plotted)
    # The cell's first sample (2 ms) sits on its edge column: read or not by 0.05 px of pitch.
    assert read[:, 1].mean() > 0.98 and read[1:1200, 0].all() and not read[1300:, 0].any()
    assert np.isfinite(clean.p_signal[3800:4900, 9]).all()  # V4 in 7.5-10 s
    snr = _snrs(page, clean)
    assert np.nanmean(snr) > 12.0 and np.nanmin(snr) > 5.0
    assert clean.speed_from == "pulse" and clean.gain_from == "pulse"
    assert len(clean.traces) == 13 and min(t.confidence for t in clean.traces) > 0.8
    assert clean.times.total_s > 0 and clean.times.segment_s > 0


def test_cells_start_at_their_column_times(clean: Digitization) -> None:
    t0 = {(t.lead, t.is_rhythm): t.t0_s for t in clean.traces}
    assert t0[("I", False)] == 0.0 and t0[("aVR", False)] == pytest.approx(2.5)
    assert t0[("V1", False)] == pytest.approx(5.0) and t0[("V6", False)] == pytest.approx(7.5)


@pytest.mark.parametrize(
    ("spec", "name", "min_snr"),
    [
        (PageSpec(layout="6x2", rhythm_leads=("II",)), "6x2+II", 6.0),
        (PageSpec(layout="12x1", dpi=150), "12x1", 3.0),
        (PageSpec(layout="3x4", rhythm_leads=("II", "V1", "V5"), dpi=300), "3x4+II,V1,V5", 9.0),
    ],
)
def test_other_layouts(record: Record, spec: PageSpec, name: str, min_snr: float) -> None:
    page = render_page(record.p_signal, record.fs, spec, rng=0)
    dig = digitize(page.image)
    assert dig.layout.name == name
    assert np.nanmean(_snrs(page, dig)) > min_snr


def test_rotated_page_is_deskewed(record: Record) -> None:
    page = render_page(record.p_signal, record.fs, PageSpec(), rng=0)
    turned = degrade.rotate(page, degrees=2.0)
    dig = digitize(turned.image)
    assert dig.rotation_deg == pytest.approx(2.0, abs=0.1)
    assert dig.layout.name == "3x4+II"
    assert np.nanmean(_snrs(turned, dig)) > 10.0


def test_gain_and_speed_from_the_pulses(record: Record) -> None:
    page = render_page(
        record.p_signal, record.fs, PageSpec(gain_mm_mv=20.0, speed_mm_s=50.0, dpi=150), rng=0
    )
    dig = digitize(page.image)
    assert (dig.gain_mm_mv, dig.gain_from) == (20.0, "pulse")
    assert (dig.speed_mm_s, dig.speed_from) == (50.0, "pulse")
    assert np.nanmean(_snrs(page, dig)) > 8.0


def test_given_gain_is_used_and_a_disagreement_warned(page: Rendered, clean: Digitization) -> None:
    dig = digitize(page.image, DigitizeOptions(gain_mm_mv=20.0, layout="3x4+II"))
    assert dig.gain_from == "given" and dig.gain_mm_mv == 20.0
    assert any("pulses show" in w for w in dig.warnings)
    # Never rescaled behind the user's back: half the amplitude the pulses imply.
    ratio = np.nanstd(dig.p_signal[:, 1]) / np.nanstd(clean.p_signal[:, 1])
    assert ratio == pytest.approx(0.5, rel=0.02)


def test_wrong_layout_is_an_error(page: Rendered) -> None:
    with pytest.raises(DigitizeError, match="layout not recognised: found 4 trace rows"):
        digitize(page.image, DigitizeOptions(layout="12x1"), source="p.png")


@pytest.mark.parametrize(
    ("image", "cause"),
    [
        (np.full((600, 800, 3), 255, np.uint8), "no ECG grid found"),
        (np.zeros((20, 20, 3), np.uint8), "too small"),
        (np.zeros((600, 800), np.uint8), "expected an RGB uint8 image"),
    ],
)
def test_not_an_ecg(image: np.ndarray, cause: str) -> None:
    with pytest.raises(DigitizeError, match=f"^blank.png: .*{cause}"):
        digitize(image, source="blank.png")


def test_files_and_pdfs(tmp_path, page: Rendered, shared_data: None) -> None:  # type: ignore[no-untyped-def]
    from ecgtrace.io.files import write_png

    png = write_png(tmp_path / "page.png", page.image)
    assert digitize(png).layout.name == "3x4+II"
    src = pdfium.PdfDocument(str(ecgtizer_path(ecgtizer_ids()[0])))
    pdf = pdfium.PdfDocument.new()
    pdf.import_pages(src, [0])
    pdf.import_pages(src, [0])
    pdf.save(str(tmp_path / "two.pdf"))
    pages = digitize_pages(tmp_path / "two.pdf", dpi=100)
    assert [d.page for d in pages] == [1, 2]
    assert all(d.layout.name == "3x4+II" for d in pages)
    with pytest.raises(DigitizeError, match="has 2 pages, not 3"):
        digitize(tmp_path / "two.pdf", page=3)
    with pytest.raises(DigitizeError, match="no such file"):
        digitize(tmp_path / "missing.png")


def test_combine_weights_agreeing_drawings_and_drops_a_disagreeing_one() -> None:
    t = np.arange(100) / 100
    a = np.sin(2 * np.pi * t)
    b = a + 0.01
    b[:10] = np.nan
    out, warning = combine([(a, 0.9), (b, 0.1)])
    assert warning is None
    np.testing.assert_allclose(out[10:], 0.9 * a[10:] + 0.1 * b[10:])
    np.testing.assert_allclose(out[:10], a[:10])
    wrong = -a
    out, warning = combine([(a, 0.4), (wrong, 0.6)])
    assert warning is not None and "differ" in warning
    np.testing.assert_allclose(out, wrong)
    gaps = np.full(100, np.nan)
    out, _ = combine([(gaps, 0.5), (gaps, 0.5)])
    assert np.isnan(out).all()


def test_einthoven_holds_on_a_real_record(record: Record) -> None:
    rms = einthoven_rms(record.p_signal, record.fs)
    assert rms is not None and rms < 0.02
    swapped = record.p_signal.copy()
    swapped[:, [1, 2]] = swapped[:, [2, 1]]
    assert einthoven_rms(swapped, record.fs) > 0.05


@pytest.mark.parametrize(
    ("calibration", "gain_mm_mv", "speed_mm_s"),
    [("left", 10.0, 25.0), ("none", 10.0, 25.0), ("left", 20.0, 25.0), ("right", 10.0, 50.0)],
)
def test_gridless_page_is_scaled_by_its_pulses(
    record: Record, calibration: str, gain_mm_mv: float, speed_mm_s: float
) -> None:
    spec = PageSpec(
        grid=GridStyle.named("red", style="none"),
        calibration=calibration,  # type: ignore[arg-type]
        dpi=150,
        gain_mm_mv=gain_mm_mv,
        speed_mm_s=speed_mm_s,
    )
    page = render_page(record.p_signal, record.fs, spec, rng=0)
    if calibration == "none":
        with pytest.raises(DigitizeError, match=r"no ECG grid found .* no calibration pulses"):
            digitize(page.image, source="bare.png")
        return
    found = digitize(page.image, source="bare.png")
    assert not found.grid.found
    assert found.grid.px_per_mm_row == pytest.approx(page.truth.px_per_mm_row, rel=0.02)
    assert found.layout.name == "3x4+II"
    assert (found.layout.gain_mm_mv, found.layout.speed_mm_s) == (gain_mm_mv, speed_mm_s)
    assert any("no grid found" in w for w in found.warnings)


def test_gridless_page_scanned_upside_down_is_scaled_by_its_pulses(record: Record) -> None:
    # Nothing on a turned gridless scan says it is upside down but pulses standing under the
    # rows; without them it has no scale.
    spec = PageSpec(grid=GridStyle.named("red", style="none"), calibration="left", dpi=150)
    page = quarter_turn(render_page(record.p_signal, record.fs, spec, rng=0), 2)
    found = digitize(page.image, source="turned.png")
    assert found.rectification.flipped
    assert found.grid.px_per_mm_row == pytest.approx(page.truth.px_per_mm_row, rel=0.02)
    assert found.layout.name == "3x4+II" and found.layout.pulse_side == "left"
