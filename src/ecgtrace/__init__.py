"""ecgtrace: ECG images to calibrated signals (mV against seconds)."""

__version__ = "0.1.0"
