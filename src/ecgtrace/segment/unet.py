"""The U-Net segmenter at run time: preprocessing in NumPy, inference with onnxruntime.

A lead crop is resized so that a millimetre is ``px_per_mm`` pixels on both axes (from the
grid's measured pitch), normalised by its paper colour, given a channel of each row's distance
from the lead's baseline, and passed through the shipped ONNX model; the probability comes back
at the crop's own size (onnxruntime through :mod:`ecgtrace.io.onnx`).
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.io.onnx import Session, open_session, run

log = logging.getLogger(__name__)

WEIGHTS = "unet.onnx"
ImageT = TypeVar("ImageT", NDArray[np.uint8], NDArray[np.float32])


@dataclass(frozen=True)
class Preprocessing:
    """How a crop is turned into the network's input.

    ``px_per_mm``: working resolution on both axes; ``multiple``: input rows and cols are padded
    to a multiple of it (``2 ** depth``); ``coord_mm``: the distance channel is in units of it.
    """

    px_per_mm: float = 4.0
    multiple: int = 16
    coord_mm: float = 10.0


DEFAULT_PREP = Preprocessing()


def resize_to_mm(
    image: ImageT,
    *,
    px_per_mm_row: float,
    px_per_mm_col: float,
    px_per_mm: float,
) -> ImageT:
    """Resample ``image`` (rows, cols[, channels]) so a millimetre is ``px_per_mm`` px each way.

    Area averaging when shrinking (no aliasing of thin strokes), bilinear when enlarging.
    """
    rows = max(1, round(image.shape[0] * px_per_mm / px_per_mm_row))
    cols = max(1, round(image.shape[1] * px_per_mm / px_per_mm_col))
    shrink = rows * cols < image.shape[0] * image.shape[1]
    out = cv2.resize(
        image, (cols, rows), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )
    return np.asarray(out, dtype=image.dtype)


def network_input(
    image: NDArray[np.uint8], *, centre_row: float, prep: Preprocessing = DEFAULT_PREP
) -> NDArray[np.float32]:
    """(4, rows, cols) float32 from an RGB crop (rows, cols, 3) already at ``prep.px_per_mm``.

    Channels 0-2: RGB divided by the paper colour (each channel's 90th percentile) minus 0.5;
    channel 3: (row - ``centre_row``) in units of ``prep.coord_mm``. Not padded.
    """
    rgb = image.astype(np.float32)
    white = np.percentile(rgb.reshape(-1, 3), 90, axis=0)
    rgb = (np.clip(rgb / np.maximum(white, 32.0), 0.0, 1.25) - 0.5).astype(np.float32)
    rows = (np.arange(image.shape[0], dtype=np.float32) - np.float32(centre_row)) / (
        prep.coord_mm * prep.px_per_mm
    )
    coord = np.broadcast_to(rows[:, None], image.shape[:2])
    return np.concatenate([rgb.transpose(2, 0, 1), coord[None]], axis=0).astype(np.float32)


def pad_input(x: NDArray[np.float32], multiple: int) -> NDArray[np.float32]:
    """Pad (channels, rows, cols) at the bottom and right to multiples of ``multiple``.

    RGB is padded with paper (0.5 after normalisation), the distance channel continues its ramp.
    """
    c, rows, cols = x.shape
    pr, pc = -rows % multiple, -cols % multiple
    if pr == pc == 0:
        return x
    out = np.full((c, rows + pr, cols + pc), 0.5, dtype=np.float32)
    out[:, :rows, :cols] = x
    step = x[3, 1, 0] - x[3, 0, 0] if rows > 1 else 0.0
    out[3] = x[3, 0, 0] + step * np.arange(rows + pr, dtype=np.float32)[:, None]
    return out


@dataclass(frozen=True)
class UNetModel:
    """A loaded model: the onnxruntime session and its preprocessing."""

    session: Session
    prep: Preprocessing
    path: Path

    def __call__(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Logits to probability for a padded batch (n, 4, rows, cols) -> (n, rows, cols)."""
        logits = run(self.session, x)
        return (1.0 / (1.0 + np.exp(-logits[:, 0]))).astype(np.float32)


def weights_path() -> Path:
    return Path(str(resources.files("ecgtrace") / "weights" / WEIGHTS))


def load_model(path: Path | None = None, *, threads: int = 1) -> UNetModel:
    """Load an ONNX U-Net and the preprocessing stored beside it (``<name>.json``)."""
    path = Path(path) if path is not None else weights_path()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no U-Net weights (train with `ecgtrace train`)")
    meta = json.loads(path.with_suffix(".json").read_text())
    prep = Preprocessing(**meta["preprocessing"])
    return UNetModel(session=open_session(path, threads=threads), prep=prep, path=path)


@functools.cache
def default_model() -> UNetModel:
    """The shipped model, loaded once per process."""
    return load_model()


def segment_unet(
    image: NDArray[np.uint8],
    *,
    px_per_mm_row: float,
    px_per_mm_col: float,
    centre_row: float | None = None,
    model: UNetModel | None = None,
) -> NDArray[np.float32]:
    """Probability (rows, cols) float32 in [0, 1] of the primary trace of a lead crop.

    ``image`` (rows, cols, 3) RGB uint8; ``px_per_mm_*`` the grid's pitch in px/mm;
    ``centre_row`` the lead's baseline (px; default: the crop's middle row).
    """
    model = model or default_model()
    prep = model.prep
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    centre = image.shape[0] / 2 if centre_row is None else centre_row
    small = resize_to_mm(
        image, px_per_mm_row=px_per_mm_row, px_per_mm_col=px_per_mm_col, px_per_mm=prep.px_per_mm
    )
    x = network_input(
        np.asarray(small, dtype=np.uint8),
        centre_row=(centre + 0.5) * small.shape[0] / image.shape[0] - 0.5,
        prep=prep,
    )
    prob = model(pad_input(x, prep.multiple)[None])[0, : small.shape[0], : small.shape[1]]
    out = cv2.resize(prob, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
