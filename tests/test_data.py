"""PTB-XL access and the split, on the shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgtrace import data
from ecgtrace.leads import LEAD_NAMES

pytestmark = pytest.mark.usefixtures("shared_data")


def test_split_is_patient_folds_and_disjoint() -> None:
    train, val, test = (set(data.split_ids(s)) for s in ("train", "validation", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    fold10 = {int(v) for v in (data.data_dir() / "ptbxl/fold10_ecg_ids.txt").read_text().split()}
    assert test == fold10 & set(data._all_ids())
    assert len(test) == 66 and all(i <= 500 for i in test)
    assert len(val) > 0 and all(i <= 500 for i in val)
    assert max(train) > 500  # the 100 Hz records join the training split


def test_record_in_mv_with_standard_leads() -> None:
    rec = data.load_record(9)
    assert rec.fs == 500.0 and rec.p_signal.shape == (5000, 12)
    assert rec.sig_name == LEAD_NAMES and rec.units == "mV"
    # Einthoven: II = I + III, to the files' 1 uV quantisation.
    i, ii, iii = (rec.p_signal[:, LEAD_NAMES.index(n)] for n in ("I", "II", "III"))
    assert np.max(np.abs(ii - (i + iii))) < 0.01
    low = data.load_record(9, fs=100)
    assert low.fs == 100.0 and low.p_signal.shape == (1000, 12)
    assert data.load_record(1234).fs == 100.0  # only at 100 Hz


def test_missing_things_are_clear_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(data.DataError, match="not found"):
        data.load_record(999_999)
    with pytest.raises(data.DataError, match="unknown split"):
        data.split_ids("everything")  # type: ignore[arg-type]
    monkeypatch.setenv("ECGTRACE_DATA", str(tmp_path))
    assert data.data_dir() == tmp_path
    with pytest.raises(data.DataError, match="ECGTRACE_DATA"):
        data.load_record(9)


def test_bundled_example_is_the_ptbxl_record() -> None:
    ex = data.example_record()
    assert np.allclose(ex.p_signal, data.load_record(ex.ecg_id).p_signal)
    assert data.split_of(ex.ecg_id) == "train"
