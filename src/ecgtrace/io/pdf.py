"""PDF in: each page rasterised to an RGB uint8 array with pypdfium2."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from numpy.typing import NDArray

from ecgtrace.io.images import MAX_PIXELS, InputError


def rasterize_pdf(
    path: str | os.PathLike[str], *, dpi: float = 200.0, pages: int | None = None
) -> list[NDArray[np.uint8]]:
    """Rasterise the pages of a PDF at ``dpi`` to RGB (rows, cols, 3) uint8 arrays.

    ``pages`` None renders every page, else only the first ``pages``. Raises
    :class:`~ecgtrace.io.images.InputError` (one line naming the file) when the file is missing,
    unreadable, encrypted, has no pages, or a page would exceed 100 million pixels.
    """
    path = Path(path)
    if not dpi > 0:
        raise InputError(f"{path}: dpi must be > 0, got {dpi}")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        cause = str(exc).splitlines()[0] if str(exc) else "not a readable PDF"
        if "password" in cause.lower() or "security" in cause.lower():
            raise InputError(f"{path}: the PDF is encrypted ({cause})") from exc
        raise InputError(f"{path}: cannot read the PDF ({cause})") from exc
    try:
        n = len(doc)
        if n == 0:
            raise InputError(f"{path}: the PDF has no pages")
        out = []
        for k in range(n if pages is None else min(n, max(pages, 0))):
            page = doc[k]
            width_pt, height_pt = page.get_size()
            scale = dpi / 72.0
            if width_pt * scale * height_pt * scale > MAX_PIXELS:
                raise InputError(
                    f"{path}: page {k + 1} at {dpi:g} DPI would exceed "
                    f"{MAX_PIXELS // 1_000_000} million pixels"
                )
            bitmap = page.render(scale=scale, rev_byteorder=True)
            image = np.asarray(bitmap.to_numpy())
            if image.ndim == 3 and image.shape[2] == 4:
                image = image[..., :3]
            elif image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=2)
            out.append(np.ascontiguousarray(image, dtype=np.uint8))
            page.close()
        return out
    except pdfium.PdfiumError as exc:
        raise InputError(f"{path}: cannot render the PDF ({exc})") from exc
    finally:
        doc.close()


def count_pages(path: str | os.PathLike[str]) -> int:
    """The number of pages of a PDF, without rendering any; raises :class:`InputError`."""
    path = Path(path)
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise InputError(f"{path}: cannot read the PDF ({exc})") from exc
    try:
        return len(doc)
    finally:
        doc.close()
