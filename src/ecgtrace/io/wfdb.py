"""WFDB records in and out: the only module that imports wfdb.

Records are written in format 16 (int16 little-endian) at :data:`ADC_GAIN` adu per physical unit
(1 µV steps for mV, so ± 32.767 mV fit) with baseline 0; NaN samples become WFDB's invalid
sample (-32768), which ``wfdb.rdrecord`` reads back as NaN.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import wfdb
from numpy.typing import NDArray

from ecgtrace.io.files import atomic_write_bytes

log = logging.getLogger(__name__)

ADC_GAIN = 1000.0  # adu per physical unit: 1 µV resolution for mV
_FMT = "16"
_INVALID = -32768  # format 16's "no sample" value
_D_MAX = 32767
_NAME = re.compile(r"[-\w]+")  # the record names wfdb accepts (it names the .dat after it)


class WfdbRecord(NamedTuple):
    """A WFDB record read: ``p_signal`` (n_samples, n_sig) float64 in ``units`` (NaN = invalid
    sample), ``fs`` Hz, one ``sig_name`` and one unit per column."""

    p_signal: NDArray[np.float64]
    fs: float
    sig_name: tuple[str, ...]
    units: tuple[str, ...]


def read_record(path: str | os.PathLike[str]) -> WfdbRecord:
    """Read the WFDB record at ``path`` (without extension) in physical units.

    Raises what wfdb raises for a missing or malformed record (``OSError``, ``ValueError``).
    """
    rec = wfdb.rdrecord(os.fspath(path))
    if rec.p_signal is None:
        raise ValueError(f"{path}: the record holds no uniformly sampled signals")
    return WfdbRecord(
        p_signal=np.asarray(rec.p_signal, dtype=np.float64),
        fs=float(rec.fs),
        sig_name=tuple(str(n) for n in rec.sig_name),
        units=tuple(str(u) for u in rec.units),
    )


def check_record_name(record_name: str) -> None:
    """Raise ``ValueError`` unless wfdb can write a record of this name (letters, digits, ``-``
    and ``_``: the name is written into the header, so files cannot simply be renamed)."""
    if not _NAME.fullmatch(record_name):
        raise ValueError(
            f"WFDB record name {record_name!r} may only hold letters, digits, '-' and '_'"
        )


def _digital(p_signal: NDArray[np.float64], record_name: str) -> NDArray[np.int64]:
    """(n, k) physical values to format 16 adu: NaN to the invalid sample, the rest clipped."""
    scaled = np.round(p_signal * ADC_GAIN)
    valid = ~np.isnan(p_signal)
    over = valid & (np.abs(scaled) > _D_MAX)  # infinities included
    if over.any():
        log.warning(
            "%s: %d samples beyond ±%.3f units clipped to fit WFDB format 16",
            record_name,
            int(over.sum()),
            _D_MAX / ADC_GAIN,
        )
    clipped = np.clip(np.where(valid, scaled, 0.0), -_D_MAX, _D_MAX)
    return np.where(valid, clipped, _INVALID).astype(np.int64)


def _ascii_line(text: str) -> str:
    """One header comment line: wfdb refuses tabs and newlines and reads headers as ASCII."""
    line = re.sub(r"\s", " ", text).encode("ascii", "backslashreplace").decode("ascii")
    return line.lstrip("#")  # wfdb prints a note for comments starting with '#'


def _wrsamp(
    write_dir: str,
    record_name: str,
    p_signal: NDArray[np.float64],
    *,
    fs: float,
    sig_name: Sequence[str],
    units: str | Sequence[str],
    comments: Sequence[str],
) -> tuple[Path, Path]:
    """Write ``<record_name>.dat`` and ``.hea`` into ``write_dir`` with wfdb; their paths."""
    check_record_name(record_name)
    signal = np.asarray(p_signal, dtype=np.float64)
    if signal.ndim != 2 or signal.shape[1] != len(sig_name) or signal.shape[0] == 0:
        raise ValueError(
            f"p_signal of shape {signal.shape} does not match {len(sig_name)} signal names"
        )
    if not fs > 0:
        raise ValueError(f"fs must be > 0 Hz, got {fs}")
    k = signal.shape[1]
    unit_list = [units] * k if isinstance(units, str) else list(units)
    # Given d_signal, wfdb writes our adu as they are; from p_signal it would pick its own
    # format and gain per signal (and fail on an all-NaN one).
    wfdb.wrsamp(
        record_name,
        fs=float(fs),
        units=unit_list,
        sig_name=list(sig_name),
        d_signal=_digital(signal, record_name),
        fmt=[_FMT] * k,
        adc_gain=[ADC_GAIN] * k,
        baseline=[0] * k,
        comments=[_ascii_line(c) for c in comments] or None,
        write_dir=write_dir,
    )
    folder = Path(write_dir)
    return folder / f"{record_name}.dat", folder / f"{record_name}.hea"


def encode_record(
    record_name: str,
    p_signal: NDArray[np.float64],
    *,
    fs: float,
    sig_name: Sequence[str],
    units: str | Sequence[str] = "mV",
    comments: Sequence[str] = (),
) -> dict[str, bytes]:
    """The bytes of ``<record_name>.dat`` and ``<record_name>.hea`` (in that order), as
    :func:`write_record` would write them; for callers that write several outputs at once."""
    with tempfile.TemporaryDirectory(prefix="ecgtrace-wfdb-") as tmp:
        dat, hea = _wrsamp(
            tmp, record_name, p_signal, fs=fs, sig_name=sig_name, units=units, comments=comments
        )
        return {dat.name: dat.read_bytes(), hea.name: hea.read_bytes()}


def write_record(
    directory: str | os.PathLike[str],
    record_name: str,
    p_signal: NDArray[np.float64],
    *,
    fs: float,
    sig_name: Sequence[str],
    units: str | Sequence[str] = "mV",
    comments: Sequence[str] = (),
) -> list[Path]:
    """Write ``p_signal`` (n_samples, n_sig) in physical ``units`` sampled at ``fs`` Hz as the
    WFDB record ``<directory>/<record_name>`` (``.hea`` + ``.dat``, format 16, 1000 adu per
    unit, NaN as invalid samples; values beyond ± 32.767 units are clipped with a warning).

    Atomic per file (a temporary file, then a rename), the ``.dat`` first and the ``.hea`` that
    names it last, so a reader that finds the header finds the whole signal. Returns
    ``[hea, dat]``.
    """
    folder = Path(directory)
    blobs = encode_record(
        record_name, p_signal, fs=fs, sig_name=sig_name, units=units, comments=comments
    )
    dat, hea = (atomic_write_bytes(folder / name, data) for name, data in blobs.items())
    return [hea, dat]
