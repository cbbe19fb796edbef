"""Scores for masks and signals: counting is kept apart from scoring.

Masks are scored from :class:`Counts` (true/false positives and negatives), which add up over a
data set, so a set-level IoU is ``iou(sum(per_image_counts, Counts()))`` and a per-image mean is
the mean of ``iou(c)``; the choice stays with the caller.

Signals are in mV at a sampling frequency ``fs`` (Hz). ``challenge_*`` reproduce the
PhysioNet/CinC Challenge 2024 SNR (see docs "Scoring"); ``kaggle_*`` the 2025 Kaggle re-run.
All functions are pure: inputs are never modified.
"""

from ecgtrace.metrics.challenge import (
    challenge_align,
    challenge_score,
    challenge_snr,
    lead_snrs,
)
from ecgtrace.metrics.counts import Counts, confusion, dice, iou
from ecgtrace.metrics.kaggle import (
    KAGGLE_PERFECT_RATIO,
    kaggle_align,
    kaggle_record_ratio,
    kaggle_score,
)
from ecgtrace.metrics.signal import Alignment, mse, pearson_r, rmse

__all__ = [
    "KAGGLE_PERFECT_RATIO",
    "Alignment",
    "Counts",
    "challenge_align",
    "challenge_score",
    "challenge_snr",
    "confusion",
    "dice",
    "iou",
    "kaggle_align",
    "kaggle_record_ratio",
    "kaggle_score",
    "lead_snrs",
    "mse",
    "pearson_r",
    "rmse",
]
