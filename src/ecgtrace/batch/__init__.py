"""Many input files: digitize each to its outputs, one bad file never stopping the others.

:func:`digitize_file` is the unit of work: one input file (an image or a PDF of any number of
pages) to its output files, all or nothing, returning an :class:`InputResult` instead of
raising on bad input. :func:`expand_inputs` turns folders, globs and list files into input
paths; :func:`run_batch` maps :func:`digitize_file` over them on local worker processes and
:func:`run_cluster` on a Dask distributed cluster. The output location is a folder or an fsspec
URL (``s3://bucket/out``): see :mod:`ecgtrace.io.remote`.
"""

from __future__ import annotations

from ecgtrace.batch.cluster import NEEDS_CLUSTER_EXTRA, ClusterError, run_cluster
from ecgtrace.batch.files import (
    SUMMARY_FIELDS,
    InputResult,
    Options,
    Status,
    digitize_file,
    expand_inputs,
    page_stems,
    safe_stem,
    summary_rows,
    unique_stems,
    write_summary,
)
from ecgtrace.batch.local import run_batch

__all__ = [
    "NEEDS_CLUSTER_EXTRA",
    "SUMMARY_FIELDS",
    "ClusterError",
    "InputResult",
    "Options",
    "Status",
    "digitize_file",
    "expand_inputs",
    "page_stems",
    "run_batch",
    "run_cluster",
    "safe_stem",
    "summary_rows",
    "unique_stems",
    "write_summary",
]
