"""Any supported input file to its pages: images as one page, PDFs page by page."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ecgtrace.io.images import InputError, read_image
from ecgtrace.io.pdf import rasterize_pdf

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif")
SUFFIXES = (*IMAGE_SUFFIXES, ".pdf")


@dataclass(frozen=True, eq=False)
class Page:
    """One page of an input: ``image`` (rows, cols, 3) uint8 RGB, page ``number`` (1-based)
    of ``source``."""

    image: NDArray[np.uint8]
    source: str
    number: int


def _is_pdf(path: Path) -> bool:
    if path.suffix.lower() == ".pdf":
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"%PDF-"
    except OSError:
        return False


def read_pages(
    path: str | os.PathLike[str], *, dpi: float = 200.0, only: int | None = None
) -> list[Page]:
    """The pages of an image (one) or a PDF (each rasterised at ``dpi``); ``only`` keeps page
    ``only`` (1-based). A PDF is known by its first bytes (``%PDF-``) or its suffix.

    Raises :class:`InputError` (one line naming the file and the cause) for any file that
    cannot be read: see :func:`~ecgtrace.io.images.read_image` and
    :func:`~ecgtrace.io.pdf.rasterize_pdf`.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image or PDF file")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise InputError(f"{path}: not a regular file")
    if only is not None and only < 1:
        raise InputError(f"{path}: page numbers start at 1, got {only}")
    if _is_pdf(path):
        if only is not None:
            image = rasterize_pdf(path, dpi=dpi, first=only, pages=1)[0]
            return [Page(image, str(path), only)]
        images = rasterize_pdf(path, dpi=dpi)
        return [Page(im, str(path), k + 1) for k, im in enumerate(images)]
    if only is not None and only != 1:
        raise InputError(f"{path}: an image has one page, not {only}")
    return [Page(read_image(path), str(path), 1)]
