"""A digitized page to disk: WFDB record, CSV, JSON summary and an overlay PNG.

Every file is written atomically (a temporary file, then a rename); :func:`write_outputs`
writes a chosen set for one page all-or-nothing, so that a batch run can take the presence of
:func:`expected_outputs` as "done".
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ecgtrace import __version__
from ecgtrace._arrays import CV_SHIFT, cv_points
from ecgtrace.io.files import atomic_write_bytes, encode_json, encode_png, write_json, write_png
from ecgtrace.io.wfdb import check_record_name, encode_record, write_record

if TYPE_CHECKING:
    from ecgtrace.digitization import Digitization, LeadTrace

__all__ = [
    "FORMATS",
    "LEAD_COLOURS",
    "draw_overlay",
    "expected_outputs",
    "summary",
    "write_csv",
    "write_json_summary",
    "write_outputs",
    "write_png",
    "write_wfdb",
]

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("wfdb", "csv", "json", "overlay")

# RGB, one per lead: saturated and mid-dark so that they stand out from the faded page (grey
# ink, pale pink/red/green/blue grid lines) and from each other; no grey or black, which the
# faded original trace already is.
LEAD_COLOURS: dict[str, tuple[int, int, int]] = {
    "I": (0, 84, 214),  # blue
    "II": (230, 110, 0),  # orange
    "III": (0, 150, 50),  # green
    "aVR": (140, 0, 180),  # purple
    "aVL": (0, 160, 170),  # teal
    "aVF": (200, 0, 120),  # magenta
    "V1": (150, 90, 0),  # brown
    "V2": (0, 30, 120),  # navy
    "V3": (120, 170, 0),  # olive
    "V4": (220, 0, 30),  # red
    "V5": (0, 120, 120),  # dark cyan
    "V6": (210, 60, 230),  # violet
}
_OTHER_COLOUR = (90, 60, 160)  # a lead name outside the twelve
_LEGEND_COLOUR = (40, 40, 40)
_PEN_MM = 0.3
_LABEL_MM = 3.0  # cap height of the lead names
_HERSHEY_CAP_PX = 22.0  # FONT_HERSHEY_SIMPLEX's cap height at fontScale 1


# ---- WFDB --------------------------------------------------------------------------------------


def _comments(dig: Digitization) -> list[str]:
    lay = dig.layout
    return [
        f"ecgtrace {__version__} digitization ({dig.method})",
        f"source: {dig.source} page {dig.page}",
        f"layout: {lay.name} ({lay.lead_order}); {dig.speed_mm_s:g} mm/s ({dig.speed_from}); "
        f"{dig.gain_mm_mv:g} mm/mV ({dig.gain_from})",
        "NaN (invalid samples): the lead was not plotted at that time",
    ]


def write_wfdb(
    dig: Digitization, directory: str | os.PathLike[str], record_name: str
) -> list[Path]:
    """Write ``<record_name>.hea`` + ``.dat`` in ``directory``: the 12 leads in mV at ``dig.fs``,
    format 16 at 1 µV, NaN as WFDB invalid samples, source and layout as header comments.
    Returns ``[hea, dat]``."""
    return write_record(
        directory,
        record_name,
        dig.p_signal,
        fs=dig.fs,
        sig_name=dig.sig_name,
        units=dig.units,
        comments=_comments(dig),
    )


def _encode_wfdb(dig: Digitization, record_name: str) -> dict[str, bytes]:
    return encode_record(
        record_name,
        dig.p_signal,
        fs=dig.fs,
        sig_name=dig.sig_name,
        units=dig.units,
        comments=_comments(dig),
    )


# ---- CSV ---------------------------------------------------------------------------------------


def _time_decimals(fs: float) -> int:
    """Decimals that write every ``k / fs`` exactly (3 at 500 Hz), or to 1/1000 of a sample."""
    for d in range(3, 10):
        step = 10.0**d / fs
        if abs(step - round(step)) < 1e-9 * max(step, 1.0):
            return d
    return max(3, math.ceil(math.log10(fs)) + 3)


def _column(values: NDArray[np.float64], fmt: str) -> list[str]:
    """Formatted cells of one column, empty where NaN; rounded first so there is no '-0.0000'."""
    decimals = int(fmt[2:-1])
    rounded = np.round(values, decimals) + 0.0  # -0.0 + 0.0 is 0.0
    return ["" if math.isnan(v) else fmt % v for v in rounded.tolist()]


def encode_csv(dig: Digitization) -> bytes:
    """``time_s,I,...,V6`` then one row per sample: time (s, exact for the usual rates) and mV
    to 4 decimals (0.1 µV), an empty cell where a lead was not plotted."""
    columns = [_column(dig.times_s, f"%.{_time_decimals(dig.fs)}f")]
    columns += [_column(dig.p_signal[:, j], "%.4f") for j in range(dig.p_signal.shape[1])]
    buf = io.StringIO()
    buf.write(",".join(["time_s", *dig.sig_name]) + "\n")
    for row in zip(*columns, strict=True):
        buf.write(",".join(row) + "\n")
    return buf.getvalue().encode()


def write_csv(dig: Digitization, path: str | os.PathLike[str]) -> Path:
    """Write the samples as CSV (see :func:`encode_csv`), atomically."""
    return atomic_write_bytes(path, encode_csv(dig))


# ---- JSON --------------------------------------------------------------------------------------


def _lead(trace: LeadTrace) -> dict[str, Any]:
    b = trace.box
    return {
        "lead": trace.lead,
        "t0_s": float(trace.t0_s),
        "t1_s": float(trace.t0_s + trace.duration_s),
        "box_px": {
            "top": float(b.top),
            "left": float(b.left),
            "bottom": float(b.bottom),
            "right": float(b.right),
        },
        "baseline_row_px": float(trace.baseline_row),
        "is_rhythm": bool(trace.is_rhythm),
        "inverted": bool(trace.inverted),
        "coverage": float(trace.coverage),
        "confidence": float(trace.confidence),
        "warnings": list(trace.warnings),
    }


def summary(dig: Digitization) -> dict[str, Any]:
    """The page's digitization as a JSON-able dict: source, sampling, layout, grid, calibration,
    confidences, warnings, stage times (s) and one entry per lead box (``leads``: its lead, time
    span ``t0_s``..``t1_s``, box and baseline row in px of the deskewed page, coverage in [0, 1]
    of the span's samples traced, confidence in [0, 1])."""
    lay, grid, cal = dig.layout, dig.grid, dig.calibration
    return {
        "source": dig.source,
        "page": int(dig.page),
        "method": dig.method,
        "ecgtrace_version": __version__,
        "fs_hz": float(dig.fs),
        "n_samples": dig.n_samples,
        "duration_s": float(dig.duration_s),
        "units": dig.units,
        "sig_name": list(dig.sig_name),
        "layout": lay.name,
        "lead_order": lay.lead_order,
        "rhythm_leads": list(lay.rhythm_leads),
        "pulse_side": lay.pulse_side,
        "baseline_from": lay.baseline_from,
        "grid": {
            "found": bool(grid.found),
            "px_per_mm_row": float(grid.px_per_mm_row),
            "px_per_mm_col": float(grid.px_per_mm_col),
            "rotation_deg": float(grid.rotation_deg),
            "confidence": float(grid.confidence),
            "minor_visible": bool(grid.minor_visible),
            "view": grid.view,
        },
        "rectification": None if dig.rectification is None else dig.rectification.as_dict(),
        "speed_mm_s": float(dig.speed_mm_s),
        "speed_from": dig.speed_from,
        "gain_mm_mv": float(dig.gain_mm_mv),
        "gain_from": dig.gain_from,
        "pulse_gain_mm_mv": None if cal.pulse_gain_mm_mv is None else float(cal.pulse_gain_mm_mv),
        "gain_agrees": None if cal.gain_agrees is None else bool(cal.gain_agrees),
        "mean_confidence": float(dig.mean_confidence),
        "lead_confidence": {n: float(dig.lead_confidence(n)) for n in dig.sig_name},
        "warnings": list(dig.warnings),
        "times_s": {
            f.name.removesuffix("_s"): float(getattr(dig.times, f.name))
            for f in dataclasses.fields(dig.times)
        },
        "leads": [_lead(t) for t in dig.traces],
    }


def encode_json_summary(dig: Digitization) -> bytes:
    """:func:`summary` as indented, strict JSON (NaN as null), as :func:`write_json` writes it."""
    return encode_json(summary(dig))


def write_json_summary(dig: Digitization, path: str | os.PathLike[str]) -> Path:
    """Write :func:`summary` as strict JSON (NaN as null), atomically."""
    return write_json(path, summary(dig))


# ---- overlay -----------------------------------------------------------------------------------


def _runs(
    rows: NDArray[np.float64], cols: NDArray[np.float64], max_jump_px: float
) -> list[NDArray[np.float64]]:
    """The path cut into runs of >= 2 points, (m, 2) (row, col) px each, broken at NaN and
    where it jumps: back in time or further than ``max_jump_px`` between two samples."""
    pts = np.stack([rows, cols], axis=1)
    ok = np.all(np.isfinite(pts), axis=1)
    step = np.diff(pts, axis=0)
    dc = np.abs(step[:, 1])
    typical = float(np.nanmedian(dc)) if dc.size and np.isfinite(dc).any() else 0.0
    joined = (
        ok[:-1]
        & ok[1:]
        & (step[:, 1] >= 0)
        & (step[:, 1] <= 3.0 * typical + 1.0)
        & (np.abs(step[:, 0]) <= max_jump_px)
    )
    # A run starts at every point not joined to the one before it.
    starts = np.flatnonzero(np.concatenate([[True], ~joined]))
    ends = np.concatenate([starts[1:], [len(pts)]])
    return [pts[s:e] for s, e in zip(starts, ends, strict=True) if e - s >= 2 and ok[s]]


def _font_scale(height_px: float) -> float:
    return max(0.3, height_px / _HERSHEY_CAP_PX)


def draw_overlay(dig: Digitization) -> NDArray[np.uint8]:
    """The deskewed page, faded halfway to white, with every lead box's traced path drawn in
    the lead's colour (:data:`LEAD_COLOURS`; pen ~0.3 mm, anti-aliased, sub-pixel), the box
    outlined thinly and the lead named at its top-left, and a legend line (layout, paper speed,
    gain) at the top. Returns (rows, cols, 3) uint8 RGB, the shape of ``dig.image``."""
    page = np.asarray(dig.image)
    out = np.ascontiguousarray((page.astype(np.uint16) + 256) // 2, dtype=np.uint8)
    ppm = float(dig.grid.px_per_mm)
    if not (math.isfinite(ppm) and ppm > 0):
        ppm = out.shape[1] / 280.0  # no pitch: as if the page were ~ a landscape A4 sheet wide
    pen = max(1, round(_PEN_MM * ppm))
    label_scale = _font_scale(_LABEL_MM * ppm)
    label_thick = max(1, round(label_scale * 1.5))
    scale = 1 << CV_SHIFT
    for trace in dig.traces:
        colour = LEAD_COLOURS.get(trace.lead, _OTHER_COLOUR)
        b = trace.box
        corner0 = (round(b.left * scale), round(b.top * scale))
        corner1 = (round((b.right - 1) * scale), round((b.bottom - 1) * scale))
        cv2.rectangle(out, corner0, corner1, colour, 1, cv2.LINE_AA, CV_SHIFT)
        runs = _runs(
            np.asarray(trace.path_row, dtype=np.float64),
            np.asarray(trace.path_col, dtype=np.float64),
            # Steep QRS strokes move tens of px per sample; only a step taller than the band
            # (onto another trace or a stray mark) is a jump not to join.
            max(b.height, 10.0 * ppm),
        )
        if runs:
            polys = [cv_points(r) for r in runs]
            cv2.polylines(out, polys, False, colour, pen, cv2.LINE_AA, CV_SHIFT)
        name = f"-{trace.lead}" if trace.inverted else trace.lead
        origin = (round(b.left + 0.5 * ppm), round(b.top + 0.5 * ppm + _LABEL_MM * ppm))
        cv2.putText(
            out, name, origin, cv2.FONT_HERSHEY_SIMPLEX, label_scale, colour, label_thick,
            cv2.LINE_AA,
        )  # fmt: skip
    legend = (
        f"{dig.layout.name}  {dig.speed_mm_s:g} mm/s ({dig.speed_from})  "
        f"{dig.gain_mm_mv:g} mm/mV ({dig.gain_from})  {dig.method}"
    )
    legend_scale = _font_scale(2.0 * ppm)
    legend_thick = max(1, round(legend_scale * 1.2))
    (w, h), base = cv2.getTextSize(legend, cv2.FONT_HERSHEY_SIMPLEX, legend_scale, legend_thick)
    x, y = round(ppm), round(ppm) + h
    cv2.rectangle(out, (x - 2, y - h - 2), (x + w + 2, y + base + 2), (255, 255, 255), -1)
    cv2.putText(
        out, legend, (x, y), cv2.FONT_HERSHEY_SIMPLEX, legend_scale, _LEGEND_COLOUR,
        legend_thick, cv2.LINE_AA,
    )  # fmt: skip
    return out


# ---- one page, all formats ---------------------------------------------------------------------


def _formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown output format(s) {', '.join(unknown)}; use {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in chosen)


def _names(stem: str, fmt: str) -> list[str]:
    if fmt == "wfdb":
        return [f"{stem}.hea", f"{stem}.dat"]
    if fmt == "overlay":
        return [f"{stem}.overlay.png"]
    return [f"{stem}.{fmt}"]


def expected_outputs(
    directory: str | os.PathLike[str], stem: str, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """The files :func:`write_outputs` writes for ``stem`` in ``directory``, in its order."""
    folder = Path(directory)
    return [folder / n for f in _formats(formats) for n in _names(stem, f)]


def write_outputs(
    dig: Digitization,
    directory: str | os.PathLike[str],
    stem: str,
    *,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Write ``<stem>.hea``/``.dat`` (WFDB), ``<stem>.csv``, ``<stem>.json`` and
    ``<stem>.overlay.png`` in ``directory`` (those of ``formats``); return
    :func:`expected_outputs`.

    All or nothing: everything is encoded in memory first; if a write then fails, the files
    this call wrote are removed and the error is raised. The JSON summary is written last.
    """
    chosen = _formats(formats)
    if "wfdb" in chosen:
        check_record_name(stem)
    folder = Path(directory)
    blobs: dict[str, bytes] = {}
    if "wfdb" in chosen:
        blobs.update(_encode_wfdb(dig, stem))  # .dat before the .hea that names it
    if "csv" in chosen:
        blobs[f"{stem}.csv"] = encode_csv(dig)
    if "overlay" in chosen:
        blobs[f"{stem}.overlay.png"] = encode_png(draw_overlay(dig))
    if "json" in chosen:
        blobs[f"{stem}.json"] = encode_json_summary(dig)
    written: list[Path] = []
    try:
        for name, data in blobs.items():
            written.append(atomic_write_bytes(folder / name, data))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        log.debug("removed %d partial outputs of %s", len(written), folder / stem)
        raise
    return expected_outputs(folder, stem, chosen)
