"""What a page looks like: layout, paper settings, grid and ink styles.

All lengths are in mm on paper; colours are RGB uint8 triples.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

from ecgtrace.leads import (
    BASE_LAYOUTS,
    DEFAULT_RHYTHM,
    LEAD_NAMES,
    LEAD_ORDERS,
    MAX_RHYTHM,
    SINGLE_LEAD,
    cell_labels,
)

Colour = tuple[int, int, int]

LETTER_MM: tuple[float, float] = (215.9, 279.4)  # (height, width), landscape
A4_MM: tuple[float, float] = (210.0, 297.0)
PAPER_SIZES: dict[str, tuple[float, float]] = {"letter": LETTER_MM, "a4": A4_MM}

# The fonts a page may be labelled in, by name, and OpenCV's face for each.
FONT_FACES: dict[str, int] = {
    "simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "duplex": cv2.FONT_HERSHEY_DUPLEX,
    "complex": cv2.FONT_HERSHEY_COMPLEX,
    "triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "plain": cv2.FONT_HERSHEY_PLAIN,
    "italic": cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
}
FONTS: tuple[str, ...] = tuple(FONT_FACES)
# How often random_spec draws each base layout (relative weights).
_LAYOUT_WEIGHTS: dict[str, float] = {"3x4": 0.45, "6x2": 0.2, "12x1": 0.2, "single": 0.15}

# Colours of the grid styles most often seen on paper (minor, major).
GRID_COLOURS: dict[str, tuple[Colour, Colour]] = {
    "pink": ((250, 200, 210), (240, 140, 160)),
    "red": ((245, 170, 170), (225, 80, 80)),
    "orange": ((250, 205, 160), (240, 150, 80)),
    "green": ((190, 230, 190), (110, 190, 120)),
    "blue": ((190, 210, 245), (110, 150, 220)),
    "grey": ((215, 215, 215), (160, 160, 160)),
}


class SpecError(ValueError):
    """A page specification that cannot be rendered."""


@dataclass(frozen=True)
class GridStyle:
    """The printed grid: 1 mm minor and 5 mm major lines."""

    style: Literal["solid", "dotted", "none"] = "solid"
    minor_colour: Colour = GRID_COLOURS["pink"][0]
    major_colour: Colour = GRID_COLOURS["pink"][1]
    minor_width_mm: float = 0.08
    major_width_mm: float = 0.2
    paper_colour: Colour = (255, 255, 255)

    @classmethod
    def named(cls, name: str, **options: object) -> GridStyle:
        """A grid in one of :data:`GRID_COLOURS` (``pink``, ``red``, ...), other fields as given."""
        if name not in GRID_COLOURS:
            raise SpecError(f"unknown grid colour {name!r}; choose from {sorted(GRID_COLOURS)}")
        minor, major = GRID_COLOURS[name]
        return replace(cls(minor_colour=minor, major_colour=major), **options)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PageSpec:
    """Everything that decides how a 12-lead signal is drawn on a page.

    ``layout`` is one of ``3x4`` (with ``rhythm_leads``, 0-3), ``6x2`` (0-1 rhythm leads), ``12x1``
    or ``single`` (one strip of ``single_lead``). ``lead_order="cabrera"`` replaces the limb leads
    I, II, III, aVR, aVL, aVF by aVL, I, -aVR, II, aVF, III.
    ``page_mm`` is (height, width) in mm, or None to fit the page to its content.
    ``row_spacing_mm`` None spreads the rows over the page. ``overlap`` in [0, 1] tightens the row
    spacing (down to 40 % at 1) so that large complexes cross into the neighbouring rows.
    """

    layout: str = "3x4"
    rhythm_leads: tuple[str, ...] = DEFAULT_RHYTHM[:1]
    lead_order: str = "standard"
    single_lead: str = SINGLE_LEAD
    duration_s: float | None = None
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    dpi: float = 200.0
    page_mm: tuple[float, float] | None = LETTER_MM
    margin_mm: float = 10.0
    header_mm: float = 15.0
    header_text: str | None = None
    row_spacing_mm: float | None = None
    overlap: float = 0.0
    grid: GridStyle = field(default_factory=GridStyle)
    trace_colour: Colour = (0, 0, 0)
    trace_width_mm: float = 0.3
    labels: bool = True
    font: str = "simplex"
    font_mm: float = 3.5
    separators: bool = True
    calibration: Literal["left", "right", "none"] = "left"

    @property
    def px_per_mm(self) -> float:
        return self.dpi / 25.4

    @property
    def cell_labels(self) -> list[list[str]]:
        """The printed labels of each strip of the layout, rhythm strips last (see
        :func:`ecgtrace.leads.cell_labels`); 12x1 and single strips ignore ``rhythm_leads``."""
        rhythm = (self.single_lead,) if self.layout == "single" else self.rhythm_leads
        return cell_labels(self.layout, self.lead_order, rhythm)

    def validate(self) -> None:
        """Raise :class:`SpecError` with a one-line reason if the spec cannot be drawn."""
        if self.layout not in BASE_LAYOUTS:
            raise SpecError(
                f"unknown layout {self.layout!r}; choose from {', '.join(BASE_LAYOUTS)}"
            )
        if not self.dpi > 0:
            raise SpecError(f"dpi must be > 0, got {self.dpi}")
        if self.dpi > 1200:
            raise SpecError(f"dpi {self.dpi} is above the supported 1200")
        if not (self.speed_mm_s > 0 and self.gain_mm_mv > 0):
            raise SpecError("paper speed (mm/s) and gain (mm/mV) must be > 0")
        if self.lead_order not in LEAD_ORDERS:
            raise SpecError(
                f"unknown lead order {self.lead_order!r}; choose {' or '.join(LEAD_ORDERS)}"
            )
        # Only 3x4 and 6x2 draw rhythm strips: the others ignore rhythm_leads.
        if self.layout in ("3x4", "6x2") and len(self.rhythm_leads) > MAX_RHYTHM[self.layout]:
            raise SpecError(
                f"layout {self.layout} takes at most {MAX_RHYTHM[self.layout]} rhythm strips"
            )
        for lead in (*self.rhythm_leads, self.single_lead):
            if lead not in LEAD_NAMES:
                raise SpecError(f"unknown lead {lead!r}; leads are {', '.join(LEAD_NAMES)}")
        if not 0.0 <= self.overlap <= 1.0:
            raise SpecError(f"overlap must be in [0, 1], got {self.overlap}")
        if self.font not in FONTS:
            raise SpecError(f"unknown font {self.font!r}; choose from {', '.join(FONTS)}")
        if self.trace_width_mm <= 0 or self.margin_mm < 0 or self.header_mm < 0:
            raise SpecError("trace width must be > 0 and margins >= 0 (mm)")
        if self.page_mm is not None and min(self.page_mm) <= 0:
            raise SpecError(f"page size must be > 0 mm, got {self.page_mm}")
        if self.calibration not in ("left", "right", "none"):
            raise SpecError(f"calibration must be left, right or none, got {self.calibration!r}")
        if self.grid.style not in ("solid", "dotted", "none"):
            raise SpecError(f"grid style must be solid, dotted or none, got {self.grid.style!r}")


def random_spec(
    rng: int | np.random.Generator | None = None,
    *,
    overlap: float | None = None,
    dpi: tuple[float, float] = (100.0, 300.0),
    layouts: tuple[str, ...] = BASE_LAYOUTS,
) -> PageSpec:
    """A page spec with every style choice drawn at random (for datasets).

    ``overlap`` None draws the overlap knob too; ``dpi`` is the (low, high) range.
    """
    rng = np.random.default_rng(rng)
    weights = np.array([_LAYOUT_WEIGHTS[k] for k in layouts])
    layout = str(rng.choice(layouts, p=weights / weights.sum()))
    rhythm: tuple[str, ...] = ()
    if layout == "3x4":
        n_rhythm = rng.integers(0, len(DEFAULT_RHYTHM) + 1)  # some of the usual strips
        rhythm = tuple(str(x) for x in rng.choice(list(DEFAULT_RHYTHM), n_rhythm, False))
    elif layout == "6x2" and rng.random() < 0.5:
        rhythm = DEFAULT_RHYTHM[:1]
    colour = str(rng.choice(list(GRID_COLOURS)))
    style = str(rng.choice(["solid", "dotted", "none"], p=[0.75, 0.15, 0.1]))
    tint = rng.uniform(0, 12, size=3)
    grid = GridStyle.named(
        colour,
        style=style,
        minor_width_mm=float(rng.uniform(0.04, 0.15)),
        major_width_mm=float(rng.uniform(0.12, 0.35)),
        paper_colour=tuple(int(255 - t) for t in tint),
    )
    ink = [(0, 0, 0), (30, 30, 30), (10, 20, 90), (60, 60, 60)][rng.integers(4)]
    return PageSpec(
        layout=layout,
        rhythm_leads=rhythm,
        lead_order="cabrera" if rng.random() < 0.1 else "standard",
        single_lead=str(rng.choice(LEAD_NAMES)),
        speed_mm_s=25.0 if rng.random() < 0.85 else 50.0,
        gain_mm_mv=float(rng.choice([5.0, 10.0, 20.0], p=[0.1, 0.7, 0.2])),
        dpi=float(rng.uniform(*dpi)),
        page_mm=None if layout == "single" else (LETTER_MM if rng.random() < 0.5 else A4_MM),
        margin_mm=float(rng.uniform(5, 15)),
        header_mm=float(rng.uniform(0, 20)) if rng.random() < 0.7 else 0.0,
        overlap=float(rng.uniform(0, 1)) if overlap is None else overlap,
        grid=grid,
        trace_colour=ink,
        trace_width_mm=float(rng.uniform(0.15, 0.5)),
        labels=bool(rng.random() < 0.9),
        font=str(rng.choice(FONTS)),
        font_mm=float(rng.uniform(2.5, 5.0)),
        separators=bool(rng.random() < 0.5),
        calibration=str(rng.choice(["left", "right", "none"], p=[0.7, 0.1, 0.2])),  # type: ignore[arg-type]
    )
