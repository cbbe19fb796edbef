"""The grid benchmark: cases measured against the renderer's truth, summarised, tabled once."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace

import numpy as np
import pytest

from ecgtrace.bench.grid import PdfCase, RenderCase, measure, render_benchmark
from ecgtrace.bench.grid_summary import (
    breakdown_table,
    failures_table,
    markdown_report,
    pdf_table,
    pdfs_json,
    summarise_pdfs,
    summarise_renders,
)
from ecgtrace.bench.scans import draw_grid_overlay
from ecgtrace.bench.table import Column, Table, columns
from ecgtrace.grid import detect_grid
from ecgtrace.io.files import encode_json
from ecgtrace.render import Rendered

CASE = RenderCase(
    index=0, ecg_id=1, layout="3x4", dpi=200.0, colour="pink", style="solid", degradations=(),
    shape=(1700, 2200), truth_row=7.874, truth_col=7.874, truth_rot=0.0, found=True,
    confidence=0.9, ppm_row=7.874, ppm_col=7.874, rotation_deg=0.0, err_row=0.001,
    err_col=-0.002, err_rot=0.05, ms=120.0,
)  # fmt: skip


def test_table_renders_once_to_rich_and_markdown() -> None:
    t = Table("t", columns(("name", "n"), left=1), (("a", "1"), ("b", "22")))
    assert t.to_markdown() == "| name | n |\n| --- | ---: |\n| a | 1 |\n| b | 22 |\n"
    rich = t.to_rich()
    assert rich.title == "t" and rich.row_count == 2
    assert [c.justify for c in rich.columns] == ["left", "right"]
    with pytest.raises(ValueError, match="a row of 1 cells, not 2"):
        Table("bad", (Column("a"), Column("b")), (("x",),))


def test_render_summary_groups_and_failures() -> None:
    cases = [
        CASE,
        replace(CASE, index=1, style="dotted", colour="blue", dpi=90.0, err_row=0.02),
        replace(CASE, index=2, degradations=("curl",), err_rot=0.5),
        replace(CASE, index=3, style="none", found=False, confidence=0.1),
        replace(CASE, index=4, style="none", found=True, confidence=0.6, dpi=333.33),
    ]
    s = summarise_renders(cases)
    assert s.all.n == 3 and s.all.found == 1.0
    assert s.all.ppm_ok == pytest.approx(2 / 3) and s.all.rot_ok == pytest.approx(2 / 3)
    assert s.uniform_scale.n == 2
    assert s.by_style["dotted"].n == 1 and s.by_colour["blue"].ppm_ok == 0.0
    assert s.by_dpi["72-150"].n == 1 and s.by_degradation["(none)"].n == 2
    assert s.no_grid.n == 2 and s.no_grid.found_false == 0.5
    assert [f.index for f in s.failures] == [1, 2]
    assert s.failures[0].err_row_pct == 2.0
    assert [(g.index, g.dpi) for g in s.false_grids] == [(4, 333.3)]
    doc = json.loads(encode_json(asdict(s)))
    assert doc["no_grid"]["n"] == 2 and doc["failures"][1]["degradations"] == ["curl"]
    assert set(doc["by_style"]) == {"solid", "dotted"}
    table = breakdown_table(s, "renders")
    assert table.rows[0][:3] == ("all", "renders with a grid", "3")
    assert all(row[2] != "0" for row in table.rows)  # empty groups left out
    assert len(failures_table(s).rows) == 2


def test_pdf_summary_per_dpi_and_report() -> None:
    cases = [
        PdfCase("a.pdf", 100.0, True, 0.9, 0.002, -0.004, 0.0, 50.0),
        PdfCase("b.pdf", 100.0, False, 0.1, math.nan, math.nan, 0.0, 40.0),
        PdfCase("a.pdf", 200.0, True, 0.9, 0.001, 0.0, -0.1, 90.0),
    ]
    stats = summarise_pdfs(cases)
    assert [s.dpi for s in stats] == [100.0, 200.0]
    assert stats[0].found == 0.5 and stats[0].within_1pct == 0.5
    assert stats[0].mean_err_pct == pytest.approx(0.4)
    assert list(pdfs_json(stats)) == ["100", "200"]
    assert "dpi" not in pdfs_json(stats)["100"]
    assert pdf_table(stats, "pdfs").rows[1][:2] == ("200", "1")
    report = markdown_report(summarise_renders([CASE]), stats, command="ecgtrace eval grid")
    assert report.startswith("# Grid detection benchmark\n")
    assert "| section | group | n | found % |" in report and "| 200 | 1 | 100.0 |" in report
    assert "Failures (0):" in report


def test_measured_renders_and_overlay(shared_data: None, page: Rendered) -> None:
    cases = render_benchmark(2, seed=0, dpi=(72.0, 100.0))
    assert [c.index for c in cases] == [0, 1] and all(72 <= c.dpi <= 100 for c in cases)
    assert all(c.ms > 0 and c.shape[0] > 0 for c in cases)
    case = measure(page, (), index=7)
    assert case.index == 7 and case.ok_ppm and case.ok_rot and case.uniform
    overlay = draw_grid_overlay(page.image, detect_grid(page.image), max_width=300)
    assert overlay.shape[1] == 300 and overlay.dtype == np.uint8
    blue = (overlay[..., 2] > 200) & (overlay[..., 0] < 50)
    assert blue.any()
