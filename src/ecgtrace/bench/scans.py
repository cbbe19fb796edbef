"""The grid detected on real scans, drawn over them for a visual check (``ecgtrace eval grid
--scans-out``)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace.bench.table import Table, columns, table
from ecgtrace.grid import MAJOR_MM, Grid, detect_grid

_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})


def draw_grid_overlay(
    image: NDArray[np.uint8], grid: Grid, *, max_width: int = 700
) -> NDArray[np.uint8]:
    """A downscaled grey copy of ``image`` (16 levels) with the detected major lines in blue.

    The lines are placed in the deskewed frame and turned by ``grid.rotation_deg`` about the
    image centre, so they should lie on the printed major lines.
    """
    rows, cols = image.shape[:2]
    s = min(1.0, max_width / cols)
    size = (max(1, round(cols * s)), max(1, round(rows * s)))
    small = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    # A grey background in 16 levels under blue lines: small PNGs, and the lines stand out.
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY) // 16 * 17
    small = np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if not grid.found:
        cv2.putText(small, "no grid", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 0, 0), 2)
        return small
    a = math.radians(grid.rotation_deg)
    ca, sa = math.cos(a), math.sin(a)
    cr, cc = (rows - 1) / 2, (cols - 1) / 2
    reach = math.hypot(rows, cols)

    def to_image(r0: NDArray[np.float64], c0: NDArray[np.float64]) -> NDArray[np.float64]:
        # Deskewed (r0, c0) back to the image: a counter-clockwise turn about the centre.
        r = cr + ca * (r0 - cr) - sa * (c0 - cc)
        c = cc + sa * (r0 - cr) + ca * (c0 - cc)
        return np.stack([r, c], axis=-1)

    lines = []
    for phase, pitch, horizontal in (
        (grid.phase_row, grid.px_per_mm_row * MAJOR_MM, True),
        (grid.phase_col, grid.px_per_mm_col * MAJOR_MM, False),
    ):
        if not (math.isfinite(phase) and math.isfinite(pitch) and pitch > 0):
            continue
        extent = rows if horizontal else cols
        ks = np.arange(math.floor(-reach / pitch), math.ceil((extent + reach) / pitch) + 1)
        pos = phase + ks * pitch
        ends = np.array([-reach, (cols if horizontal else rows) + reach])
        for p in pos:
            if horizontal:
                pts = to_image(np.array([p, p]), ends)
            else:
                pts = to_image(ends, np.array([p, p]))
            lines.append(pts * s)
    colour = (0, 90, 255)
    for pts in lines:
        xy = np.round(pts[:, ::-1] * 16).astype(np.int32)
        cv2.polylines(small, [xy], False, colour, 1, cv2.LINE_AA, shift=4)
    return small


@dataclass(frozen=True)
class ScanRow:
    """The grid detected on one real scan."""

    name: str
    shape: tuple[int, int]
    found: bool
    px_per_mm_row: float
    px_per_mm_col: float
    rotation_deg: float
    confidence: float
    minor_visible: bool
    ms: float


def scan_overlays(folder: Path, out_dir: Path) -> list[ScanRow]:
    """Detect the grid on every image in ``folder`` and write ``<out_dir>/<stem>.png`` overlays."""
    from ecgtrace.io.files import write_png
    from ecgtrace.io.images import read_image

    rows = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES):
        image = read_image(path)
        t0 = time.perf_counter()
        g = detect_grid(image)
        ms = (time.perf_counter() - t0) * 1000
        overlay = draw_grid_overlay(image, g)
        write_png(out_dir / f"{path.stem}.png", overlay, compression=9)
        rows.append(
            ScanRow(
                name=path.name,
                shape=(image.shape[0], image.shape[1]),
                found=g.found,
                px_per_mm_row=g.px_per_mm_row,
                px_per_mm_col=g.px_per_mm_col,
                rotation_deg=g.rotation_deg,
                confidence=g.confidence,
                minor_visible=g.minor_visible,
                ms=ms,
            )
        )
    return rows


def scans_table(rows: Sequence[ScanRow], out_dir: Path) -> Table:
    return table(
        f"grid on the real scans (overlays in {out_dir})",
        columns(("scan", "found", "px/mm row", "px/mm col", "rotation", "confidence")),
        (
            (
                r.name,
                str(r.found),
                f"{r.px_per_mm_row:.3f}",
                f"{r.px_per_mm_col:.3f}",
                f"{r.rotation_deg:+.2f}",
                f"{r.confidence:.2f}",
            )
            for r in rows
        ),
    )
