"""PDF in: each page rasterised to an RGB uint8 array with pypdfium2."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from numpy.typing import NDArray

from ecgtrace.io.images import MAX_PIXELS, InputError

MAX_PDF_PIXELS = 5 * MAX_PIXELS  # all the pages read at once: ~135 letter pages at 200 DPI

_LOAD_ERRORS = {
    pdfium_c.FPDF_ERR_FILE: "cannot open the file",
    pdfium_c.FPDF_ERR_FORMAT: "cannot read the PDF (not a PDF, or a damaged one)",
    pdfium_c.FPDF_ERR_PASSWORD: "the PDF is encrypted (it needs a password)",
    pdfium_c.FPDF_ERR_SECURITY: "the PDF is encrypted with an unsupported security handler",
}

_PATH_ERRORS = "strict" if sys.platform.startswith("win32") else "surrogateescape"  # as pypdfium2

# What pypdfium2 and ctypes may raise on a bad document; InputError (a ValueError) is re-raised.
_PDFIUM_ERRORS = (pdfium.PdfiumError, OSError, ValueError, OverflowError, MemoryError)


def _open(path: Path) -> pdfium.PdfDocument:
    """The document at ``path``, or :class:`InputError` saying why not."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a PDF file")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{path}: the file is empty")
        # PDFium's own loader, not PdfDocument(path): that one refuses a document without pages
        # with whatever error an earlier document left (say "incorrect password").
        name = str(path.resolve()) + "\x00"
        raw = pdfium_c.FPDF_LoadDocument(name.encode("utf-8", errors=_PATH_ERRORS), None)
        if not raw:
            cause = _LOAD_ERRORS.get(pdfium_c.FPDF_GetLastError(), "cannot read the PDF")
            raise InputError(f"{path}: {cause}")
        if pdfium_c.FPDF_GetPageCount(raw) < 1:
            pdfium_c.FPDF_CloseDocument(raw)
            raise InputError(f"{path}: the PDF has no pages")
        return pdfium.PdfDocument(raw)
    except InputError:
        raise
    except _PDFIUM_ERRORS as exc:
        raise InputError(f"{path}: cannot read the PDF ({type(exc).__name__})") from exc


def _page_px(doc: pdfium.PdfDocument, index: int, scale: float, path: Path) -> int:
    """The pixel count of page ``index`` (0-based) rendered at ``scale``, checked."""
    width_pt, height_pt = doc.get_page_size(index)
    if not (math.isfinite(width_pt) and math.isfinite(height_pt)):
        raise InputError(f"{path}: page {index + 1} has no valid size")
    cols, rows = math.ceil(width_pt * scale), math.ceil(height_pt * scale)
    if cols < 1 or rows < 1:
        raise InputError(f"{path}: page {index + 1} of {width_pt:g} x {height_pt:g} pt is empty")
    if cols * rows > MAX_PIXELS:
        raise InputError(
            f"{path}: page {index + 1} of {width_pt:g} x {height_pt:g} pt at {scale * 72:g} DPI "
            f"would exceed {MAX_PIXELS // 1_000_000} million pixels"
        )
    return cols * rows


def rasterize_pdf(
    path: str | os.PathLike[str], *, dpi: float = 200.0, pages: int | None = None, first: int = 1
) -> list[NDArray[np.uint8]]:
    """Rasterise the pages of a PDF at ``dpi`` to RGB (rows, cols, 3) uint8 arrays.

    ``pages`` None renders every page from page ``first`` (1-based) on, else at most ``pages``
    of them. Raises :class:`~ecgtrace.io.images.InputError` (one line naming the file) when the
    file is missing, unreadable, encrypted, has no pages or fewer than ``first``, a page would
    exceed 100 million pixels, or the pages together :data:`MAX_PDF_PIXELS`.
    """
    path = Path(path)
    if not dpi > 0 or not math.isfinite(dpi):
        raise InputError(f"{path}: dpi must be > 0, got {dpi}")
    if first < 1:
        raise InputError(f"{path}: page numbers start at 1, got {first}")
    doc = _open(path)
    try:
        n = len(doc)
        if first > n:
            raise InputError(f"{path}: the PDF has {n} pages, not {first}")
        last = n if pages is None else min(n, first - 1 + max(pages, 0))
        scale = dpi / 72.0
        total = 0
        for k in range(first - 1, last):
            total += _page_px(doc, k, scale, path)
            if total > MAX_PDF_PIXELS:
                raise InputError(
                    f"{path}: pages {first}-{k + 1} at {dpi:g} DPI would exceed "
                    f"{MAX_PDF_PIXELS // 1_000_000} million pixels in all; read fewer pages"
                )
        return [_render(doc, k, scale) for k in range(first - 1, last)]
    except InputError:
        raise
    except _PDFIUM_ERRORS as exc:
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot render the PDF ({cause})") from exc
    finally:
        doc.close()


def _render(doc: pdfium.PdfDocument, index: int, scale: float) -> NDArray[np.uint8]:
    page = doc[index]
    try:
        bitmap = page.render(scale=scale, rev_byteorder=True)
        try:
            image = np.asarray(bitmap.to_numpy())  # a view of the bitmap's buffer
            if image.ndim == 2:
                image = image[..., None]
            if image.shape[2] < 3:
                image = np.repeat(image[..., :1], 3, axis=2)
            return np.array(image[..., :3], dtype=np.uint8, order="C", copy=True)
        finally:
            bitmap.close()
    finally:
        page.close()


def count_pages(path: str | os.PathLike[str]) -> int:
    """The number of pages of a PDF, without rendering any; raises :class:`InputError`."""
    path = Path(path)
    doc = _open(path)
    try:
        return len(doc)
    except _PDFIUM_ERRORS as exc:
        raise InputError(f"{path}: cannot read the PDF ({type(exc).__name__})") from exc
    finally:
        doc.close()
