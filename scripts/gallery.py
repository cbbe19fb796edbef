"""Draw the gallery in docs/gallery/: the bundled record in each layout, clean and degraded.

Run: python scripts/gallery.py   (about a minute on one core)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from ecgtrace.data import example_record
from ecgtrace.io import write_png
from ecgtrace.render import GridStyle, PageSpec, degrade, render_page
from ecgtrace.render.crops import crop_segment

OUT = Path(__file__).resolve().parents[1] / "docs" / "gallery"
WIDTH = 760  # px of the committed, downscaled images

LOOKS = {
    "3x4+II": (
        PageSpec(),
        ["paper_texture", "strokes", "rotate", "shading", "sensor_noise", "jpeg"],
    ),
    "6x2": (
        PageSpec(layout="6x2", rhythm_leads=(), grid=GridStyle.named("red")),
        ["creases", "perspective", "curl", "colour_cast", "shading", "motion_blur", "jpeg"],
    ),
    "12x1": (
        PageSpec(layout="12x1", grid=GridStyle.named("grey", style="dotted")),
        ["stains", "faded", "rotate", "downscale", "binarise"],
    ),
}


def small(image: np.ndarray, width: int = WIDTH) -> np.ndarray:
    """Downscaled, and posterised to steps of 8 grey levels so the PNGs stay small."""
    h = round(image.shape[0] * width / image.shape[1])
    out = cv2.resize(image, (width, h), interpolation=cv2.INTER_AREA)
    return np.asarray(out // 8 * 8 + 4, np.uint8)


def main() -> None:
    rec = example_record()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (spec, names) in LOOKS.items():
        for dpi in (100, 300):
            page = render_page(rec.p_signal, rec.fs, replace(spec, dpi=dpi), rng=0)
            write_png(OUT / f"{name}_{dpi}dpi_clean.png", small(page.image))
            worn = degrade.apply(page, names, strength=0.6, rng=dpi)
            write_png(OUT / f"{name}_{dpi}dpi_degraded.png", small(worn.image))
    # An overlap crop beside its mask: own trace black, the neighbours' red.
    tight = render_page(rec.p_signal, rec.fs, PageSpec(overlap=0.8), rng=0)
    k = next(i for i, s in enumerate(tight.truth.segments) if s.label == "V3")
    crop = crop_segment(tight, k)
    mask = np.full_like(crop.image, 255)
    mask[crop.others] = (220, 40, 40)
    mask[crop.mask] = (0, 0, 0)
    gap = np.full((crop.image.shape[0], 8, 3), 128, np.uint8)
    write_png(OUT / "overlap_crop_V3_and_mask.png", small(np.hstack([crop.image, gap, mask])))


if __name__ == "__main__":
    main()
