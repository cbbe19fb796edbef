"""ecgtrace: ECG images to calibrated signals (mV against seconds).

``ecgtrace.digitize(image_or_path, **options) -> Digitization`` is the whole pipeline; see
:mod:`ecgtrace.pipeline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Digitization", "DigitizeError", "__version__", "digitize"]

if TYPE_CHECKING:
    from ecgtrace.pipeline import Digitization, DigitizeError, digitize


def __getattr__(name: str) -> Any:
    # The pipeline pulls in OpenCV and onnxruntime: load it when first asked for, so that
    # `import ecgtrace` (and the CLI's start) stays fast.
    if name in ("Digitization", "DigitizeError", "digitize"):
        from ecgtrace import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'ecgtrace' has no attribute {name!r}")
