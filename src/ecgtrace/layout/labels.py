"""Printed lead labels, read by a small classifier trained on rendered labels.

Printers write each lead's name (I, II, III, aVR, aVL, aVF, V1-V6; ``-aVR`` in Cabrera's order)
just above the trace at the start of its cell. A *label window* is a fixed patch of the page in
millimetres, anchored at a cell's start and its baseline: :data:`WINDOW_ABOVE_MM` above the
baseline to :data:`WINDOW_BELOW_MM` below it, :data:`WINDOW_BEFORE_MM` before the start to
:data:`WINDOW_AFTER_MM` after it, resampled to :data:`LABEL_PX_PER_MM`. The classifier
(``weights/labels.onnx``, trained by ``ecgtrace train-labels``) says which label the window holds,
or ``none``. Layout finding asks it where geometry and the traces leave a doubt: the rhythm
strips' leads, 3x4 + 3 strips against 6x2, the limb leads' order, a lone strip's lead.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.io.onnx import Session, open_session, run

LABEL_CLASSES: tuple[str, ...] = (
    "none", "I", "II", "III", "aVR", "aVL", "aVF",
    "V1", "V2", "V3", "V4", "V5", "V6", "-aVR",
)  # fmt: skip
LABEL_PX_PER_MM = 5.0
WINDOW_ABOVE_MM = 13.0
WINDOW_BELOW_MM = 2.0
WINDOW_BEFORE_MM = 2.0
WINDOW_AFTER_MM = 14.0
WINDOW_SHAPE = (
    round((WINDOW_ABOVE_MM + WINDOW_BELOW_MM) * LABEL_PX_PER_MM),
    round((WINDOW_BEFORE_MM + WINDOW_AFTER_MM) * LABEL_PX_PER_MM),
)  # (75, 80) px
WEIGHTS = "labels.onnx"


@dataclass(frozen=True)
class Spot:
    """Where a label may stand: a cell's ``baseline_row`` and ``start_col`` (px)."""

    baseline_row: float
    start_col: float


def label_window(
    image: NDArray[np.uint8], spot: Spot, *, px_per_mm_row: float, px_per_mm_col: float
) -> NDArray[np.float32]:
    """The label window at ``spot`` of an RGB page (rows, cols, 3) uint8: (75, 80) float32
    darkness in [0, 1] (1 - grey / the window's paper grey), paper past the page's edge."""
    top = spot.baseline_row - WINDOW_ABOVE_MM * px_per_mm_row
    left = spot.start_col - WINDOW_BEFORE_MM * px_per_mm_col
    rows = (WINDOW_ABOVE_MM + WINDOW_BELOW_MM) * px_per_mm_row
    cols = (WINDOW_BEFORE_MM + WINDOW_AFTER_MM) * px_per_mm_col
    r0, c0 = int(np.floor(top)), int(np.floor(left))
    r1, c1 = int(np.ceil(top + rows)), int(np.ceil(left + cols))
    patch = np.full((max(1, r1 - r0), max(1, c1 - c0)), np.nan, np.float32)
    sr0, sc0 = max(r0, 0), max(c0, 0)
    sr1, sc1 = min(r1, image.shape[0]), min(c1, image.shape[1])
    if sr1 > sr0 and sc1 > sc0:
        cut = image[sr0:sr1, sc0:sc1]
        grey = cut.mean(axis=2, dtype=np.float32) if cut.ndim == 3 else cut.astype(np.float32)
        patch[sr0 - r0 : sr1 - r0, sc0 - c0 : sc1 - c0] = grey
    paper = float(np.nanpercentile(patch, 90)) if np.isfinite(patch).any() else 255.0
    patch = np.where(np.isfinite(patch), patch, paper)
    dark = np.clip(1.0 - patch / max(paper, 32.0), 0.0, 1.0).astype(np.float32)
    shape = (WINDOW_SHAPE[1], WINDOW_SHAPE[0])  # OpenCV's (width, height)
    shrink = dark.size > WINDOW_SHAPE[0] * WINDOW_SHAPE[1]
    out = cv2.resize(dark, shape, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.asarray(out, dtype=np.float32)


@dataclass(frozen=True)
class LabelReader:
    """A loaded label classifier (its onnxruntime session)."""

    session: Session
    path: Path

    def __call__(self, windows: NDArray[np.float32]) -> NDArray[np.float32]:
        """Class probabilities (n, len(LABEL_CLASSES)) for windows (n, 75, 80)."""
        if windows.shape[0] == 0:
            return np.zeros((0, len(LABEL_CLASSES)), np.float32)
        logits = run(self.session, np.ascontiguousarray(windows[:, None], dtype=np.float32))
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def weights_path() -> Path:
    return Path(str(resources.files("ecgtrace") / "weights" / WEIGHTS))


def load_reader(path: Path | None = None) -> LabelReader:
    """Load a label classifier (ONNX) after checking its ``.json`` lists the same classes."""
    path = Path(path) if path is not None else weights_path()
    meta = json.loads(path.with_suffix(".json").read_text())
    if tuple(meta["classes"]) != LABEL_CLASSES:
        raise ValueError(f"{path}: its classes {meta['classes']} are not {LABEL_CLASSES}")
    return LabelReader(session=open_session(path), path=path)


@functools.cache
def default_reader() -> LabelReader:
    """The shipped classifier, loaded once per process."""
    return load_reader()


@dataclass(frozen=True)
class Reading:
    """What a label window holds: each class's probability (``LABEL_CLASSES`` order)."""

    probs: tuple[float, ...]

    def p(self, label: str) -> float:
        return self.probs[LABEL_CLASSES.index(label)]

    @property
    def best(self) -> tuple[str, float]:
        k = int(np.argmax(self.probs))
        return LABEL_CLASSES[k], self.probs[k]


def read_labels(
    image: NDArray[np.uint8],
    spots: Sequence[Spot],
    *,
    px_per_mm_row: float,
    px_per_mm_col: float,
    reader: LabelReader | None = None,
) -> list[Reading]:
    """The reading of the label window at each spot of an RGB page (one batched call)."""
    if not spots:
        return []
    windows = np.stack(
        [
            label_window(image, s, px_per_mm_row=px_per_mm_row, px_per_mm_col=px_per_mm_col)
            for s in spots
        ]
    )
    probs = (reader or default_reader())(windows)
    return [Reading(tuple(float(v) for v in row)) for row in probs]
