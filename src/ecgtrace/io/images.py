"""Images in: PNG, JPEG, TIFF, BMP and WebP files to RGB uint8 arrays, with input checks."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

MAX_PIXELS = 100_000_000  # a 600 DPI A0 sheet is ~ 435 Mpx; an ECG page at 600 DPI is ~ 35 Mpx


class InputError(ValueError):
    """An input file that cannot be used; the message is one line naming the file and the cause."""


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(rows, cols) from a PNG, BMP or WebP (VP8X) header, or None when not known cheaply.

    Lets :func:`read_image` refuse a huge image before decoding (and allocating) it.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")
    if data[:2] == b"BM" and len(data) >= 26:
        cols = int.from_bytes(data[18:22], "little", signed=True)
        rows = int.from_bytes(data[22:26], "little", signed=True)
        return abs(rows), abs(cols)
    if data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8X" and len(data) >= 30:
        return int.from_bytes(data[27:30], "little") + 1, int.from_bytes(data[24:27], "little") + 1
    return None


def _to_u8(image: NDArray) -> NDArray[np.uint8]:
    """8-bit from 8-, 16-bit or float images (16-bit scaled by 1/257, floats taken as 0..1)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    info = np.iinfo(image.dtype)
    scale = 255.0 / max(int(info.max), 1)
    return np.clip(np.round(image.astype(np.float64) * scale), 0, 255).astype(np.uint8)


def decode_image(data: bytes, *, name: str = "<bytes>") -> NDArray[np.uint8]:
    """Decode encoded image bytes to an RGB (rows, cols, 3) uint8 array.

    Grey images are repeated to three channels, an alpha channel is composited on white and
    16-bit images are scaled to 8 bits. Raises :class:`InputError` naming ``name``.
    """
    if not data:
        raise InputError(f"{name}: the file is empty")
    size = _header_size(data)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise InputError(
            f"{name}: image of {size[1]} x {size[0]} px is too large "
            f"(more than {MAX_PIXELS // 1_000_000} million pixels)"
        )
    buf = np.frombuffer(data, dtype=np.uint8)
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our message says it
    try:
        image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InputError(f"{name}: not an image or cannot decode it") from exc
    finally:
        cv2.utils.logging.setLogLevel(level)
    if image is None or image.size == 0:
        raise InputError(f"{name}: not an image or cannot decode it")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise InputError(
            f"{name}: image of {image.shape[1]} x {image.shape[0]} px is too large "
            f"(more than {MAX_PIXELS // 1_000_000} million pixels)"
        )
    image = _to_u8(image)
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[..., None], 3, axis=2))
    channels = image.shape[2]
    if channels == 1:
        return np.ascontiguousarray(np.repeat(image, 3, axis=2))
    if channels == 2:  # grey + alpha
        grey = image[..., :1].astype(np.float32)
        alpha = image[..., 1:2].astype(np.float32) / 255.0
        out = grey * alpha + 255.0 * (1.0 - alpha)
        return np.repeat(np.round(out).astype(np.uint8), 3, axis=2)
    if channels == 4:  # BGRA: composite on white
        bgr = image[..., :3].astype(np.float32)
        alpha = image[..., 3:4].astype(np.float32) / 255.0
        image = np.round(bgr * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(image[..., 2::-1])  # BGR -> RGB


def read_image(path: str | os.PathLike[str]) -> NDArray[np.uint8]:
    """Read a PNG, JPEG, TIFF, BMP or WebP file as RGB (rows, cols, 3) uint8.

    Raises :class:`InputError` (a ``ValueError``) with a one-line message naming the file when
    it is missing, empty, not a decodable image, or larger than 100 million pixels.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    return decode_image(data, name=str(path))
