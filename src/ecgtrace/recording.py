"""Lead boxes to the recording: each box's samples read off its trace probability and placed
at their time; a lead drawn twice (a cell and a rhythm strip) made one; Einthoven's check.

Sample k of the recording lies at ``k / fs`` s; a box spanning ``t0_s`` .. ``t0_s +
duration_s`` fills its samples, NaN elsewhere (the lead was not plotted there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgtrace.calibration import Calibration, col_of_time, row_of_mv
from ecgtrace.digitization import LeadTrace
from ecgtrace.extract import LeadGeometry, extract_lead
from ecgtrace.grid import Grid
from ecgtrace.layout import LeadBox
from ecgtrace.leads import LEAD_NAMES
from ecgtrace.segment.box import BoxProbability

MAX_GAP_S = 0.05  # gaps in a trace up to this long are interpolated
JOIN_PX = 2.0  # cols after a boundary between two cells that the joining stroke fills
DISAGREE_MV = 0.2  # RMS between two drawings of one lead above which only the surer is kept
EINTHOVEN_MV = 0.1  # RMS of II - (I + III) above which the page gets a warning


@dataclass(frozen=True, eq=False)
class BoxTrace:
    """One lead box read: ``mv`` (n,) mV over the box's span at the recording's fs (NaN where
    not traced, inverted leads put upright) and its :class:`LeadTrace`."""

    mv: NDArray[np.float64]
    trace: LeadTrace


def trace_box(
    seg: BoxProbability,
    box: LeadBox,
    grid: Grid,
    calibration: Calibration,
    *,
    fs: float,
    joined: bool = False,
) -> BoxTrace:
    """One lead box's samples over its span and its :class:`LeadTrace`, from its trace
    probability ``seg``; ``joined`` tells whether another cell of the row ends where it
    starts."""
    prob, unet = seg.prob, seg.unet
    r0, c0 = seg.origin_row, seg.origin_col
    speed_mm_s, gain_mm_mv = calibration.speed_mm_s, calibration.gain_mm_mv
    geometry = LeadGeometry(
        px_per_mm_row=grid.px_per_mm_row,
        px_per_mm_col=grid.px_per_mm_col,
        t0_s=box.t0_s,
        col0=box.col0 - c0,
        duration_s=box.duration_s,
        speed_mm_s=speed_mm_s,
        gain_mm_mv=gain_mm_mv,
        baseline_row=box.baseline_row - r0,
    )
    sig = extract_lead(prob, geometry, fs=fs, max_gap_s=MAX_GAP_S)
    mv = -sig.mv if box.inverted else sig.mv
    # Where two cells of a row meet, the pen joins the last sample of one to the first of the
    # next: the first cols of the next cell hold that stroke, not the lead (the end of the
    # first cell is its own). Hold the value read just inside.
    edge = round(JOIN_PX / (speed_mm_s * grid.px_per_mm_col) * fs)
    if joined and 0 < edge < mv.size // 4:
        mv[:edge] = mv[edge]
    ok = np.isfinite(mv)
    coverage = float(ok.mean()) if mv.size else 0.0
    # The segmenter's belief along the path: where it read the samples.
    cols = col_of_time(
        sig.times_s,
        t0_s=box.t0_s,
        col0=box.col0 - c0,
        speed_mm_s=speed_mm_s,
        px_per_mm_col=grid.px_per_mm_col,
    )
    rows = row_of_mv(
        sig.mv,
        baseline_row=box.baseline_row - r0,
        gain_mm_mv=gain_mm_mv,
        px_per_mm_row=grid.px_per_mm_row,
    )
    ri = np.clip(np.round(rows[ok]).astype(np.int64), 0, unet.shape[0] - 1)
    ci = np.clip(np.round(cols[ok]).astype(np.int64), 0, unet.shape[1] - 1)
    belief = float(np.mean(unet[ri, ci])) if ri.size else 0.0
    warnings = []
    if coverage < 0.8:
        warnings.append(f"only {coverage:.0%} of the span traced")
    trace = LeadTrace(
        lead=box.lead,
        box=box.box,
        baseline_row=box.baseline_row,
        t0_s=box.t0_s,
        duration_s=box.duration_s,
        is_rhythm=box.is_rhythm,
        inverted=box.inverted,
        coverage=coverage,
        confidence=float(np.clip(coverage * belief, 0.0, 1.0)),
        path_row=rows + r0,
        path_col=cols + c0,
        warnings=tuple(warnings),
    )
    return BoxTrace(mv=mv, trace=trace)


def combine(
    drawings: list[tuple[NDArray[np.float64], float]],
) -> tuple[NDArray[np.float64], str | None]:
    """One lead drawn more than once (a cell and a rhythm strip), each (n,) mV on the same
    samples with its confidence, made one: the confidence-weighted mean where the drawings
    agree; where one differs from the surest by more than 0.2 mV RMS (offsets aside) over the
    samples both show, it is dropped there. Returns the samples and a warning (or None)."""
    stack = np.stack([d for d, _ in drawings])
    weights = np.array([max(w, 1e-3) for _, w in drawings])
    best = int(np.argmax(weights))
    use = np.isfinite(stack)
    warning = None
    for k in range(len(drawings)):
        both = use[k] & use[best]
        if k == best or both.sum() < 2:
            continue
        a, b = stack[best, both], stack[k, both]
        rms = float(np.sqrt(np.mean(((a - a.mean()) - (b - b.mean())) ** 2)))
        if rms > DISAGREE_MV:
            use[k] &= ~use[best]  # keep it only where the surest says nothing
            warning = f"its drawings differ by {rms:.2f} mV RMS; kept the surer one"
    w = np.where(use, weights[:, None], 0.0)
    total = w.sum(axis=0)
    summed = np.where(use, stack, 0.0) * w
    out = np.full(stack.shape[1], np.nan)
    np.divide(summed.sum(axis=0), total, out=out, where=total > 0)
    return out, warning


def einthoven_rms(p_signal: NDArray[np.float64], fs: float) -> float | None:
    """RMS (mV) of II - (I + III) over the samples where all three were read (at least 0.5 s);
    None when too few."""
    i, ii, iii = (p_signal[:, LEAD_NAMES.index(n)] for n in ("I", "II", "III"))
    ok = np.isfinite(i) & np.isfinite(ii) & np.isfinite(iii)
    if ok.sum() < 0.5 * fs:
        return None
    resid = ii[ok] - (i[ok] + iii[ok])
    return float(np.sqrt(np.mean((resid - resid.mean()) ** 2)))


def assemble(
    boxes: tuple[LeadBox, ...], read: list[BoxTrace], *, n_samples: int, fs: float
) -> tuple[NDArray[np.float64], list[str]]:
    """The recording (n_samples, 12) mV in :data:`LEAD_NAMES` order from every box read, and
    the warnings (leads whose drawings disagree; Einthoven's law broken)."""
    drawings: dict[str, list[tuple[NDArray[np.float64], float]]] = {}
    for box, got in zip(boxes, read, strict=True):
        full = np.full(n_samples, np.nan)
        i0 = round(box.t0_s * fs)
        k0, k1 = max(i0, 0), min(i0 + got.mv.size, n_samples)
        if k1 > k0:
            full[k0:k1] = got.mv[k0 - i0 : k1 - i0]
        drawings.setdefault(box.lead, []).append((full, got.trace.confidence))
    p_signal = np.full((n_samples, len(LEAD_NAMES)), np.nan)
    warnings = []
    for lead, parts in drawings.items():
        p_signal[:, LEAD_NAMES.index(lead)], warning = combine(parts)
        if warning:
            warnings.append(f"{lead}: {warning}")
    rms = einthoven_rms(p_signal, fs)
    if rms is not None and rms > EINTHOVEN_MV:
        warnings.append(f"Einthoven's law off by {rms:.2f} mV RMS (II - (I + III))")
    return p_signal, warnings
