"""The edges: files in and out. Nothing else in the package reads or writes files."""

from ecgtrace.io.files import atomic_write_bytes, write_png
from ecgtrace.io.rendered import save_crop, save_rendered

__all__ = ["atomic_write_bytes", "save_crop", "save_rendered", "write_png"]
