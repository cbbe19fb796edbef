"""The best Challenge SNR any reader of the ECGtizer PDFs can reach: what they draw, read perfectly.

    python scripts/ecgtizer_ceiling.py

ECGtizer draws each lead as a polyline through every 4th sample (from sample 4) of a centred
5-sample moving average of the 500 Hz record (see bench/ecgtizer.py). This scores that
drawing, linearly interpolated back to 500 Hz and masked to what the page plots, against the raw
record, as `eval pages --source ecgtizer` scores a digitization.
"""

from __future__ import annotations

import numpy as np

from ecgtrace.bench.ecgtizer import ecgtizer_ids
from ecgtrace.bench.page_sources import ecgtizer_reference
from ecgtrace.data import load_record
from ecgtrace.metrics import lead_snrs


def drawn(p_signal: np.ndarray) -> np.ndarray:
    """(n, 12) mV: the moving average through every 4th sample, linear in between."""
    t = np.arange(p_signal.shape[0])
    out = np.empty_like(p_signal)
    for j in range(p_signal.shape[1]):
        smooth = np.convolve(p_signal[:, j], np.ones(5) / 5, mode="same")
        out[:, j] = np.interp(t, t[4::4], smooth[4::4])
    return out


def main() -> None:
    scores = []
    for ecg_id in ecgtizer_ids():
        x = load_record(ecg_id, fs=500).p_signal
        ref = ecgtizer_reference(x)
        est = np.where(np.isfinite(ref), drawn(x), np.nan)
        scores.append(float(np.nanmean(lead_snrs(ref, est, fs=500.0))))
    s = np.array(scores)
    print(f"{s.size} pages: mean {s.mean():.2f} dB, min {s.min():.2f}, max {s.max():.2f}")


if __name__ == "__main__":
    main()
