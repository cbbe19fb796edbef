"""The edges: files in and out. Nothing else in the package reads or writes files.

Reading: :func:`~ecgtrace.io.pages.read_pages` (images and PDFs, with input checks). Writing a
digitized page: :func:`write_outputs` (WFDB, CSV, JSON, overlay PNG, all or nothing) or one of
its parts; rendered pages and crops: :func:`save_rendered`, :func:`save_crop`. Nothing here
imports the renderer or the pipeline.
"""

from ecgtrace.io.files import atomic_write_bytes, write_json, write_png
from ecgtrace.io.outputs import (
    FORMATS,
    draw_overlay,
    write_csv,
    write_json_summary,
    write_outputs,
    write_wfdb,
)
from ecgtrace.io.rendered import save_crop, save_rendered

__all__ = [
    "FORMATS",
    "atomic_write_bytes",
    "draw_overlay",
    "save_crop",
    "save_rendered",
    "write_csv",
    "write_json",
    "write_json_summary",
    "write_outputs",
    "write_png",
    "write_wfdb",
]
