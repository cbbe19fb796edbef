"""Rendered pages and crops to disk: PNG (image), JSON (truth), NPZ (masks)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ecgtrace.io.files import write_json, write_npz, write_png

if TYPE_CHECKING:  # the writers only read the renderer's dataclasses: io never loads it
    from ecgtrace.render.crops import Crop
    from ecgtrace.render.truth import Rendered


def save_rendered(
    page: Rendered, stem: str | os.PathLike[str], *, meta: dict[str, Any] | None = None
) -> list[Path]:
    """Write ``<stem>.png``, ``<stem>.json`` (truth) and ``<stem>.npz`` (masks); return the paths.

    The NPZ holds ``instance_mask`` (rows, cols) int16 (segment index, -1 for none),
    ``signal_plotted`` (n_samples, 12) mV, and per segment k its ink coverage ``alpha_k``
    (uint8; the mask is >= 128) with ``alpha_origin_k`` (row, col).
    """
    stem = Path(stem)
    truth = page.truth
    arrays: dict[str, Any] = {
        "instance_mask": truth.instance_masks(),
        "signal_plotted": truth.signal_plotted,
    }
    for k, seg in enumerate(truth.segments):
        arrays[f"alpha_{k}"] = seg.alpha
        arrays[f"alpha_origin_{k}"] = np.asarray(seg.alpha_origin, dtype=np.int64)
    doc = {"image": stem.name + ".png", "masks": stem.name + ".npz", **(meta or {})}
    doc["truth"] = truth.to_json()
    # Image and masks first, the JSON that names them last: a reader that finds it finds all.
    return [
        write_png(stem.with_suffix(".png"), page.image),
        write_npz(stem.with_suffix(".npz"), **arrays),
        write_json(stem.with_suffix(".json"), doc),
    ]


def save_crop(crop: Crop, stem: str | os.PathLike[str]) -> tuple[list[Path], dict[str, Any]]:
    """Write ``<stem>.png`` (image) and ``<stem>_mask.png`` (255 own trace, 128 other leads).

    Returns the paths and the crop's description (one line of the dataset's index).
    """
    stem = Path(stem)
    mask = np.where(crop.mask, 255, np.where(crop.others, 128, 0)).astype(np.uint8)
    paths = [
        write_png(stem.with_suffix(".png"), crop.image),
        write_png(stem.parent / (stem.name + "_mask.png"), mask),
    ]
    row = {
        "image": paths[0].name,
        "mask": paths[1].name,
        "lead": crop.lead,
        "overlap": crop.overlap,
        "px_per_mm_row": crop.px_per_mm_row,
        "px_per_mm_col": crop.px_per_mm_col,
        "speed_mm_s": crop.speed_mm_s,
        "gain_mm_mv": crop.gain_mm_mv,
        "degradations": list(crop.degradations),
        "times_s": crop.times_s.tolist(),
        "signal_mv": crop.signal_mv.tolist(),
        "polyline_row": crop.polyline[:, 0].tolist(),
        "polyline_col": crop.polyline[:, 1].tolist(),
        "zero_line_row": crop.zero_line[:, 0].tolist(),
    }
    return paths, row
