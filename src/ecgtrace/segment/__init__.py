"""Segmenters: an RGB lead crop in, the probability of the lead's trace per pixel out."""

from ecgtrace.segment.classical import segment_classical
from ecgtrace.segment.refine import refine_with_ink

__all__ = ["refine_with_ink", "segment_classical"]
