"""The page benchmark: whole pages digitized and scored against the right truth, reproducibly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgtrace.bench.ecgtizer import MAIN_ROWS, ecgtizer_ids
from ecgtrace.bench.page_sources import (
    RenderedCase,
    ecgtizer_overlap,
    ecgtizer_pages,
    ecgtizer_reference,
    fold10_ids_500,
    rendered_case,
    rendered_cases,
    rendered_pages,
    score_rendered,
)
from ecgtrace.bench.page_summary import (
    pages_json,
    pages_table,
    stage_times_rows,
    stages_table,
    summarise_pages,
    summarise_pages_by_dpi,
)
from ecgtrace.bench.pages import PageResult, score_leads, score_page
from ecgtrace.data import load_record
from ecgtrace.leads import LEAD_NAMES, layout_name
from ecgtrace.metrics import lead_snrs
from ecgtrace.render import PageSpec, render_page

# Low DPIs keep the two rendered pages quick; seed 0 draws a clean 3x4+II,V5 page in Cabrera
# order and a degraded 12x1 page without a grid (which the digitizer refuses at these DPIs).
DPI = (100.0, 150.0)


@pytest.fixture(scope="module")
def cases(shared_data: None) -> list[RenderedCase]:
    return list(rendered_cases(n=2, seed=0, dpi=DPI))


@pytest.fixture(scope="module")
def rendered(shared_data: None) -> list[PageResult]:
    return list(rendered_pages(n=2, seed=0, dpi=DPI))


@pytest.fixture(scope="module")
def ecgtizer(shared_data: None) -> list[PageResult]:
    ids = ecgtizer_ids()
    if not ids:
        pytest.skip("ECGtizer PDFs not present in the shared data")
    return list(ecgtizer_pages(dpi=100, ids=ids[:1]))


@pytest.fixture(scope="module")
def clean_3x4(shared_data: None) -> PageResult:
    ecg_id = fold10_ids_500()[0]
    record = load_record(ecg_id, fs=500)
    page = render_page(record.p_signal, record.fs, PageSpec(dpi=200.0), rng=0)
    return score_rendered(page, name="clean 3x4", ecg_id=ecg_id)


@pytest.fixture(scope="module")
def failed(shared_data: None) -> PageResult:
    """A blank white page, scored against the ECGtizer reference of a record."""
    ecg_id = fold10_ids_500()[0]
    reference = ecgtizer_reference(load_record(ecg_id, fs=500).p_signal)
    return score_page(
        np.full((850, 1100, 3), 255, dtype=np.uint8),
        reference,
        source="rendered",
        name="blank",
        ecg_id=ecg_id,
        dpi=100.0,
        layout="3x4+II",
        speed_mm_s=25.0,
        gain_mm_mv=10.0,
        calibration="left",
        grid="solid",
        px_per_mm=100 / 25.4,
    )


def test_rendered_pages_are_scored_against_their_own_truth(
    rendered: list[PageResult], cases: list[RenderedCase]
) -> None:
    assert [p.name for p in rendered] == ["seed 0 page 0", "seed 0 page 1"]
    for result, case in zip(rendered, cases, strict=True):
        truth = case.page.truth
        assert result.source == "rendered" and result.method == "unet+ink"
        assert result.ecg_id == case.ecg_id and result.ecg_id in fold10_ids_500()
        assert result.layout == layout_name(truth.spec.layout, truth.spec.rhythm_leads)
        assert result.dpi == truth.spec.dpi and DPI[0] <= result.dpi <= DPI[1]
        assert result.degradations == case.degradations
        assert (result.speed_mm_s, result.gain_mm_mv) == (
            truth.spec.speed_mm_s,
            truth.spec.gain_mm_mv,
        )
        plotted = np.isfinite(truth.signal_plotted).any(axis=0)
        np.testing.assert_array_equal(result.plotted, plotted)
        assert np.isnan(result.snr[~plotted]).all() and np.isnan(result.r[~plotted]).all()
        overlapping = {s.lead for s in truth.segments if s.overlap}
        assert {LEAD_NAMES[j] for j in np.flatnonzero(result.overlap)} == overlapping
        assert result.seconds > 0 and (result.error is None) == (result.times is not None)
    clean, degraded = rendered
    assert clean.layout == "3x4+II,V5" and not clean.degradations
    assert clean.lead_order == "cabrera" and clean.layout_ok
    assert clean.error is None and clean.snr_mean > 5
    # No grid, no scale: the digitizer refuses the page, which scores 0 dB and is kept.
    assert degraded.layout == "12x1" and degraded.grid == "none" and degraded.degradations
    assert degraded.error is not None and "no ECG grid" in degraded.error
    assert degraded.snr_mean == 0.0 and not degraded.layout_ok


def test_rendered_page_is_the_same_alone_or_in_a_run(cases: list[RenderedCase]) -> None:
    alone = rendered_case(0, 1, dpi=DPI)
    assert alone.ecg_id == cases[1].ecg_id
    assert alone.degradations == cases[1].degradations
    np.testing.assert_array_equal(alone.page.image, cases[1].page.image)
    np.testing.assert_array_equal(
        alone.page.truth.signal_plotted, cases[1].page.truth.signal_plotted
    )


def test_clean_3x4_page_at_200_dpi_scores_well(clean_3x4: PageResult) -> None:
    assert clean_3x4.layout == "3x4+II" and clean_3x4.layout_ok
    assert clean_3x4.calibration_ok and clean_3x4.scale_ok
    assert clean_3x4.plotted.all()
    assert clean_3x4.snr_mean > 5
    assert clean_3x4.r_mean > 0.9


def test_ecgtizer_page_is_scored_against_its_plotted_spans(ecgtizer: list[PageResult]) -> None:
    (page,) = ecgtizer
    assert page.source == "ecgtizer" and page.name == f"{page.ecg_id:05d}_hr.pdf"
    assert page.layout == "3x4+II" and page.layout_ok
    assert page.found_speed_mm_s == 25.0 and page.found_gain_mm_mv == 10.0
    assert page.plotted.all() and page.snr_mean > 5
    record = load_record(page.ecg_id, fs=500).p_signal
    ref = ecgtizer_reference(record)
    assert ref.shape == (5000, 12)
    for row in MAIN_ROWS:
        for k, lead in enumerate(row):
            finite = np.flatnonzero(np.isfinite(ref[:, LEAD_NAMES.index(lead)]))
            if lead == "II":  # the rhythm strip: all 10 s
                assert (finite[0], finite[-1]) == (0, 4999)
            else:
                assert (finite[0], finite[-1]) == (1250 * k, 1250 * k + 1249)
    np.testing.assert_array_equal(page.overlap, ecgtizer_overlap(record))


def test_a_failed_page_scores_zero_on_its_plotted_leads(failed: PageResult) -> None:
    assert failed.error is not None and "no ECG grid" in failed.error
    assert failed.found_layout is None and not failed.layout_ok and failed.times is None
    assert failed.plotted.all()
    np.testing.assert_array_equal(failed.snr, np.zeros(12))
    np.testing.assert_array_equal(failed.r, np.zeros(12))
    assert failed.snr_mean == 0.0 and (failed.mse > 0).all()


def test_summary_rows_markdown_and_json(
    rendered: list[PageResult], ecgtizer: list[PageResult], failed: PageResult
) -> None:
    results = [*rendered, failed, *ecgtizer]
    rows = summarise_pages(results)
    first = {(r.source, r.subset): r for r in rows}
    assert first["rendered", "all"].n == 3 and first["ecgtizer", "all"].n == 1
    assert first["rendered", "all"].n_leads == sum(int(p.plotted.sum()) for p in rendered) + 12
    assert first["rendered", "failed"].n == 2 and first["rendered", "failed"].snr == 0.0
    assert first["rendered", "failed"].errors == 2
    assert first["rendered", "layout wrong"].n == 2
    assert first["rendered", "clean"].n == 2 and first["rendered", "degraded"].n == 1
    assert first["rendered", "12x1"].n == 1 and first["rendered", "no grid"].n == 1
    snrs = np.concatenate([p.snr[p.plotted] for p in [*rendered, failed]])
    assert first["rendered", "all"].snr == pytest.approx(float(np.nanmean(snrs)))
    leads = (
        first["rendered", "overlap leads"].n_leads + first["rendered", "no-overlap leads"].n_leads
    )
    assert leads == first["rendered", "all"].n_leads
    table = pages_table(rows, "pages")
    assert table.to_rich().row_count == len(rows)
    text = table.to_markdown()
    lines = text.splitlines()
    assert lines[0].startswith("| source | method | subset | n |") and "SNR (dB)" in lines[0]
    assert len(lines) == len(rows) + 2
    doc = json.loads(json.dumps(pages_json(results, rows), allow_nan=False))
    assert len(doc["pages"]) == 4 and len(doc["rows"]) == len(rows)
    assert doc["pages"][2]["error"] == failed.error and doc["pages"][2]["snr_mean"] == 0.0
    stages = stage_times_rows(results)
    total = next(r for r in stages if r.source == "rendered" and r.stage == "total")
    assert total.n == 1  # the failed pages have no stage times
    assert len(stages_table(stages).rows) == len(stages)
    by_dpi = summarise_pages_by_dpi(ecgtizer)
    assert [r.subset for r in by_dpi] == [r.subset for r in rows if r.source == "ecgtizer"]
    assert {r.source for r in by_dpi} == {"ecgtizer 100 DPI"}


def test_score_leads_matches_the_challenge_snr() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 0.5, (1000, 12)).cumsum(axis=0) * 0.05
    ref[:, 5] = np.nan  # not plotted
    est = np.roll(ref, 5, axis=0)[:900] + rng.normal(0, 0.02, (900, 12)) + 0.1
    est[:, 7] = np.nan  # plotted, not read
    scores = score_leads(ref, est)
    snr, r, err = scores.snr, scores.r, scores.mse
    np.testing.assert_array_equal(snr, lead_snrs(ref, est, fs=500))
    assert snr[7] == 0.0 and r[7] == 0.0 and err[7] == pytest.approx(np.mean(ref[:, 7] ** 2))
    assert np.isnan(snr[5]) and np.isnan(r[5]) and np.isnan(err[5])
    assert np.all(r[[0, 1, 2, 3, 4, 6, 8, 9, 10, 11]] > 0.9)


def test_ecgtizer_overlap_flags_the_invaded_lead() -> None:
    signal = np.zeros((5000, 12))
    assert not ecgtizer_overlap(signal).any()
    # V2 (row 2, column 3: 5-7.5 s) climbs 3 mV: 1 mV short of row 1's baseline, 40 mm above.
    signal[2600:2700, LEAD_NAMES.index("V2")] = 3.0
    assert [LEAD_NAMES[j] for j in np.flatnonzero(ecgtizer_overlap(signal))] == ["V1"]


def test_photo_style_page_is_the_clean_page_photographed(shared_data: None) -> None:
    photo = rendered_case(0, 3, dpi=DPI, style="photo")
    again = rendered_case(0, 3, dpi=DPI, style="photo")
    clean = rendered_case(0, 3, dpi=DPI, style="clean")
    assert "on_background" in photo.degradations and photo.degradations == again.degradations
    np.testing.assert_array_equal(photo.page.image, again.page.image)
    assert clean.ecg_id == photo.ecg_id and not clean.degradations
    np.testing.assert_array_equal(clean.page.truth.signal_plotted, photo.page.truth.signal_plotted)
    assert photo.page.truth.shape != clean.page.truth.shape  # the desk around the sheet
    with pytest.raises(ValueError, match="unknown page style"):
        rendered_case(0, 3, style="fax")


def test_kaggle_ratio_follows_the_reading(clean_3x4: PageResult) -> None:
    # A clean page read well: the Kaggle 2025 ratio is far above that of 0 mV everywhere.
    ref = clean_3x4
    assert ref.kaggle_ratio > 3.0
    rows = summarise_pages([ref])
    assert rows[0].kaggle_db == pytest.approx(10 * np.log10(ref.kaggle_ratio))
