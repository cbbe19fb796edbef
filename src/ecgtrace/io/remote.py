"""Output locations given as fsspec URLs (``s3://bucket/out``, ``file:///data/out``, ...).

A URL location is written by uploading files made in a local folder, one by one, the JSON
summary last (so that a page whose JSON is there is whole, as with local atomic writes).
fsspec (and the backend for the protocol, such as s3fs) comes with the ``cluster`` extra and is
imported only when a URL is used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ecgtrace.io.files import atomic_write_bytes

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["LocationError", "exists_all", "filesystem", "is_url", "upload", "write_file"]


class LocationError(ValueError):
    """An output location that cannot be used: fsspec or the protocol's backend is missing,
    or the protocol is unknown."""


def is_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URL (``proto://...``) rather than a local path."""
    return "://" in os.fspath(location)


def filesystem(url: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``url`` and the path within it."""
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:
        raise LocationError(
            f"{url}: output to a URL needs fsspec: pip install 'ecgtrace[cluster]'"
        ) from exc
    try:
        fs, path = url_to_fs(url)
    except (ImportError, ValueError) as exc:  # backend missing ('Install s3fs'), unknown proto
        raise LocationError(f"{url}: {exc}") from exc
    return fs, str(path).rstrip("/")


def exists_all(url: str, names: Iterable[str]) -> bool:
    """Whether every file of ``names`` is in the folder ``url``."""
    fs, root = filesystem(url)
    return all(fs.exists(f"{root}/{n}") for n in names)


def _upload_order(path: Path) -> int:
    # The JSON summary is the "done" mark: last. A WFDB header after the .dat it names.
    if path.name.endswith(".json"):
        return 2
    return 1 if path.name.endswith(".hea") else 0


def upload(files: Sequence[str | os.PathLike[str]], url: str) -> list[str]:
    """Copy local ``files`` into the folder ``url`` (made if need be), JSON files last;
    return their URLs in the order of ``files``. If a copy fails, the files this call
    uploaded are removed (as far as the store allows) and the error is raised."""
    fs, root = filesystem(url)
    local = [Path(f) for f in files]
    fs.makedirs(root, exist_ok=True)
    done: list[str] = []
    try:
        for f in sorted(local, key=_upload_order):
            target = f"{root}/{f.name}"
            fs.put_file(str(f), target)
            done.append(target)
    except BaseException:
        for target in done:
            with contextlib.suppress(Exception):  # best effort: the upload error matters
                fs.rm_file(target)
        raise
    return [fs.unstrip_protocol(f"{root}/{f.name}") for f in local]


def write_file(location: str | os.PathLike[str], name: str, data: bytes) -> str:
    """Write ``data`` as ``name`` in the folder ``location`` (a path: atomically; a URL: as
    one upload) and return where it went."""
    if not is_url(location):
        return str(atomic_write_bytes(Path(location) / name, data))
    fs, root = filesystem(os.fspath(location))
    fs.makedirs(root, exist_ok=True)
    fs.pipe_file(f"{root}/{name}", data)
    return str(fs.unstrip_protocol(f"{root}/{name}"))
