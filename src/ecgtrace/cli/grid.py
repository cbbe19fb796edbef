"""``ecgtrace grid``: detect the ECG grid of one image or PDF page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ecgtrace.cli import app, fail, out


def _read_input(path: Path, dpi: float) -> np.ndarray:
    """An image file, or the first page of a PDF rasterised at ``dpi``; fails on bad input."""
    from ecgtrace.io.images import InputError, read_image
    from ecgtrace.io.pdf import rasterize_pdf

    try:
        if path.suffix.lower() == ".pdf":
            return rasterize_pdf(path, dpi=dpi, pages=1)[0]
        return read_image(path)
    except InputError as exc:
        fail(str(exc))


@app.command("grid")
def grid_command(
    image: Annotated[Path, typer.Argument(help="An image (PNG, JPEG, TIFF, BMP, WebP) or PDF.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    dpi: Annotated[float, typer.Option(help="PDF: rasterise the first page at this DPI.")] = 200.0,
) -> None:
    """Detect the ECG grid: px/mm along rows and cols, rotation, phase, confidence."""
    from ecgtrace.grid import detect_grid

    grid = detect_grid(_read_input(image, dpi))
    if json_out:
        doc: dict[str, object] = {"image": str(image)}
        for key, value in grid.as_dict().items():
            finite = not isinstance(value, float) or np.isfinite(value)
            doc[key] = value if finite else None
        out.print(json.dumps(doc), highlight=False, markup=False, soft_wrap=True)
    elif grid.found:
        out.print(
            f"{image}: {grid.px_per_mm_row:.3f} px/mm (rows), {grid.px_per_mm_col:.3f} px/mm "
            f"(cols), rotation {grid.rotation_deg:+.2f} deg, confidence {grid.confidence:.2f}",
            highlight=False,
            markup=False,
        )
    if not grid.found:
        fail(f"{image}: no ECG grid found (confidence {grid.confidence:.2f})")
