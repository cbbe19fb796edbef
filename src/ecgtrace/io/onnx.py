"""ONNX models at run time: the only module that imports onnxruntime.

A session runs on the CPU with a stated number of intra-op threads (one by default: pages run in
parallel threads or processes, and nested thread pools would oversubscribe the cores).
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

Session: TypeAlias = ort.InferenceSession


def open_session(path: Path, *, threads: int = 1) -> Session:
    """An onnxruntime CPU session of the model at ``path`` (quiet, ``threads`` intra-op)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run(session: Session, x: NDArray[np.float32]) -> NDArray[np.float32]:
    """The model's first output for its one input ``x``."""
    out = session.run(None, {session.get_inputs()[0].name: x})[0]
    return np.asarray(out, dtype=np.float32)
