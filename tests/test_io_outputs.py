"""Outputs of a digitized page: WFDB, CSV, JSON and overlay, on a real digitization."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from ecgtrace.digitization import Digitization
from ecgtrace.io.files import write_png
from ecgtrace.io.images import read_image
from ecgtrace.io.outputs import (
    FORMATS,
    LEAD_COLOURS,
    draw_overlay,
    expected_outputs,
    summary,
    write_csv,
    write_json_summary,
    write_outputs,
    write_wfdb,
)
from ecgtrace.io.wfdb import read_record, write_record
from ecgtrace.leads import LEAD_NAMES
from ecgtrace.pipeline import digitize_image
from ecgtrace.render import Rendered


@pytest.fixture(scope="module")
def dig(page: Rendered) -> Digitization:
    """The clean 3x4+II page digitized (a few seconds; once for the module)."""
    return digitize_image(page.image, source="page.png")


def _lead(name: str) -> int:
    return LEAD_NAMES.index(name)


def _no_temp_files(folder: Path) -> None:
    hidden = [p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name]
    assert hidden == []


def test_wfdb_round_trip(dig: Digitization, tmp_path: Path) -> None:
    paths = write_wfdb(dig, tmp_path, "page1")
    assert paths == [tmp_path / "page1.hea", tmp_path / "page1.dat"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page1.dat", "page1.hea"]
    rec = read_record(tmp_path / "page1")
    assert rec.sig_name == LEAD_NAMES and rec.units == ("mV",) * 12 and rec.fs == dig.fs
    assert rec.p_signal.shape == dig.p_signal.shape == (5000, 12)
    nan = np.isnan(dig.p_signal)
    assert np.array_equal(np.isnan(rec.p_signal), nan)
    assert np.max(np.abs(rec.p_signal[~nan] - dig.p_signal[~nan])) <= 0.001
    # A 3x4 page shows each lead for 2.5 s of its column; II also in the 10 s rhythm strip.
    assert nan[1250:, _lead("I")].all() and nan[:2500, _lead("V1")].all()
    assert nan[3750:, _lead("V1")].all() and not nan[2600:3650, _lead("V1")].any()
    assert np.isfinite(rec.p_signal[:, _lead("II")]).mean() > 0.99
    header = (tmp_path / "page1.hea").read_text()
    assert "source: page.png page 1" in header and "layout: 3x4+II" in header


def test_wfdb_all_nan_lead_clipping_and_bad_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(1)
    p = rng.normal(scale=0.5, size=(300, 3))
    p[:, 1] = np.nan  # a lead never plotted
    p[10:20, 0] = np.nan
    p[5, 2], p[6, 2] = 40.0, -np.inf  # beyond what format 16 holds at 1 µV
    with caplog.at_level(logging.WARNING, logger="ecgtrace.io.wfdb"):
        write_record(tmp_path, "r-1_x", p, fs=250.0, sig_name=("a", "b", "c"))
    assert "clipped" in caplog.text
    rec = read_record(tmp_path / "r-1_x")
    assert rec.fs == 250.0 and rec.sig_name == ("a", "b", "c") and rec.units == ("mV",) * 3
    assert np.isnan(rec.p_signal[:, 1]).all()
    assert np.array_equal(np.isnan(rec.p_signal), np.isnan(p))
    assert rec.p_signal[5, 2] == pytest.approx(32.767) and rec.p_signal[6, 2] == -32.767
    ok = np.abs(p) < 32.767
    assert np.max(np.abs(rec.p_signal[ok] - p[ok])) <= 0.0005 + 1e-12
    with pytest.raises(ValueError, match="record name"):
        write_record(tmp_path, "page.1", p, fs=250.0, sig_name=("a", "b", "c"))
    # A write that fails at the rename leaves no temporary folder behind.
    (tmp_path / "y.hea").mkdir()
    with pytest.raises(OSError):
        write_record(tmp_path, "y", p, fs=250.0, sig_name=("a", "b", "c"))
    _no_temp_files(tmp_path)


def test_csv_parses_back(dig: Digitization, tmp_path: Path) -> None:
    path = write_csv(dig, tmp_path / "page.csv")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time_s", *LEAD_NAMES]
    body = rows[1:]
    assert len(body) == dig.n_samples and all(len(r) == 13 for r in body)
    times = np.array([float(r[0]) for r in body])
    assert np.array_equal(times, np.arange(dig.n_samples) / dig.fs)  # exact at 500 Hz
    cells = np.array([r[1:] for r in body])
    empty = cells == ""
    assert np.array_equal(empty, np.isnan(dig.p_signal))
    values = np.where(empty, "nan", cells).astype(np.float64)
    assert np.nanmax(np.abs(values - dig.p_signal)) <= 0.00005 + 1e-12
    _no_temp_files(tmp_path)


def test_json_summary(dig: Digitization, tmp_path: Path) -> None:
    path = write_json_summary(dig, tmp_path / "page.json")

    def no_constants(token: str) -> None:
        raise AssertionError(f"non-strict JSON token {token}")

    doc = json.loads(path.read_text(), parse_constant=no_constants)
    assert doc == json.loads(json.dumps(summary(dig)))  # the file is the summary
    assert doc["layout"] == "3x4+II" and doc["source"] == "page.png"
    assert doc["fs_hz"] == 500.0 and doc["n_samples"] == 5000 and doc["units"] == "mV"
    assert doc["speed_mm_s"] == 25.0 and doc["gain_mm_mv"] == 10.0
    assert doc["grid"]["found"] is True and doc["grid"]["px_per_mm_row"] > 7
    assert set(doc["times_s"]) >= {"grid", "segment", "total"}
    leads = doc["leads"]
    assert len(leads) == 13
    assert sorted(x["lead"] for x in leads if not x["is_rhythm"]) == sorted(LEAD_NAMES)
    (rhythm,) = (x for x in leads if x["is_rhythm"])
    assert rhythm["lead"] == "II" and rhythm["t0_s"] == 0.0 and rhythm["t1_s"] == 10.0
    assert set(rhythm["box_px"]) == {"top", "left", "bottom", "right"}
    assert all(0.0 <= x["confidence"] <= 1.0 for x in leads)


def test_overlay_draws_each_lead_in_its_colour(dig: Digitization, tmp_path: Path) -> None:
    overlay = draw_overlay(dig)
    write_png(tmp_path / "page.overlay.png", overlay)
    assert overlay.shape == dig.image.shape and overlay.dtype == np.uint8
    assert np.array_equal(read_image(tmp_path / "page.overlay.png"), overlay)
    assert np.array_equal(draw_overlay(dig), overlay)  # deterministic
    faded = ((dig.image.astype(np.uint16) + 256) // 2).astype(np.uint8)
    trace = next(t for t in dig.traces if t.lead == "I")
    ok = np.isfinite(trace.path_row) & np.isfinite(trace.path_col)
    rows = np.round(trace.path_row[ok]).astype(int)[::10]
    cols = np.round(trace.path_col[ok]).astype(int)[::10]
    colour = np.asarray(LEAD_COLOURS["I"], dtype=float)
    hits = 0
    for r, c in zip(rows, cols, strict=True):
        near = overlay[r - 1 : r + 2, c - 1 : c + 2].reshape(-1, 3).astype(float)
        hits += np.min(np.linalg.norm(near - colour, axis=1)) < 30
        assert not np.array_equal(near, faded[r - 1 : r + 2, c - 1 : c + 2].reshape(-1, 3))
    assert hits >= 0.95 * len(rows)
    # Away from boxes, labels and legend, the overlay is the faded page.
    assert np.array_equal(overlay[-5:], faded[-5:])


def test_write_outputs_writes_exactly_the_expected(dig: Digitization, tmp_path: Path) -> None:
    paths = write_outputs(dig, tmp_path, "page-1")
    assert paths == expected_outputs(tmp_path, "page-1", FORMATS)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert {p.name for p in paths} == {
        "page-1.hea", "page-1.dat", "page-1.csv", "page-1.json", "page-1.overlay.png",
    }  # fmt: skip
    assert read_record(tmp_path / "page-1").sig_name == LEAD_NAMES
    only = write_outputs(dig, tmp_path / "sub", "p.2", formats=["json", "csv"])
    assert only == [tmp_path / "sub/p.2.csv", tmp_path / "sub/p.2.json"]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["p.2.csv", "p.2.json"]
    with pytest.raises(ValueError, match="unknown output format"):
        write_outputs(dig, tmp_path, "x", formats=["pdf"])
    with pytest.raises(ValueError, match="record name"):
        write_outputs(dig, tmp_path, "p.2")  # wfdb names allow no dots
    _no_temp_files(tmp_path)
    _no_temp_files(tmp_path / "sub")


def test_write_outputs_is_all_or_nothing(dig: Digitization, tmp_path: Path) -> None:
    (tmp_path / "page.csv").mkdir()  # the CSV cannot be written
    with pytest.raises(OSError):
        write_outputs(dig, tmp_path, "page")
    assert [p.name for p in tmp_path.iterdir()] == ["page.csv"]
    assert (tmp_path / "page.csv").is_dir()


def test_overlay_paths_break_at_gaps_and_jumps() -> None:
    from ecgtrace.io.outputs import _runs

    cols = np.array([0.0, 1, 2, 3, 4, 5, 6, 7, 8, 7, 8])
    rows = np.array([0.0, 1, 2, np.nan, 4, 5, 90, 91, 92, 93, 94])
    runs = _runs(rows, cols, max_jump_px=50.0)  # NaN, a jump of 85 px, a step back in time
    assert [r[:, 0].tolist() for r in runs] == [[0, 1, 2], [4, 5], [90, 91, 92], [93, 94]]
    assert runs[0][:, 1].tolist() == [0, 1, 2]  # (row, col), as every path
    assert _runs(np.array([]), np.array([]), max_jump_px=5.0) == []
