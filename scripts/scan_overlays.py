"""Run the U-Net and the extractor on the real scans and draw what they trace (a visual check).

For each single-lead scan in ``$ECGTRACE_DATA/scans``: the grid gives px/mm (and the skew,
turned out; the pen's width settles a 1 mm / 5 mm mix-up), the classical segmenter's ink gives a
first guess of the lead's baseline row, the U-Net picks the primary trace (blue: p >= 0.5) and
its ink (``unet+ink``) goes to the extractor, whose path is drawn in red on the scan
(downscaled) under docs/scans-unet/, with a Markdown table of what was found.

Run: python scripts/scan_overlays.py   (about half a minute on one core)
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from ecgtrace.data import data_dir
from ecgtrace.extract import trace_rows
from ecgtrace.grid import deskew, detect_grid, settle_pitch
from ecgtrace.io import write_png
from ecgtrace.io.images import read_image
from ecgtrace.segment import refine_with_ink, segment_classical
from ecgtrace.segment.unet import segment_unet

OUT = Path(__file__).resolve().parents[1] / "docs" / "scans-unet"
WIDTH = 900  # px of the committed, downscaled overlays


def first_look(image: np.ndarray, px_per_mm: float) -> tuple[float, float]:
    """The classical segmenter's trace: its median row (the lead's baseline, px) and pen (px)."""
    classical = trace_rows(segment_classical(image, px_per_mm=px_per_mm))
    rows = classical.rows[np.isfinite(classical.rows)]
    return (float(np.median(rows)) if rows.size else image.shape[0] / 2), classical.stroke_px


def main() -> None:
    folder = data_dir() / "scans"
    lines = [
        "| scan | px | px/mm (row, col) | grid found | traced columns | U-Net p on path | ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            continue
        image = read_image(path)
        grid = detect_grid(image)
        if not grid.found:
            lines.append(
                f"| {path.name} | {image.shape[1]}x{image.shape[0]} | - | no | - | - | - |"
            )
            write_png(OUT / f"{path.stem}.png", _small(image), compression=9)
            continue
        if abs(grid.rotation_deg) > 0.05:
            image = deskew(image, grid.rotation_deg, border=255.0)
        t0 = time.perf_counter()
        centre, pen_px = first_look(image, grid.px_per_mm_row)
        grid = settle_pitch(grid, stroke_px=pen_px)
        unet = segment_unet(
            image,
            px_per_mm_row=grid.px_per_mm_row,
            px_per_mm_col=grid.px_per_mm_col,
            centre_row=centre,
        )
        prob = refine_with_ink(unet, segment_classical(image, px_per_mm=grid.px_per_mm_row))
        trace = trace_rows(prob, prior_row=centre)
        ms = (time.perf_counter() - t0) * 1000
        overlay = (image.astype(np.float32) * 0.55 + 255 * 0.45).astype(np.uint8)
        overlay[unet >= 0.5] = (120, 190, 255)
        ok = np.isfinite(trace.path_row)
        pts = np.stack([trace.path_col[ok], trace.path_row[ok]], axis=1)
        for seg in np.split(pts, np.nonzero(np.diff(trace.path_col[ok]) > 3)[0] + 1):
            if len(seg) > 1:
                poly = np.round(seg * 4).astype(np.int32)[None]
                cv2.polylines(overlay, poly, False, (220, 0, 0), 2, cv2.LINE_AA, shift=2)
        write_png(OUT / f"{path.stem}.png", _small(overlay), compression=9)
        on_path = unet[np.round(trace.rows[np.isfinite(trace.rows)]).astype(int),
                       np.nonzero(np.isfinite(trace.rows))[0]]  # fmt: skip
        lines.append(
            f"| {path.name} | {image.shape[1]}x{image.shape[0]} | "
            f"{grid.px_per_mm_row:.2f}, {grid.px_per_mm_col:.2f} | yes | "
            f"{trace.coverage:.0%} | {float(np.mean(on_path)) if on_path.size else 0:.2f} | "
            f"{ms:.0f} |"
        )
    (OUT / "README.md").write_text(
        "# The U-Net's trace on the real scans\n\n"
        "Made by `python scripts/scan_overlays.py`. Blue: U-Net probability >= 0.5; red: the "
        "extractor's path through the ink the U-Net picked (unet+ink). See "
        "docs/segmentation.md for which fail and why.\n\n" + "\n".join(lines) + "\n"
    )
    print("\n".join(lines))


def _small(image: np.ndarray) -> np.ndarray:
    scale = min(1.0, WIDTH / image.shape[1])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


if __name__ == "__main__":
    main()
