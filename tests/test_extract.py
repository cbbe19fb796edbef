"""The extractor, on lead crops drawn by the renderer with exact truth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ecgtrace import extract
from ecgtrace.bench.crops import crop_geometry
from ecgtrace.leads import LEAD_NAMES
from ecgtrace.metrics import challenge_snr
from ecgtrace.render import PageSpec, render_page
from ecgtrace.render.crops import Crop, crop_segment

FS = 500.0
T = np.arange(5000) / FS


def _crop(signal: np.ndarray, k: int = 0, **spec: object) -> Crop:
    page = render_page(signal, FS, PageSpec(**spec), rng=0)  # type: ignore[arg-type]
    return crop_segment(page, k, whole_trace=True)


def _extract(crop: Crop, prob: np.ndarray, *, true_baseline: bool = True) -> np.ndarray:
    geometry = crop_geometry(crop, FS)
    if true_baseline:
        geometry = replace(geometry, baseline_row=float(np.mean(crop.zero_line[:, 0])))
    return extract.extract_lead(prob, geometry, fs=FS).mv[: crop.signal_mv.size]


@pytest.mark.parametrize("dpi", [100, 200, 300])
def test_smooth_wave_is_read_back_to_a_fraction_of_a_pixel(dpi: int) -> None:
    wave = np.stack([0.8 * np.sin(2 * np.pi * 1.3 * T + k) for k in range(12)], axis=1)
    crop = _crop(wave, dpi=dpi)
    est = _extract(crop, crop.mask)
    mv_per_px = 1 / (crop.gain_mm_mv * crop.px_per_mm_row)
    err = est - crop.signal_mv
    assert np.all(np.isfinite(est))
    assert np.sqrt(np.mean(err**2)) < 0.3 * mv_per_px
    assert challenge_snr(crop.signal_mv, est, fs=FS) > 35


def test_tall_spikes_are_not_clipped() -> None:
    """A 3 mV spike 12 ms wide: its apex comes back within 5 %, up and down."""
    spikes = np.zeros((5000, 12))
    for beat in np.arange(0.4, 10, 0.8):
        spikes[:, 0] += 3.0 * np.exp(-0.5 * ((T - beat) / 0.012) ** 2)
    spikes[:, 1] = -spikes[:, 0]  # lead II: downward spikes (troughs)
    for k, sign in ((0, 1.0), (4, -1.0)):  # lead I in row 0, lead II in row 1
        crop = _crop(spikes, k, rhythm_leads=())
        assert crop.lead == LEAD_NAMES[0 if sign > 0 else 1]
        est = _extract(crop, crop.mask)
        peaks = sign * crop.signal_mv > 2.9
        apex = [(sign * est[i - 3 : i + 4]).max() for i in np.flatnonzero(peaks)]
        assert np.min(apex) > 0.95 * 3.0
        assert np.max(apex) < 1.05 * 3.0


def test_path_keeps_to_its_own_trace_where_a_neighbour_crosses() -> None:
    """V3 is flat; V2's 4 mV spikes cross its band and its trace. Given all ink, the path
    follows V3 and the result is flat."""
    sig = np.zeros((5000, 12))
    for beat in np.arange(0.3, 10, 1.0):
        sig[:, LEAD_NAMES.index("V2")] -= 4.0 * np.exp(-0.5 * ((T - beat) / 0.012) ** 2)
    page = render_page(sig, FS, PageSpec(rhythm_leads=(), overlap=0.8), rng=0)
    k = next(i for i, s in enumerate(page.truth.segments) if s.lead == "V3")
    crop = crop_segment(page, k, whole_trace=True)
    assert crop.overlap and (crop.others & ~crop.mask).any()
    est = _extract(crop, (crop.mask | crop.others).astype(np.float32))
    assert np.nanmax(np.abs(est)) < 0.05
    assert np.isfinite(est).mean() > 0.99


def test_gaps_are_nan_and_short_ones_can_be_filled() -> None:
    wave = np.stack([0.5 * np.sin(2 * np.pi * 1.1 * T) for _ in range(12)], axis=1)
    crop = _crop(wave)
    mask = crop.mask.copy()
    cols = np.round(crop.polyline[:, 1]).astype(int)
    gap = (T[: cols.size] >= 1.0) & (T[: cols.size] < 1.2)  # 200 ms erased
    mask[:, cols[gap].min() : cols[gap].max() + 1] = False
    est = _extract(crop, mask)
    assert np.isnan(est[gap][5:-5]).all()
    assert np.isfinite(est[~gap][10:-10]).mean() > 0.99
    filled = extract.interpolate_gaps(est, max_gap=round(0.25 * FS))
    assert np.isfinite(filled[gap][5:-5]).all()
    kept = extract.interpolate_gaps(est, max_gap=round(0.05 * FS))
    assert np.isnan(kept[gap][5:-5]).all()


def test_baseline_is_found_from_the_trace() -> None:
    """Mostly isoelectric with tall beats: the baseline estimate is the 0 mV row."""
    beats = np.zeros((5000, 12))
    for beat in np.arange(0.5, 10, 0.9):
        beats += 1.5 * np.exp(-0.5 * ((T - beat) / 0.015) ** 2)[:, None]
        beats += 0.3 * np.exp(-0.5 * ((T - beat - 0.25) / 0.05) ** 2)[:, None]
    crop = _crop(beats)
    trace = extract.trace_rows(crop.mask, prior_row=crop.mask.shape[0] / 2)
    true_row = float(np.mean(crop.zero_line[:, 0]))
    assert abs(extract.baseline_from_rows(trace.rows) - true_row) < 1.0
    est = _extract(crop, crop.mask, true_baseline=False)
    assert abs(np.median(est - crop.signal_mv)) < 0.02


def test_time_axis_follows_px_per_mm_and_speed() -> None:
    """A step at 1.0 s on a 50 mm/s page comes out at 1.0 s."""
    step = np.where(T >= 1.0, 1.0, 0.0)[:, None] * np.ones((1, 12))
    crop = _crop(step, layout="12x1", speed_mm_s=50.0, margin_mm=5)
    est = _extract(crop, crop.mask)
    t = crop.times_s
    crossing = t[np.flatnonzero(est > 0.5)[0]]
    assert crossing == pytest.approx(1.0, abs=0.004)


def test_inputs_are_not_modified_and_bad_geometry_is_refused() -> None:
    wave = np.stack([0.5 * np.sin(2 * np.pi * T) for _ in range(12)], axis=1)
    crop = _crop(wave)
    prob = crop.mask.astype(np.float32)
    before = prob.copy()
    extract.extract_lead(prob, crop_geometry(crop, FS), fs=FS)
    assert np.array_equal(prob, before)
    with pytest.raises(ValueError, match="must be > 0"):
        extract.extract_lead(prob, replace(crop_geometry(crop, FS), px_per_mm_row=0.0), fs=FS)


def test_empty_map_gives_nan() -> None:
    geometry = extract.LeadGeometry(
        px_per_mm_row=8.0, px_per_mm_col=8.0, t0_s=0.0, col0=0.0, duration_s=1.0
    )
    sig = extract.extract_lead(np.zeros((50, 200), np.float32), geometry, fs=FS)
    assert sig.mv.shape == (500,) and np.isnan(sig.mv).all()
