"""PTB-XL records and the project's split (train / validation = fold 9 / test = fold 10).

Records are read from ``$ECGTRACE_DATA/ptbxl`` (default ``../shared/data`` next to the project)
through :mod:`ecgtrace.io.wfdb`.
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ecgtrace.io.wfdb import read_record
from ecgtrace.leads import LEAD_NAMES, normalise_lead_names

Split = Literal["train", "validation", "test"]


class DataError(RuntimeError):
    """The shared data is missing or a record cannot be read."""


@dataclass(frozen=True, eq=False)
class Record:
    """A 12-lead recording: ``p_signal`` (n_samples, 12) mV, :data:`LEAD_NAMES` order, ``fs`` Hz."""

    ecg_id: int
    fs: float
    p_signal: NDArray[np.float64]
    sig_name: tuple[str, ...] = LEAD_NAMES
    units: str = "mV"

    @property
    def duration_s(self) -> float:
        return self.p_signal.shape[0] / self.fs


def data_dir() -> Path:
    """The shared data folder: ``$ECGTRACE_DATA`` or ``../shared/data`` from the project root."""
    env = os.environ.get("ECGTRACE_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data"
        if (candidate / "ptbxl").is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "data"


def _ptbxl() -> Path:
    root = data_dir() / "ptbxl"
    if not root.is_dir():
        raise DataError(f"PTB-XL not found at {root}; set ECGTRACE_DATA to the shared data folder")
    return root


def record_path(ecg_id: int, fs: int) -> Path:
    """Path (without extension) of a PTB-XL record at 500 or 100 Hz."""
    folder = f"{ecg_id // 1000 * 1000:05d}"
    if fs == 500:
        return _ptbxl() / "records500" / folder / f"{ecg_id:05d}_hr"
    if fs == 100:
        return _ptbxl() / "records100" / folder / f"{ecg_id:05d}_lr"
    raise DataError(f"PTB-XL has records at 500 or 100 Hz, not {fs}")


def available_fs(ecg_id: int) -> tuple[int, ...]:
    """The sampling frequencies (Hz) at which ``ecg_id`` is present, highest first."""
    return tuple(fs for fs in (500, 100) if record_path(ecg_id, fs).with_suffix(".hea").exists())


def load_record(ecg_id: int, *, fs: int | None = None) -> Record:
    """Read a PTB-XL record in mV with standard lead names, at ``fs`` Hz (None: highest there)."""
    options = available_fs(ecg_id)
    if fs is None:
        if not options:
            raise DataError(f"PTB-XL record {ecg_id} not found under {_ptbxl()}")
        fs = options[0]
    path = record_path(ecg_id, fs)
    try:
        rec = read_record(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read PTB-XL record {path}: {exc}") from exc
    names = list(normalise_lead_names(rec.sig_name))
    if sorted(names) != sorted(LEAD_NAMES):
        raise DataError(f"{path}: unexpected leads {names}")
    units = {u.lower() for u in rec.units}
    if units != {"mv"}:
        raise DataError(f"{path}: units {sorted(units)}, expected mV")
    order = [names.index(n) for n in LEAD_NAMES]
    signal = np.asarray(rec.p_signal, dtype=np.float64)[:, order]
    return Record(ecg_id=ecg_id, fs=float(rec.fs), p_signal=signal)


@functools.cache
def _folds() -> dict[int, int]:
    with open(_ptbxl() / "ptbxl_database.csv", newline="") as fh:
        return {int(float(r["ecg_id"])): int(r["strat_fold"]) for r in csv.DictReader(fh)}


@functools.cache
def _test_ids() -> frozenset[int]:
    text = (_ptbxl() / "fold10_ecg_ids.txt").read_text()
    return frozenset(int(tok) for tok in text.split())


@functools.cache
def _all_ids() -> tuple[int, ...]:
    ids = {int(p.name[:5]) for p in _ptbxl().glob("records*/*/*.hea")}
    return tuple(sorted(ids))


def split_of(ecg_id: int) -> Split:
    """Which split a record belongs to: test = fold 10, validation = fold 9, else train."""
    if ecg_id in _test_ids():
        return "test"
    if _folds().get(ecg_id) == 9:
        return "validation"
    return "train"


def split_ids(split: Split) -> tuple[int, ...]:
    """The ecg_ids present in the shared data for one split, ascending."""
    if split not in ("train", "validation", "test"):
        raise DataError(f"unknown split {split!r}; choose train, validation or test")
    return tuple(i for i in _all_ids() if split_of(i) == split)


def example_record() -> Record:
    """The bundled example: PTB-XL record 85 (train fold; CC BY 4.0), 500 Hz, 10 s.

    Large precordial complexes make its V2 cross into V3's band on a standard 3x4 page.
    """
    with resources.files("ecgtrace.examples").joinpath("ptbxl_00085_hr.npz").open("rb") as fh:
        npz = np.load(fh)
        signal = npz["p_signal_uv"].astype(np.float64) / 1000.0
        return Record(ecg_id=int(npz["ecg_id"]), fs=float(npz["fs"]), p_signal=signal)
