"""Images in: PNG, JPEG, TIFF, BMP, WebP and GIF files to RGB uint8 arrays, with input checks.

Every input is sniffed and its size read from its header before it is decoded, so a huge image or
a decompression bomb is refused without allocating it; formats other than these six are refused
rather than handed to OpenCV's other decoders. Codec messages on stderr are kept out of the output.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

MAX_PIXELS = 100_000_000  # a 600 DPI A0 sheet is ~ 435 Mpx; an ECG page at 600 DPI is ~ 35 Mpx
MAX_FILE_BYTES = 1 << 30  # an uncompressed 100 Mpx 16-bit RGBA image is 800 MB

KINDS = "PNG, JPEG, TIFF, BMP, WebP or GIF"


class InputError(ValueError):
    """An input file that cannot be used; the message is one line naming the file and the cause."""


class _Refused(Exception):
    """Raised by the header readers with the cause; :func:`decode_image` adds the file name."""


class _BadSize(_Refused):
    """A header giving too many pixels, or none."""


_Order = Literal["little", "big"]


def _uint(data: bytes, at: int, size: int, order: _Order = "big") -> int:
    if at < 0 or at + size > len(data):
        raise _Refused("the header is truncated")
    return int.from_bytes(data[at : at + size], order)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = (b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND")  # all that OpenCV needs for the pixels


def _png(data: bytes) -> tuple[int, int, bytes]:
    """(rows, cols, the PNG with only its image chunks) after checking every chunk's length.

    OpenCV allocates a chunk's declared length before reading it (a 4 GB ``tEXt`` chunk in a
    100-byte file allocates 4 GB) and parses APNG, text and Exif chunks that carry no pixels:
    only IHDR, PLTE, tRNS, IDAT and IEND are passed on.
    """
    if _uint(data, 8, 4) != 13 or data[12:16] != b"IHDR":
        raise _Refused("corrupt PNG (no image header)")
    rows, cols = _uint(data, 20, 4), _uint(data, 16, 4)
    _check_size(rows, cols)
    kept = [_PNG_SIGNATURE]
    pos = 8
    while True:
        if pos + 12 > len(data):
            raise _Refused("truncated PNG (no end chunk)")
        length = _uint(data, pos, 4)
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise _Refused(f"truncated or corrupt PNG (chunk {kind!r} runs past the end)")
        if not kind.isalpha():  # ASCII letters only, as libpng checks
            raise _Refused(f"corrupt PNG (bad chunk name {kind!r})")
        if kind in _PNG_KEEP:
            kept.append(data[pos:end])
        elif kind[:1].isupper():  # as libpng: an unknown critical chunk
            raise _Refused(f"unsupported PNG (unknown critical chunk {kind.decode()})")
        if kind == b"IEND":
            break
        pos = end
    return rows, cols, b"".join(kept)


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Segments with a length: DHT, DAC, DQT, DNL, DRI, COM and APPn.
_JPEG_SKIP = {0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)}


def _jpeg(data: bytes) -> tuple[int, int]:
    """(rows, cols) from the first frame header (SOFn), walking the markers as libjpeg does."""
    pos, n = 2, len(data)
    while True:
        while pos < n and data[pos] != 0xFF:  # libjpeg skips (and warns about) stray bytes
            pos += 1
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            raise _Refused("truncated JPEG (no frame header)")
        marker = data[pos]
        pos += 1
        if marker in _JPEG_SOF:
            return _uint(data, pos + 3, 2), _uint(data, pos + 5, 2)
        if 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01):  # RSTn, TEM, stuffed FF 00
            continue
        if marker not in _JPEG_SKIP:
            raise _Refused(f"corrupt JPEG (marker 0x{marker:02X} before the frame header)")
        pos += max(_uint(data, pos, 2), 2)  # libjpeg moves on past a length under 2


# The integer field types libtiff reads a size from, and their sizes; 6, 8, 9 and 17 are signed.
_TIFF_INTEGER = {1: 1, 3: 2, 4: 4, 6: 1, 8: 2, 9: 4, 16: 8, 17: 8}
_TIFF_WIDTH, _TIFF_LENGTH, _TIFF_TILE_WIDTH, _TIFF_TILE_LENGTH = 256, 257, 322, 323


def _tiff(data: bytes) -> tuple[int, int]:
    """(rows, cols) from the first IFD of a TIFF or BigTIFF, either byte order.

    A size tag that libtiff would not read (another type, a count other than 1) is refused, and
    of repeated tags the largest value counts. Tiles larger than the pixel limit are refused too.
    """
    order: _Order = "little" if data[:2] == b"II" else "big"
    big = data[2:4] in (b"\x2b\x00", b"\x00\x2b")
    if big:
        if _uint(data, 4, 2, order) != 8:
            raise _Refused("corrupt BigTIFF header")
        ifd, count_size, entry_size, value_size = _uint(data, 8, 8, order), 8, 20, 8
    else:
        ifd, count_size, entry_size, value_size = _uint(data, 4, 4, order), 2, 12, 4
    count = _uint(data, ifd, count_size, order)
    if not 0 < count <= 4096:  # libtiff refuses more than 4096 entries
        raise _Refused("corrupt TIFF (bad directory)")
    found: dict[int, int] = {}
    for k in range(count):
        at = ifd + count_size + k * entry_size
        tag = _uint(data, at, 2, order)
        if tag not in (_TIFF_WIDTH, _TIFF_LENGTH, _TIFF_TILE_WIDTH, _TIFF_TILE_LENGTH):
            continue
        kind, n = _uint(data, at + 2, 2, order), _uint(data, at + 4, value_size, order)
        size = _TIFF_INTEGER.get(kind)
        if size is None or n != 1:
            raise _Refused(f"corrupt TIFF (bad field {tag})")
        start = at + 4 + value_size
        value = int.from_bytes(data[start : start + size], order, signed=kind in (6, 8, 9, 17))
        if value < 0:
            raise _Refused(f"corrupt TIFF (negative field {tag})")
        found[tag] = max(found.get(tag, 0), value)
    if _TIFF_WIDTH not in found or _TIFF_LENGTH not in found:
        raise _Refused("corrupt TIFF (no image width or length)")
    tile = found.get(_TIFF_TILE_WIDTH, 0) * found.get(_TIFF_TILE_LENGTH, 0)
    if tile > MAX_PIXELS:
        raise _Refused(f"TIFF tiles of {tile} px are too large")
    return found[_TIFF_LENGTH], found[_TIFF_WIDTH]


def _webp(data: bytes) -> tuple[int, int]:
    """(rows, cols) from a WebP's VP8X canvas, or its lossy (VP8) or lossless (VP8L) frame."""
    chunk = data[12:16]
    if chunk == b"VP8X":
        return _uint(data, 27, 3, "little") + 1, _uint(data, 24, 3, "little") + 1
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise _Refused("corrupt WebP (no VP8 start code)")
        return _uint(data, 28, 2, "little") & 0x3FFF, _uint(data, 26, 2, "little") & 0x3FFF
    if chunk == b"VP8L":
        if data[20:21] != b"\x2f":
            raise _Refused("corrupt WebP (no VP8L signature)")
        bits = _uint(data, 21, 4, "little")
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    raise _Refused("corrupt WebP (no VP8, VP8L or VP8X chunk first)")


def _bmp(data: bytes) -> tuple[int, int]:
    """(rows, cols) from a BMP's info header (40 or more bytes) or OS/2 core header (12 bytes)."""
    size = _uint(data, 14, 4, "little")
    if size == 12:
        return _uint(data, 20, 2, "little"), _uint(data, 18, 2, "little")
    if not 36 <= size < 1 << 31:
        raise _Refused("unsupported BMP header")
    cols = int.from_bytes(data[18:22], "little", signed=True)
    rows = int.from_bytes(data[22:26], "little", signed=True)
    if len(data) < 26 or cols < 0:
        raise _Refused("corrupt BMP header")
    return abs(rows), cols


def _check_size(rows: int, cols: int) -> None:
    if rows * cols > MAX_PIXELS:
        raise _BadSize(
            f"image of {cols} x {rows} px is too large "
            f"(more than {MAX_PIXELS // 1_000_000} million pixels)"
        )
    if rows == 0 or cols == 0:
        raise _BadSize(f"image of {cols} x {rows} px has no pixels")


def _probe(data: bytes) -> tuple[str, bytes]:
    """(the format's name, the bytes to decode) once the header's size is within the limits.

    The checks follow the order in which OpenCV picks a decoder (BMP, GIF, AVIF, ..., JPEG, WebP,
    ..., TIFF, PNG), so the header read here is the one the decoder will read.
    """
    if data[:2] == b"BM":
        _check_size(*_bmp(data))
        return "BMP", data
    if data[:3] == b"GIF":
        _check_size(_uint(data, 8, 2, "little"), _uint(data, 6, 2, "little"))
        return "GIF", data
    if data[4:8] == b"ftyp":
        raise _Refused(f"an AVIF, HEIF or other ISO media file, not a {KINDS} image")
    if data[:3] == b"\xff\xd8\xff":
        _check_size(*_jpeg(data))
        return "JPEG", data
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        _check_size(*_webp(data))
        return "WebP", data
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        _check_size(*_tiff(data))
        return "TIFF", data
    if data[:8] == _PNG_SIGNATURE:
        return "PNG", _png(data)[2]
    raise _Refused(f"not a {KINDS} image")


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send what C libraries write to file descriptor 2 (libjpeg's "Corrupt JPEG data", libpng's
    errors) to the null device for the duration, as the one-line error says it.

    Only while this is the process's one Python thread: with others, their output on stderr
    would be lost too, so then the codecs may speak.
    """
    if threading.active_count() > 1 or not _STDERR_LOCK.acquire(blocking=False):
        yield
        return
    saved = -1
    try:
        with contextlib.suppress(Exception):
            if sys.stderr is not None:
                sys.stderr.flush()
        try:
            saved = os.dup(2)
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
        except OSError:
            pass
        yield
    finally:
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
        _STDERR_LOCK.release()


def _to_u8(image: NDArray) -> NDArray[np.uint8]:
    """8-bit from 8-, 16-bit, other integer or float images (16-bit scaled by 1/257, other
    integers by 255 / their maximum with negatives as 0, floats taken as 0..1 with NaN as 0)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    with np.errstate(all="ignore"):
        if np.issubdtype(image.dtype, np.floating):
            out = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
            np.clip(out, 0.0, 1.0, out=out)
            out *= 255.0
        else:
            top = max(int(np.iinfo(image.dtype).max), 1)
            out = image.astype(np.float32)
            np.clip(out, 0.0, top, out=out)
            out *= 255.0 / top
        return np.rint(out, out=out).astype(np.uint8)


def decode_image(data: bytes, *, name: str = "<bytes>") -> NDArray[np.uint8]:
    """Decode PNG, JPEG, TIFF, BMP, WebP or GIF bytes to an RGB (rows, cols, 3) uint8 array.

    Grey images are repeated to three channels, an alpha channel is composited on white and
    16-bit images are scaled to 8 bits. Raises :class:`InputError` naming ``name`` for anything
    else, a header giving more than :data:`MAX_PIXELS` pixels (before decoding) or broken data.
    """
    if not data:
        raise InputError(f"{name}: the file is empty")
    try:
        kind, data = _probe(bytes(data))
    except _BadSize as exc:
        raise InputError(f"{name}: {exc}") from None
    except _Refused as exc:
        raise InputError(f"{name}: cannot decode it: {exc}") from None
    buf = np.frombuffer(data, dtype=np.uint8)
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our message says it
    try:
        with _quiet_stderr():
            image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except (cv2.error, MemoryError) as exc:
        raise InputError(f"{name}: cannot decode it: corrupt or truncated {kind} data") from exc
    finally:
        cv2.utils.logging.setLogLevel(level)
    if image is None or image.size == 0 or image.ndim not in (2, 3):
        raise InputError(f"{name}: cannot decode it: corrupt or truncated {kind} data")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:  # cannot happen after the header checks
        raise InputError(
            f"{name}: image of {image.shape[1]} x {image.shape[0]} px is too large "
            f"(more than {MAX_PIXELS // 1_000_000} million pixels)"
        )
    try:
        return _to_rgb(_to_u8(image))
    except MemoryError as exc:
        raise InputError(f"{name}: not enough memory to convert the {kind} image") from exc


def _to_rgb(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
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
    """Read a PNG, JPEG, TIFF, BMP, WebP or GIF file as RGB (rows, cols, 3) uint8.

    Raises :class:`InputError` (a ``ValueError``) with a one-line message naming the file when
    it is missing, not a regular file, empty, over 1 GiB, not a decodable image in one of these
    formats, or larger than 100 million pixels (refused from its header, before decoding).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image file")
    too_big = f"{path}: the file is larger than {MAX_FILE_BYTES >> 20} MiB"
    try:
        if not path.is_file():  # a FIFO or a device would block or never end
            raise InputError(f"{path}: not a regular file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(too_big)
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if len(data) > MAX_FILE_BYTES:  # it grew
        raise InputError(too_big)
    return decode_image(data, name=str(path))
