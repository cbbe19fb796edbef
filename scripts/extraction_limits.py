"""Where the extractor's error comes from, on clean 200 DPI lead crops (validation split).

Run: python scripts/extraction_limits.py [N_RECORDS]   (writes docs/results/extraction_limits.md)

Rows, each the mean Challenge SNR (dB) and Pearson r over all 12 leads of N records:
- column oracle: the true centre line read at every pixel column, then interpolated: the limit
  of any reader that takes one value per column (time resolution 1 px = 5.1 ms at 200 DPI);
- true mask: the extractor on the lead's true binary mask (as `eval crops`' "true mask");
- true mask, true baseline: the same with the 0 mV row given (the baseline estimate's share);
- true coverage: the extractor on the lead's anti-aliased ink coverage (a soft probability);
- thin pen: true mask with a 0.1 mm pen instead of 0.3 mm (the pen width's share).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecgtrace import data, extract
from ecgtrace.bench.crops import crop_geometry
from ecgtrace.metrics import challenge_snr, pearson_r
from ecgtrace.render import PageSpec, render_page
from ecgtrace.render.crops import Crop, crop_segment
from ecgtrace.render.truth import paste_slices

FS = 500.0


def coverage(page_seg_alpha: np.ndarray, origin: tuple[int, int], crop: Crop) -> np.ndarray:
    out = np.zeros(crop.mask.shape)
    shifted = (origin[0] - crop.origin[0], origin[1] - crop.origin[1])
    dst, src = paste_slices(shifted, page_seg_alpha.shape, crop.mask.shape)
    out[dst] = page_seg_alpha[src] / 255.0
    return out


def column_oracle(crop: Crop) -> np.ndarray:
    pc, pr = crop.polyline[:, 1], crop.polyline[:, 0]
    cols = np.arange(np.ceil(pc[0]), np.floor(pc[-1]) + 1)
    rows = np.interp(pc, cols, np.interp(cols, pc, pr))
    base = float(np.mean(crop.zero_line[:, 0]))
    return (base - rows) / (crop.gain_mm_mv * crop.px_per_mm_row)


def main(n_records: int) -> None:
    ids = data.split_ids("validation")[:n_records]
    scores: dict[str, list[tuple[float, float]]] = {}

    def add(name: str, crop: Crop, est: np.ndarray) -> None:
        ref = crop.signal_mv
        scores.setdefault(name, []).append(
            (challenge_snr(ref, est[: ref.size], fs=FS), pearson_r(ref, est[: ref.size]))
        )

    for ecg_id in ids:
        rec = data.load_record(ecg_id, fs=500)
        for pen in (0.3, 0.1):
            page = render_page(rec.p_signal, rec.fs, PageSpec(trace_width_mm=pen), rng=0)
            for k, seg in enumerate(page.truth.segments[:12]):
                crop = crop_segment(page, k, whole_trace=True)
                g = crop_geometry(crop, FS)
                if pen == 0.1:
                    add(
                        "thin pen (0.1 mm), true mask",
                        crop,
                        extract.extract_lead(crop.mask, g, fs=FS).mv,
                    )
                    continue
                add("column oracle", crop, column_oracle(crop))
                add("true mask", crop, extract.extract_lead(crop.mask, g, fs=FS).mv)
                g_true = replace(g, baseline_row=float(np.mean(crop.zero_line[:, 0])))
                add(
                    "true mask, true baseline",
                    crop,
                    extract.extract_lead(crop.mask, g_true, fs=FS).mv,
                )
                soft = coverage(seg.alpha, seg.alpha_origin, crop)
                add("true coverage (soft)", crop, extract.extract_lead(soft, g, fs=FS).mv)
    lines = [
        f"Clean 200 DPI lead crops, 0.3 mm pen unless said, {len(ids)} validation records x 12 "
        "leads (`python scripts/extraction_limits.py " + str(n_records) + "`).",
        "",
        "| reader | mean Challenge SNR (dB) | mean Pearson r |",
        "| --- | --- | --- |",
    ]
    for name, vals in scores.items():
        v = np.array(vals)
        lines.append(f"| {name} | {np.nanmean(v[:, 0]):.2f} | {np.nanmean(v[:, 1]):.4f} |")
    text = "\n".join(lines) + "\n"
    out = Path(__file__).resolve().parents[1] / "docs" / "results" / "extraction_limits.md"
    out.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
