"""Metrics on hand-made masks and signals whose answers are known in advance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.signal import fftconvolve

from ecgtrace.metrics import (
    KAGGLE_PERFECT_RATIO,
    Counts,
    challenge_align,
    challenge_score,
    challenge_snr,
    confusion,
    dice,
    iou,
    kaggle_align,
    kaggle_record_ratio,
    kaggle_score,
    lead_snrs,
    mse,
    pearson_r,
    rmse,
)

FS = 250.0
# Irregular beats, so that no shift of a whole RR interval looks like no shift.
BEATS_S = (0.3, 1.0, 1.95, 2.75, 3.85, 4.6, 5.7)


def ecg(t: np.ndarray) -> np.ndarray:
    """A crude ECG in mV: narrow R waves, broader T waves and a slow wander, at times t (s)."""
    x = 0.1 * np.sin(2 * np.pi * 0.3 * t)
    for b in BEATS_S:
        x += 1.2 * np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        x += 0.3 * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
    return x


def times(seconds: float = 6.0) -> np.ndarray:
    return np.arange(round(seconds * FS)) / FS


def record(seconds: float = 4.0) -> np.ndarray:
    """(n, 12) mV: each lead a scaled, slightly delayed copy of :func:`ecg`."""
    t = times(seconds)
    return np.stack([(0.5 + 0.1 * j) * ecg(t - 0.01 * j) for j in range(12)], axis=1)


def with_noise(x: np.ndarray, power: float, seed: int = 0) -> np.ndarray:
    """x plus white noise whose mean power over the samples is exactly ``power`` (mV^2)."""
    noise = np.random.default_rng(seed).standard_normal(x.shape)
    noise -= noise.mean()
    return x + noise * math.sqrt(power / np.mean(noise**2))


def frozen(*arrays: np.ndarray) -> None:
    # A read-only array makes any in-place write inside the library raise.
    for a in arrays:
        a.flags.writeable = False


# --- masks -----------------------------------------------------------------------------------


def test_confusion_iou_dice_on_drawn_masks() -> None:
    pred = np.array(
        [
            [0, 1, 1, 0],
            [0, 1, 1, 0],
            [0, 0, 1, 1],
        ],
        dtype=bool,
    )
    true = np.array(
        [
            [0, 1, 0, 0],
            [0, 1, 1, 0],
            [0, 1, 1, 0],
        ],
        dtype=bool,
    )
    frozen(pred, true)
    c = confusion(pred, true)
    # tp: (0,1) (1,1) (1,2) (2,2); fp: (0,2) (2,3); fn: (2,1); the other 5 are tn.
    assert c == Counts(tp=4, fp=2, fn=1, tn=5)
    assert iou(c) == pytest.approx(4 / 7)
    assert dice(c) == pytest.approx(8 / 11)


def test_counts_add_over_a_dataset() -> None:
    a = Counts(tp=4, fp=2, fn=1, tn=5)
    b = Counts(tp=1, fp=0, fn=3, tn=10)
    assert a + b == Counts(tp=5, fp=2, fn=4, tn=15)
    assert sum([a, b]) == a + b
    assert sum([a, b], Counts()) == a + b
    # The pooled IoU is not the mean of the per-image IoUs.
    assert iou(a + b) == pytest.approx(5 / 11)


def test_empty_masks_give_nan_and_shape_mismatch_raises() -> None:
    empty = confusion(np.zeros((2, 2), bool), np.zeros((2, 2), bool))
    assert empty == Counts(tn=4)
    assert math.isnan(iou(empty))
    assert math.isnan(dice(empty))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        confusion(np.zeros((2, 3), bool), np.zeros((3, 2), bool))


# --- plain signal errors ---------------------------------------------------------------------


def test_mse_rmse_known_values_ignore_non_finite() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0, np.nan, 7.0])
    y = np.array([1.0, 1.0, 2.0, 5.0, 4.0, np.inf])
    frozen(x, y)
    assert mse(x, y) == pytest.approx(5 / 4)
    assert rmse(x, y) == pytest.approx(math.sqrt(5 / 4))
    assert math.isnan(mse(np.array([1.0, np.nan]), np.array([1.0, 2.0])))


def test_pearson_r() -> None:
    x = np.sin(np.linspace(0, 6, 50))
    assert pearson_r(x, 2 * x + 1) == pytest.approx(1.0)
    assert pearson_r(x, -x) == pytest.approx(-1.0)
    assert math.isnan(pearson_r(x, np.ones_like(x)))
    with pytest.raises(ValueError):
        pearson_r(x, x[:-1])


# --- Challenge 2024 --------------------------------------------------------------------------


@pytest.mark.parametrize("power", [1e-4, 1e-2])
def test_snr_of_known_noise(power: float) -> None:
    x = ecg(times())
    y = with_noise(x, power)
    frozen(x, y)
    expected = 10 * math.log10(np.mean(x**2) / power)
    assert challenge_snr(x, y, fs=FS, align=False) == pytest.approx(expected, abs=1e-9)


def test_alignment_of_an_unshifted_estimate_changes_nothing() -> None:
    x = ecg(times())
    # Small noise (about 1.3 quantisation levels): the 2-D correlation peak stays at (0, 0).
    # Stronger white noise biases the official estimator by a few levels.
    y = with_noise(x, 1e-4)
    frozen(x, y)
    al = challenge_align(x, y, fs=FS)
    assert al.applied
    assert (al.shift_samples, al.offset_mv) == (0, 0.0)
    expected = 10 * math.log10(np.mean(x**2) / 1e-4)
    assert challenge_snr(x, y, fs=FS) == pytest.approx(expected, abs=0.1)


def _official_offsets(x_ref: np.ndarray, x_est: np.ndarray, levels: int = 256) -> tuple[int, float]:
    """The Challenge 2024 steps written out literally (1-based times, autocorrelation peak)."""
    lo = min(np.nanmin(x_ref), np.nanmin(x_est))
    hi = max(np.nanmax(x_ref), np.nanmax(x_est))
    width = max(x_ref.size, x_est.size)

    def image(x: np.ndarray) -> np.ndarray:
        ok = np.isfinite(x)
        t = np.arange(1, x.size + 1)[ok]
        y = np.clip(np.round((levels - 1) * (x[ok] - lo) / (hi - lo) + 1).astype(int), 1, levels)
        a = np.zeros((levels, width))
        a[y - 1, t - 1] = 1
        return gaussian_filter(a, 0.5)

    a_ref, a_est = image(x_ref), image(x_est)
    cross = fftconvolve(a_ref, np.flip(np.flip(a_est, 0), 1), mode="full")
    auto = fftconvolve(a_ref, np.flip(np.flip(a_ref, 0), 1), mode="full")
    ic = np.unravel_index(np.argmax(cross), cross.shape)
    ia = np.unravel_index(np.argmax(auto), auto.shape)
    return int(ia[1] - ic[1]), float((ia[0] - ic[0]) / (levels - 1) * (hi - lo))


@pytest.mark.parametrize(("delay_s", "offset_mv", "power"), [(0.1, 0.3, 0.0), (-0.05, -0.7, 0.01)])
def test_alignment_matches_the_official_steps(
    delay_s: float, offset_mv: float, power: float
) -> None:
    t = times(3.0)
    x = ecg(t)
    y = with_noise(ecg(t - delay_s) + offset_mv, power) if power else ecg(t - delay_s) + offset_mv
    y[:40] = np.nan
    shift, offset = _official_offsets(x, y)
    al = challenge_align(x, y, fs=FS)
    assert al.shift_samples == shift
    assert al.offset_mv == pytest.approx(offset, abs=1e-12)


def test_shift_and_offset_are_recovered() -> None:
    t = times()
    x = ecg(t)
    y = ecg(t - 0.1) + 0.3  # 25 samples late, 0.3 mV high
    frozen(x, y)
    al = challenge_align(x, y, fs=FS)
    assert al.applied
    assert al.shift_samples == 25
    step = (y.max() - x.min()) / 255
    assert al.offset_mv == pytest.approx(0.3, abs=step)
    assert al.aligned.shape == y.shape
    assert np.all(np.isnan(al.aligned[-25:]))
    np.testing.assert_allclose(al.aligned[:-25], x[:-25], atol=step)
    assert challenge_snr(x, y, fs=FS) > 30.0
    assert challenge_snr(x, y, fs=FS, align=False) < 0.0


def test_a_shift_beyond_half_a_second_is_not_applied() -> None:
    t = times()
    x = ecg(t)
    y = ecg(t - 0.8)
    frozen(x, y)
    al = challenge_align(x, y, fs=FS)
    assert al.shift_samples == 200  # found, but over the 125-sample limit
    assert not al.applied
    assert al.offset_mv == 0.0
    np.testing.assert_array_equal(al.aligned, y)
    assert challenge_snr(x, y, fs=FS) == challenge_snr(x, y, fs=FS, align=False)
    # The same shift is applied when the caller allows it.
    assert challenge_align(x, y, fs=FS, max_shift_s=1.0).applied


def test_a_negative_shift_prepends_nan() -> None:
    t = times()
    x = ecg(t)
    y = ecg(t + 0.1)  # 25 samples early
    al = challenge_align(x, y, fs=FS)
    assert al.applied and al.shift_samples == -25
    # As in the official code, the aligned estimate grows by the shift.
    assert al.aligned.shape == (y.size + 25,)
    assert np.all(np.isnan(al.aligned[:25]))
    assert challenge_snr(x, y, fs=FS) > 30.0


def test_coverage_scales_the_snr() -> None:
    x = ecg(times())
    y = with_noise(x, 0.01)
    half = x.size // 2
    y_half = y.copy()
    y_half[half:] = np.nan
    frozen(x, y_half)
    on_first_half = 10 * math.log10(np.mean(x[:half] ** 2) / np.mean((x - y)[:half] ** 2))
    snr_half = challenge_snr(x, y_half, fs=FS, align=False)
    assert snr_half == pytest.approx(0.5 * on_first_half, rel=1e-9)
    # Beats are spread over both halves, so this is also about half of the full score.
    full = challenge_snr(x, y, fs=FS, align=False)
    assert snr_half == pytest.approx(0.5 * full, abs=1.0)
    # A shorter estimate is NaN-padded: the same coverage penalty.
    assert challenge_snr(x, y[:half], fs=FS, align=False) == pytest.approx(snr_half)


def test_special_cases() -> None:
    x = ecg(times())
    nan = np.full_like(x, np.nan)
    frozen(x, nan)
    assert challenge_snr(x, nan, fs=FS) == 0.0  # an all-NaN estimate scores 0
    assert math.isnan(challenge_snr(nan, x, fs=FS))  # a lead not plotted does not count
    assert math.isnan(challenge_snr(x, x, fs=FS))  # a perfect lead is dropped
    assert math.isnan(challenge_snr(np.zeros(10), np.ones(10), fs=FS))  # no signal power
    assert challenge_snr(x, np.zeros_like(x), fs=FS, align=False) == pytest.approx(0.0)
    flat = challenge_align(np.ones(10), np.ones(10), fs=FS)
    assert (flat.shift_samples, flat.offset_mv, flat.applied) == (0, 0.0, False)
    none = challenge_align(x, nan, fs=FS)
    assert not none.applied and np.all(np.isnan(none.aligned))


def test_challenge_score_missing_record_and_perfect_lead() -> None:
    ref = record()
    frozen(ref)
    assert challenge_score([(ref, None)], fs=FS) == 0.0
    np.testing.assert_array_equal(lead_snrs(ref, None, fs=FS), np.zeros(12))
    np.testing.assert_array_equal(lead_snrs(ref, np.full_like(ref, np.nan), fs=FS), np.zeros(12))

    noisy = with_noise(ref, 0.01)
    noisy[:, 0] = ref[:, 0]  # lead I perfect: NaN, dropped
    frozen(noisy)
    snrs = lead_snrs(ref, noisy, fs=FS, align=False)
    assert math.isnan(snrs[0])
    expected = [10 * math.log10(np.mean(ref[:, j] ** 2) / np.mean((ref - noisy)[:, j] ** 2))
                for j in range(1, 12)]  # fmt: skip
    np.testing.assert_allclose(snrs[1:], expected)
    score = challenge_score([(ref, noisy), (ref, None)], fs=FS, align=False)
    assert score == pytest.approx(np.sum(expected) / 23)  # 11 + 12 leads count
    assert math.isnan(challenge_score([(np.full((10, 12), np.nan), None)], fs=FS))


def test_estimate_length_is_fitted_to_the_reference() -> None:
    ref = record()
    longer = np.concatenate((ref, np.ones((50, 12))), axis=0)
    shorter = ref[: ref.shape[0] // 2]
    assert np.all(np.isnan(lead_snrs(ref, longer, fs=FS, align=False)))  # perfect after the cut
    np.testing.assert_array_equal(lead_snrs(ref, shorter, fs=FS, align=False), np.full(12, np.nan))
    with pytest.raises(ValueError):
        lead_snrs(ref, ref[:, :6], fs=FS)


def test_inputs_are_not_modified() -> None:
    t = times()
    x = ecg(t)
    y = ecg(t + 0.1) + 0.2
    y[:30] = np.nan
    x_copy, y_copy = x.copy(), y.copy()
    challenge_align(x, y, fs=FS)
    challenge_snr(x, y, fs=FS)
    kaggle_align(x, y, fs=FS)
    ref = record()
    est = with_noise(ref, 0.01)
    est[:40, 3] = np.nan
    ref_copy, est_copy = ref.copy(), est.copy()
    challenge_score([(ref, est)], fs=FS)
    kaggle_score([(ref, est)], fs=FS)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(y, y_copy)
    np.testing.assert_array_equal(ref, ref_copy)
    np.testing.assert_array_equal(est, est_copy)


# --- Kaggle 2025 -----------------------------------------------------------------------------


def test_kaggle_removes_any_dc_offset() -> None:
    x = ecg(times())
    y = x + 5.0  # far beyond the Challenge's 1 mV limit
    frozen(x, y)
    al = kaggle_align(x, y, fs=FS)
    assert al.shift_samples == 0
    assert al.offset_mv == pytest.approx(5.0)
    np.testing.assert_allclose(al.aligned, x, atol=1e-12)
    ref = np.repeat(x[:, None], 12, axis=1)
    assert kaggle_record_ratio(ref, ref + 5.0, fs=FS) == KAGGLE_PERFECT_RATIO


def test_kaggle_corrects_a_small_shift_only() -> None:
    t = times()
    x = ecg(t)
    late = ecg(t - 0.1)  # 25 samples late: within 0.2 s
    al = kaggle_align(x, late, fs=FS)
    assert al.shift_samples == 25
    np.testing.assert_allclose(al.aligned[:-25], x[:-25], atol=1e-12)
    assert np.all(np.isnan(al.aligned[-25:]))
    far = ecg(t - 0.4)  # 100 samples late: beyond 0.2 s
    al_far = kaggle_align(x, far, fs=FS)
    assert abs(al_far.shift_samples) <= 50
    ref = np.repeat(x[:, None], 12, axis=1)
    ratio_late = kaggle_record_ratio(ref, np.repeat(late[:, None], 12, axis=1), fs=FS)
    ratio_far = kaggle_record_ratio(ref, np.repeat(far[:, None], 12, axis=1), fs=FS)
    assert ratio_late > 100 * ratio_far


def test_kaggle_identical_records_score_the_cap() -> None:
    ref = record()
    assert kaggle_record_ratio(ref, ref, fs=FS) == KAGGLE_PERFECT_RATIO
    assert kaggle_score([(ref, ref), (ref, ref.copy())], fs=FS) == pytest.approx(60.0)
    # Mean of linear ratios, not of dB: one perfect record dominates a poor one.
    poor = with_noise(ref, 1.0)
    ratio_poor = kaggle_record_ratio(ref, poor, fs=FS)
    assert ratio_poor < 1.0
    expected = 10 * math.log10((KAGGLE_PERFECT_RATIO + ratio_poor) / 2)
    assert kaggle_score([(ref, ref), (ref, poor)], fs=FS) == pytest.approx(expected)
