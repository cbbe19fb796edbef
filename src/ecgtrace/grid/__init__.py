"""ECG paper grid: pitch (px/mm along rows and cols), rotation and phase, from the image alone.

The method, in four steps (no DPI or paper size is needed):

1. **Evidence.** A (rows, cols) float32 image that is high on grid lines and low elsewhere. Each
   channel's darkness is measured against a local paper estimate (so shading, stains and colour
   casts drop out). On a coloured grid the evidence is the darkness along the grid's own chroma
   direction (found by a PCA of the chroma of the non-paper pixels), which leaves black or grey
   traces and text at zero; on a grey or binarised grid it is the plain darkness, clipped near
   the grid's level so that traces count no more than grid lines.
2. **Rotation.** The angle that makes the projection profiles of the evidence (along rows for the
   horizontal lines, along cols for the vertical ones) sharpest (largest sum of squares): a coarse
   search over +-12 deg on a small copy, then finer searches on a larger copy, to ~0.01 deg.
3. **Pitch.** The evidence is deskewed at full resolution and projected. Per axis, the spectrum of
   the profile is a comb of harmonics of the 5 mm major pitch; the strongest peak and the lowest
   fundamental all of whose harmonics below it are present give the pattern's period, and the
   harmonics at multiples of 5 standing out (the 4 weaker minor lines between two majors) tell a
   major period from a minor one. The fundamental is refined from the harmonics present (a
   weighted least-squares fit of peak frequencies against harmonic number, in rounds that
   double the highest harmonic used), to well under 0.5 %.
4. **Checks.** px/mm must lie in [2, 50]; rows and cols must agree within a factor of 1.25 (else
   the ambiguous axis takes the reading that agrees); the confidence comes from the harmonics'
   signal-to-noise ratio and how many were found.

Conventions: ``rotation_deg`` is counter-clockwise as displayed (the renderer's: after
``degrade.rotate(page, degrees=d)`` the lines tilt by ``+d`` and this returns ``~d``). The
*deskewed frame* is the image turned by ``-rotation_deg`` about its centre ``((rows - 1) / 2,
(cols - 1) / 2)``, same shape; ``phase_row`` / ``phase_col`` are the positions (px, in
``[0, 5 * px_per_mm)``) of the major lines nearest that frame's origin: major horizontal lines lie
at rows ``phase_row + k * 5 * px_per_mm_row`` of the deskewed frame, vertical ones likewise.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ecgtrace.grid.axes import axis_confidence, reconcile, refit_weaker
from ecgtrace.grid.evidence import deskew, estimate_rotation, grid_evidence
from ecgtrace.grid.pitch import MAJOR_MM, MINOR_MM, AxisFit, fit_axis

__all__ = [
    "MAJOR_MM",
    "MAX_PEN_MM",
    "MINOR_MM",
    "NO_GRID",
    "AxisFit",
    "Grid",
    "deskew",
    "detect_grid",
    "estimate_rotation",
    "fit_axis",
    "grid_evidence",
    "settle_pitch",
]

log = logging.getLogger(__name__)

# Rows and cols read within 3 % of each other: two independent axes that agree.
AGREE_LOG = 0.03
# Beyond a factor 1.25 apart the two readings cannot both be one paper's.
PLAUSIBLE_LOG = math.log(1.25)


@dataclass(frozen=True)
class Grid:
    """The printed grid of an ECG image.

    ``px_per_mm_row`` is the vertical pitch (amplitude axis), ``px_per_mm_col`` the horizontal
    pitch (time axis), both px/mm; ``rotation_deg`` is counter-clockwise as displayed;
    ``phase_row`` / ``phase_col`` (px) place the major lines in the deskewed frame (see the module
    docstring); ``confidence`` is in [0, 1]; ``found`` is False when no grid was seen (then the
    other fields are best guesses or NaN). ``minor_visible`` tells whether the 1 mm lines were
    seen besides the 5 mm ones; ``view`` where it was seen (``image``, or the ``equalised`` or
    ``enlarged`` view of :func:`ecgtrace.grid.faint.detect_faint_grid`).
    """

    px_per_mm_row: float
    px_per_mm_col: float
    rotation_deg: float
    phase_row: float
    phase_col: float
    confidence: float
    found: bool
    minor_visible: bool = False
    view: str = "image"  # where it was seen: the image, or its "equalised" or "enlarged" view

    @property
    def px_per_mm(self) -> float:
        """The mean of the two pitches, px/mm."""
        return 0.5 * (self.px_per_mm_row + self.px_per_mm_col)

    def as_dict(self) -> dict[str, float | bool | str]:
        return {
            "found": self.found,
            "px_per_mm_row": self.px_per_mm_row,
            "px_per_mm_col": self.px_per_mm_col,
            "rotation_deg": self.rotation_deg,
            "phase_row": self.phase_row,
            "phase_col": self.phase_col,
            "confidence": self.confidence,
            "minor_visible": self.minor_visible,
            "view": self.view,
        }


NO_GRID = Grid(
    px_per_mm_row=math.nan,
    px_per_mm_col=math.nan,
    rotation_deg=0.0,
    phase_row=math.nan,
    phase_col=math.nan,
    confidence=0.0,
    found=False,
)


def detect_grid(
    image: NDArray[np.uint8],
    *,
    max_rotation_deg: float = 12.0,
    min_px_per_mm: float = 2.0,
    max_px_per_mm: float = 50.0,
    min_confidence: float = 0.2,
) -> Grid:
    """Find the ECG grid in an RGB (rows, cols, 3) or grey (rows, cols) uint8 image.

    Returns a :class:`Grid` (px/mm along rows and cols, rotation in degrees counter-clockwise,
    phases in px in the deskewed frame, confidence); ``found`` is False, with a low confidence,
    when no grid is seen. Never raises on a valid image array.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.shape[0] < 16 or img.shape[1] < 16:
        return NO_GRID
    ev, coloured = grid_evidence(img)
    if not np.any(ev > 0):
        return NO_GRID
    angle = estimate_rotation(ev, max_deg=max_rotation_deg)
    level = deskew(ev, angle)
    lo, hi = min_px_per_mm, max_px_per_mm
    profile_row = level.sum(axis=1, dtype=np.float64)
    profile_col = level.sum(axis=0, dtype=np.float64)
    fit_row, fit_col = reconcile(
        fit_axis(profile_row, min_px_per_mm=lo, max_px_per_mm=hi),
        fit_axis(profile_col, min_px_per_mm=lo, max_px_per_mm=hi),
    )
    # Two independent axes that agree are the strongest sign of a real grid (judged before
    # the refit below, which pulls the weaker axis towards the stronger one).
    agree = (
        fit_row is not None
        and fit_col is not None
        and abs(math.log(fit_row.px_per_mm / fit_col.px_per_mm)) < AGREE_LOG
    )
    fit_row, fit_col = refit_weaker(
        fit_row, fit_col, profile_row, profile_col, min_px_per_mm=lo, max_px_per_mm=hi
    )
    conf_row, conf_col = axis_confidence(fit_row), axis_confidence(fit_col)
    log.debug(
        "grid: angle %.3f deg, rows %s, cols %s, coloured %s", angle, fit_row, fit_col, coloured
    )
    if fit_row is None and fit_col is None:
        return replace(NO_GRID, rotation_deg=angle)
    if fit_row is None or fit_col is None:
        one = fit_row or fit_col
        assert one is not None
        # One axis only: its pitch for both, and half the trust.
        conf = 0.5 * max(conf_row, conf_col)
        return Grid(
            px_per_mm_row=one.px_per_mm,
            px_per_mm_col=one.px_per_mm,
            rotation_deg=angle,
            phase_row=fit_row.phase_px if fit_row else math.nan,
            phase_col=fit_col.phase_px if fit_col else math.nan,
            confidence=conf,
            found=conf >= min_confidence,
            minor_visible=one.major,
        )
    off = abs(math.log(fit_row.px_per_mm / fit_col.px_per_mm))
    base = 0.5 * (conf_row + conf_col)
    conf = math.sqrt(base) if agree else base * (0.6 if off < PLAUSIBLE_LOG else 0.2)
    conf = float(np.clip(conf, 0.0, 1.0))
    return Grid(
        px_per_mm_row=fit_row.px_per_mm,
        px_per_mm_col=fit_col.px_per_mm,
        rotation_deg=angle,
        phase_row=fit_row.phase_px,
        phase_col=fit_col.phase_px,
        confidence=conf,
        found=conf >= min_confidence,
        minor_visible=fit_row.major or fit_col.major,
    )


# ECG pens draw 0.1-0.6 mm, a scan's blur widens them to ~1 mm (0.93 mm seen on the shared
# scans); a trace wider than this means a misread pitch.
MAX_PEN_MM = 1.1


def settle_pitch(grid: Grid, *, stroke_px: float) -> Grid:
    """Check a grid reading against the trace's pen width (px, across a flat stretch).

    Where only one kind of line is visible, 1 mm lines can pass for 5 mm ones: the pitch then
    reads 5x too small and the pen looks over ``MAX_PEN_MM`` wide. If 5x the pitch makes the pen
    plausible, that reading is returned (and logged); otherwise ``grid`` unchanged.
    """
    if not grid.found or not stroke_px > 0:
        return grid
    pen_mm = stroke_px / grid.px_per_mm_row
    if pen_mm <= MAX_PEN_MM or pen_mm / MAJOR_MM > MAX_PEN_MM:
        return grid
    factor = MAJOR_MM / MINOR_MM
    log.info(
        "pen %.2f mm wide at %.2f px/mm: the lines read as 5 mm apart are 1 mm apart; pitch x%g",
        pen_mm, grid.px_per_mm_row, factor,
    )  # fmt: skip
    return replace(
        grid,
        px_per_mm_row=grid.px_per_mm_row * factor,
        px_per_mm_col=grid.px_per_mm_col * factor,
        minor_visible=False,
    )
