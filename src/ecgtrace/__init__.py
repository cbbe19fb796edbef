"""ecgtrace: ECG images to calibrated signals (mV against seconds).

``ecgtrace.digitize(image_or_path, DigitizeOptions(...)) -> Digitization`` is the whole
pipeline; see
:mod:`ecgtrace.pipeline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Digitization", "DigitizeError", "DigitizeOptions", "__version__", "digitize"]

if TYPE_CHECKING:
    from ecgtrace.digitization import Digitization, DigitizeError, DigitizeOptions
    from ecgtrace.pipeline import digitize


def __getattr__(name: str) -> Any:
    # The pipeline pulls in OpenCV and onnxruntime: load it when first asked for, so that
    # `import ecgtrace` (and the CLI's start) stays fast.
    if name in ("Digitization", "DigitizeError", "DigitizeOptions"):
        from ecgtrace import digitization

        return getattr(digitization, name)
    if name == "digitize":
        from ecgtrace.pipeline import digitize

        return digitize
    raise AttributeError(f"module 'ecgtrace' has no attribute {name!r}")
