"""The renderer: ECG paper from real signals, with the exact truth of what was drawn."""

from ecgtrace.render.page import render_page
from ecgtrace.render.spec import (
    A4_MM,
    GRID_COLOURS,
    LETTER_MM,
    PAPER_SIZES,
    GridStyle,
    PageSpec,
    SpecError,
    random_spec,
)
from ecgtrace.render.truth import ALPHA_THRESHOLD, PageTruth, PulseTruth, Rendered, SegmentTruth

__all__ = [
    "A4_MM",
    "ALPHA_THRESHOLD",
    "GRID_COLOURS",
    "LETTER_MM",
    "PAPER_SIZES",
    "GridStyle",
    "PageSpec",
    "PageTruth",
    "PulseTruth",
    "Rendered",
    "SegmentTruth",
    "SpecError",
    "random_spec",
    "render_page",
]
