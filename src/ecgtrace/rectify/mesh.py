"""The non-rigid rest of a photo's warp (curl, folds, lens distortion), taken out by the grid.

After the homography and the deskew the grid should be straight and evenly spaced; where the
paper curls or the lens bends, its lines sit off their places by a smooth displacement. The page
is cut into tiles of about 20 mm; in each, the phase of the major (5 mm) lines along rows and
along cols is read from the grid evidence's projections (one Fourier coefficient at the known
period, against the page-wide phase), which gives the local displacement modulo a period. The
tile readings are unwrapped outwards from the centre (neighbours differ by much less than half
a period), fitted by a smoothing thin-plate spline (:class:`scipy.interpolate.RBFInterpolator`),
and the image is resampled so that every grid line lands on its uniform place.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import RBFInterpolator

from ecgtrace.grid import MAJOR_MM, Grid, grid_evidence

log = logging.getLogger(__name__)

_TILE_MM = 20.0  # tile side: four major periods, short enough that a curl bends little
_MIN_CONTRAST = 0.15  # a tile's line contrast (|coefficient| / mass) below this is no reading
_MIN_TILES = 12  # fewer good tiles than this: no mesh
_FAINT_COLOUR = 0.015  # the colourfulness the mesh settles for before giving up
_SMOOTHING = 10.0  # thin-plate spline smoothing (coordinates in tile units)
_SIGNIFICANT = 3.0  # a warp's spread must exceed this many times the reading noise
_MIN_SHIFT_PX = 0.3  # displacements all below this: the page is left as it is
_LATTICE_PX = 16  # the fitted field is evaluated on this lattice, then interpolated


@dataclass(frozen=True, eq=False)
class Mesh:
    """A smooth displacement field over an image of ``shape`` (rows, cols): ``coarse`` (m, n, 2)
    float32 (row, col) px on a lattice of one point every ``_LATTICE_PX`` px, bilinear between
    (kept coarse: a full-size field is 8 bytes a pixel), such that output pixel ``q`` samples the
    input at ``q + shift(q)``; ``tiles`` the number of tile readings it was fitted to and
    ``max_shift_px`` its largest displacement."""

    coarse: NDArray[np.float32]
    shape: tuple[int, int]
    tiles: int
    max_shift_px: float

    def shift_at(self, rows: NDArray[np.float32], cols: NDArray[np.float32]) -> NDArray:
        """(..., 2) float32 shift (row, col) px at pixel positions ``rows``, ``cols`` (same
        shape, float32)."""
        out = np.empty((*rows.shape, 2), np.float32)
        map_r, map_c = rows / np.float32(_LATTICE_PX), cols / np.float32(_LATTICE_PX)
        for k in (0, 1):
            out[..., k] = cv2.remap(self.coarse[..., k], map_c, map_r,
                                    interpolation=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        return out

    def forward(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """(n, 2) (row, col) input points to where they lie in the output (fixed point of
        ``q = p - shift(q)``, the shift read at the nearest pixel; the field is smooth and
        small)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        rows, cols = self.shape
        q = p.copy()
        for _ in range(10):
            r = np.clip(np.round(q[:, 0]), 0, rows - 1).astype(np.float32)[:, None]
            c = np.clip(np.round(q[:, 1]), 0, cols - 1).astype(np.float32)[:, None]
            q = p - self.shift_at(r, c)[:, 0].astype(np.float64)
        return q


def _tile_shift(
    profile: NDArray[np.float64], start: int, phase: float, period: float
) -> tuple[float, float]:
    """(displacement px in (-period/2, period/2], contrast) of the lines of a tile's profile
    (its first entry at ``start`` px) against lines at ``phase + k period``."""
    t = start + np.arange(profile.size) - phase
    p = profile - profile.mean()
    z = np.sum(p * np.exp(-2j * np.pi * t / period))
    contrast = float(2 * abs(z) / max(float(profile.sum()), 1e-9))
    return float(-np.angle(z) / (2 * np.pi) * period), contrast


def _unwrap(
    values: NDArray[np.float64], good: NDArray[np.bool_], period: float
) -> NDArray[np.float64]:
    """(ny, nx) tile displacements made continuous across good tiles, from the best-connected
    tile near the centre outwards (each takes the period-multiple nearest its neighbours')."""
    ny, nx = values.shape
    out = np.full_like(values, np.nan)
    cells = np.argwhere(good)
    if cells.size == 0:
        return out
    centre = np.array([(ny - 1) / 2, (nx - 1) / 2])
    start = tuple(cells[np.argmin(np.abs(cells - centre).sum(axis=1))])
    out[start] = values[start]
    queue = deque([start])
    while queue:
        i, j = queue.popleft()
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            a, b = i + di, j + dj
            if 0 <= a < ny and 0 <= b < nx and good[a, b] and np.isnan(out[a, b]):
                near = out[max(0, a - 1) : a + 2, max(0, b - 1) : b + 2]
                ref = float(np.nanmean(near))
                out[a, b] = values[a, b] + period * np.round((ref - values[a, b]) / period)
                queue.append((a, b))
    return out


def _readings(ev: NDArray[np.float32], grid: Grid, axis: int) -> tuple[NDArray, NDArray, float]:
    """Tile centres (ny, nx, 2) (row, col) px and unwrapped displacements (ny, nx) px (NaN
    where a tile shows no grid) of the lines across ``axis`` (0: horizontal lines, displaced
    along rows; 1: vertical lines), and the lines' period (px)."""
    ppm = grid.px_per_mm_row if axis == 0 else grid.px_per_mm_col
    period = MAJOR_MM * ppm
    phase = grid.phase_row if axis == 0 else grid.phase_col
    side_r = max(8, round(_TILE_MM * grid.px_per_mm_row))
    side_c = max(8, round(_TILE_MM * grid.px_per_mm_col))
    rows, cols = ev.shape
    ny, nx = max(1, rows // side_r), max(1, cols // side_c)
    values = np.zeros((ny, nx))
    good = np.zeros((ny, nx), bool)
    centres = np.zeros((ny, nx, 2))
    for i in range(ny):
        for j in range(nx):
            r0, c0 = i * side_r + (rows - ny * side_r) // 2, j * side_c + (cols - nx * side_c) // 2
            tile = ev[r0 : r0 + side_r, c0 : c0 + side_c]
            # The median across the tile: a trace or label crossing a line moves no profile.
            profile = np.median(tile, axis=1 - axis).astype(np.float64)
            start = r0 if axis == 0 else c0
            values[i, j], contrast = _tile_shift(profile, start, phase, period)
            good[i, j] = contrast >= _MIN_CONTRAST
            centres[i, j] = (r0 + (side_r - 1) / 2, c0 + (side_c - 1) / 2)
    return centres, _unwrap(values, good, period), period


def _noise(shifts: NDArray[np.float64]) -> float:
    """The reading noise (px) of a (ny, nx) field of tile displacements: the RMS of each
    reading's difference from the mean of its four neighbours (a smooth warp leaves ~0),
    scaled to one reading's error."""
    a = np.pad(shifts, 1, constant_values=np.nan)
    near = np.stack([a[:-2, 1:-1], a[2:, 1:-1], a[1:-1, :-2], a[1:-1, 2:]])
    ok = np.isfinite(near).all(axis=0) & np.isfinite(shifts)
    if ok.sum() < 4:
        return float("inf")
    lap = shifts[ok] - near[:, ok].mean(axis=0)
    return float(np.sqrt(np.mean(lap**2)) / np.sqrt(1.25))


def _robust_spline(points: NDArray[np.float64], values: NDArray[np.float64]) -> RBFInterpolator:
    """A smoothing thin-plate spline through tile readings, refitted once without the
    readings far off it (a label or a crease misread as a grid line)."""
    spline = RBFInterpolator(points, values, kernel="thin_plate_spline", smoothing=_SMOOTHING,
                             degree=1)  # fmt: skip
    residual = values - spline(points)
    mad = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    keep = np.abs(residual) <= max(3.0 * mad, 0.5)
    if keep.all() or keep.sum() < _MIN_TILES:
        return spline
    return RBFInterpolator(points[keep], values[keep], kernel="thin_plate_spline",
                           smoothing=_SMOOTHING, degree=1)  # fmt: skip


def fit_mesh(image: NDArray[np.uint8], grid: Grid) -> Mesh | None:
    """The displacement field that makes the grid of a deskewed RGB (rows, cols, 3) uint8
    ``image`` uniform (pitch and phase of ``grid``), or None where too few tiles show the
    grid or nothing moves by more than a fraction of a pixel."""
    if not (grid.found and np.isfinite(grid.phase_row) and np.isfinite(grid.phase_col)):
        return None
    ev, coloured = grid_evidence(image)
    readings = [_readings(ev, grid, axis) for axis in (0, 1)]
    if not coloured and min(int(np.isfinite(f).sum()) for _, f, _ in readings) < _MIN_TILES:
        # A faintly coloured grid under a colour cast: its hue still tells it from the pen.
        ev, coloured = grid_evidence(image, min_colourfulness=_FAINT_COLOUR)
        readings = [_readings(ev, grid, axis) for axis in (0, 1)]
    rows, cols = ev.shape
    lattice_r = np.arange(0, rows + _LATTICE_PX, _LATTICE_PX, dtype=np.float64)
    lattice_c = np.arange(0, cols + _LATTICE_PX, _LATTICE_PX, dtype=np.float64)
    at = np.stack(np.meshgrid(lattice_r, lattice_c, indexing="ij"), axis=-1).reshape(-1, 2)
    fields = []
    n_tiles = []
    unit = _TILE_MM * grid.px_per_mm  # the spline works in tile units: smoothing is scale-free
    for axis, (centres, field, period) in enumerate(readings):
        keep = np.isfinite(field)
        shifts = field[keep]
        noise = _noise(field)
        spread = (
            1.4826 * float(np.median(np.abs(shifts - np.median(shifts)))) if shifts.size else 0.0
        )
        # A warp must stand out of the readings' noise (JPEG blocks, blur) and of the odd
        # misread tile (a grid's edge), or is left alone.
        if shifts.size < _MIN_TILES or spread < max(_MIN_SHIFT_PX, _SIGNIFICANT * noise):
            log.debug("mesh axis %d: %d tiles, spread %.2f px, noise %.2f px: no warp",
                      axis, shifts.size, spread, noise)  # fmt: skip
            fields.append(np.zeros((lattice_r.size, lattice_c.size), np.float32))
            n_tiles.append(shifts.size)
            continue
        # The page-wide phase is a mean: a constant offset left here is no warp.
        shifts = shifts - period * np.round(np.median(shifts) / period)
        spline = _robust_spline(centres[keep] / unit, shifts)
        fields.append(spline(at / unit).reshape(lattice_r.size, lattice_c.size).astype(np.float32))
        n_tiles.append(shifts.size)
    coarse = np.stack(fields, axis=-1)
    largest = float(np.abs(coarse).max())
    if largest < _MIN_SHIFT_PX:
        return None
    log.debug("mesh: %s tiles, largest shift %.1f px", n_tiles, largest)
    return Mesh(coarse=coarse, shape=(rows, cols), tiles=min(n_tiles), max_shift_px=largest)


def unwarp(image: NDArray[np.uint8], mesh: Mesh) -> NDArray[np.uint8]:
    """``image`` (rows, cols[, ch]) resampled through ``mesh``: output ``q`` takes the input
    at ``q + shift(q)`` (bilinear, edges replicated)."""
    rows, cols = image.shape[:2]
    grid_r, grid_c = np.mgrid[0:rows, 0:cols].astype(np.float32)
    shift = mesh.shift_at(grid_r, grid_c)  # lattice point k sits at k * _LATTICE_PX px
    out = cv2.remap(image, grid_c + shift[..., 1], grid_r + shift[..., 0],
                    interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return np.asarray(out, dtype=np.uint8)
