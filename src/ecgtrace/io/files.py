"""Atomic file writes: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either nothing or the whole file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def encode_png(image: NDArray[np.uint8], *, compression: int = 3) -> bytes:
    """PNG bytes of an RGB (rows, cols, 3) or grey (rows, cols) uint8 image (zlib level 0-9)."""
    arr = image[..., ::-1] if image.ndim == 3 else image
    ok, buf = cv2.imencode(
        ".png", np.ascontiguousarray(arr), [cv2.IMWRITE_PNG_COMPRESSION, compression]
    )
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def write_png(
    path: str | os.PathLike[str], image: NDArray[np.uint8], *, compression: int = 3
) -> Path:
    """Write an RGB or grey uint8 image as PNG, atomically."""
    return atomic_write_bytes(path, encode_png(image, compression=compression))


def _strict(obj: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_strict(v) for v in obj]
    return obj


def encode_json(obj: Any) -> bytes:
    """``obj`` as indented, strict JSON (NaN and infinities as null), UTF-8, ending in a newline."""
    text = json.dumps(_strict(obj), indent=1, allow_nan=False)
    return (text + "\n").encode()


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented, strict JSON (NaN as null), atomically."""
    return atomic_write_bytes(path, encode_json(obj))


def write_npz(path: str | os.PathLike[str], **arrays: NDArray[Any]) -> Path:
    """Write arrays to a compressed NPZ, atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return atomic_write_bytes(path, buf.getvalue())
