"""The one catalogue of lead names, aliases, layouts and the labels of their cells.

Every stage that needs to know which lead is drawn where asks this module: the renderer (what to
draw), the layout finder (what it found), the benchmarks (what the truth is). A *layout* is a
base (``3x4``, ``6x2``, ``12x1``, ``single``) plus its rhythm strips, written ``3x4+II,V1,V5``;
its *cells* are the (strip, column) places a lead is printed in, strips top to bottom and the
rhythm strips last. A printed label ``-aVR`` is aVR drawn inverted (Cabrera's order).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

LEAD_NAMES: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)  # fmt: skip
PRECORDIAL: tuple[str, ...] = LEAD_NAMES[6:]
# Spellings seen in files and on paper (PTB-XL writes AVR) for the standard names.
LEAD_ALIASES: dict[str, str] = {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}

BASE_LAYOUTS: tuple[str, ...] = ("3x4", "6x2", "12x1", "single")
LEAD_ORDERS: tuple[str, ...] = ("standard", "cabrera")
# Limb leads in the first six positions of a layout ("-aVR": aVR drawn inverted).
LIMB_ORDERS: dict[str, tuple[str, ...]] = {
    "standard": ("I", "II", "III", "aVR", "aVL", "aVF"),
    "cabrera": ("aVL", "I", "-aVR", "II", "aVF", "III"),
}
# Each limb lead as a mix of leads I and II (Einthoven's and Goldberger's laws).
LIMB_MIX: dict[str, tuple[float, float]] = {
    "I": (1.0, 0.0),
    "II": (0.0, 1.0),
    "III": (-1.0, 1.0),
    "aVR": (-0.5, -0.5),
    "aVL": (1.0, -0.5),
    "aVF": (-0.5, 1.0),
}
DEFAULT_RHYTHM: tuple[str, ...] = ("II", "V1", "V5")  # the usual strips, in the usual order
SINGLE_LEAD = "II"  # a lone strip's lead when nothing says otherwise
N_COLUMNS: dict[str, int] = {"3x4": 4, "6x2": 2, "12x1": 1, "single": 1}
N_MAIN_STRIPS: dict[str, int] = {"3x4": 3, "6x2": 6, "12x1": 12, "single": 1}
MAX_RHYTHM: dict[str, int] = {"3x4": 3, "6x2": 1, "12x1": 0, "single": 1}

_LAYOUT_RE = re.compile(r"^(3x4|6x2|12x1|single)(?:\+([A-Za-z0-9]+(?:,[A-Za-z0-9]+)*))?$")


class LayoutError(ValueError):
    """The page's layout cannot be found or the requested one is not recognised."""


def normalise_lead(name: str) -> str:
    """The standard spelling of one lead name (``AVR`` becomes ``aVR``), whitespace stripped."""
    name = name.strip()
    return LEAD_ALIASES.get(name, name)


def normalise_lead_names(names: Iterable[str]) -> tuple[str, ...]:
    """:func:`normalise_lead` of each name."""
    return tuple(normalise_lead(n) for n in names)


@dataclass(frozen=True)
class LayoutName:
    """A layout as asked for: its ``base`` and its rhythm strips' leads (None: to be detected).

    For ``single`` the one "rhythm" lead is the strip's lead.
    """

    base: str
    rhythm: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        """``3x4+II,V1,V5``, ``6x2``, ``12x1``, ``single``: the form :func:`parse_layout` reads."""
        return layout_name(self.base, self.rhythm or ())


def layout_name(base: str, rhythm: tuple[str, ...]) -> str:
    """The name of a layout with these rhythm strips (12x1 and single strips carry none)."""
    if base in ("single", "12x1") or not rhythm:
        return base
    return f"{base}+{','.join(rhythm)}"


def parse_layout(layout: str) -> LayoutName:
    """``3x4``, ``3x4+II,V1,V5``, ``6x2+II``, ``12x1``, ``single+V5`` into its parts.

    Raises :class:`LayoutError` for an unknown base or lead, or too many rhythm leads.
    """
    m = _LAYOUT_RE.match(layout.replace(" ", ""))
    if m is None:
        raise LayoutError(
            f"unknown layout {layout!r}; use {', '.join(BASE_LAYOUTS)}, with rhythm leads as "
            "in 3x4+II,V1,V5"
        )
    base = m.group(1)
    if m.group(2) is None:
        return LayoutName(base, None)
    leads = tuple(normalise_lead(x.upper()) for x in m.group(2).split(","))
    bad = [x for x in leads if x not in LEAD_NAMES]
    if bad:
        raise LayoutError(f"unknown lead {bad[0]!r} in layout {layout!r}")
    if len(leads) > MAX_RHYTHM[base]:
        raise LayoutError(f"layout {base} takes at most {MAX_RHYTHM[base]} rhythm leads")
    return LayoutName(base, leads)


def cell_labels(base: str, order: str, rhythm: tuple[str, ...]) -> list[list[str]]:
    """The printed labels of each strip of a layout, rhythm strips last.

    ``order`` is a key of :data:`LIMB_ORDERS`; labels of inverted leads start with ``-``.
    ``rhythm`` are the rhythm strips' leads (3x4: 0-3, 6x2: 0-1; ignored by 12x1, whose every
    lead is a full strip); for ``single`` its first entry is the strip's lead (default
    :data:`SINGLE_LEAD`).
    """
    twelve = (*LIMB_ORDERS[order], *PRECORDIAL)
    if base == "3x4":
        main = [[twelve[r + 3 * c] for c in range(4)] for r in range(3)]
    elif base == "6x2":
        main = [[twelve[r], twelve[6 + r]] for r in range(6)]
    elif base == "12x1":
        return [[lead] for lead in twelve]
    else:
        return [[rhythm[0] if rhythm else SINGLE_LEAD]]
    return main + [[lead] for lead in rhythm]


def label_lead(label: str) -> str:
    """The lead a printed label shows (``-aVR`` shows aVR)."""
    return label.lstrip("-")


def label_inverted(label: str) -> bool:
    """Whether a printed label marks its lead drawn upside down (``-aVR``)."""
    return label.startswith("-")
