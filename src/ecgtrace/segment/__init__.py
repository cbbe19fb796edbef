"""Segmenters: an RGB lead crop in, the probability of the lead's trace per pixel out."""

from ecgtrace.segment.classical import segment_classical

__all__ = ["segment_classical"]
