"""The lead and layout catalogue: names, aliases, layouts parsed and named, cell labels."""

from __future__ import annotations

import pytest

from ecgtrace.leads import (
    BASE_LAYOUTS,
    LEAD_NAMES,
    LIMB_ORDERS,
    N_COLUMNS,
    N_MAIN_STRIPS,
    LayoutError,
    LayoutName,
    cell_labels,
    label_inverted,
    label_lead,
    layout_name,
    normalise_lead_names,
    parse_layout,
)


def test_aliases_become_the_standard_spelling() -> None:
    assert normalise_lead_names(["I", " AVR", "AVL ", "aVF", "V1"]) == (
        "I",
        "aVR",
        "aVL",
        "aVF",
        "V1",
    )


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("3x4", LayoutName("3x4", None)),
        ("3x4+II,V1,V5", LayoutName("3x4", ("II", "V1", "V5"))),
        ("6x2+avr", LayoutName("6x2", ("aVR",))),
        ("single+v5", LayoutName("single", ("V5",))),
        ("12x1", LayoutName("12x1", None)),
    ],
)
def test_layouts_parse_and_name_round_trip(text: str, parsed: LayoutName) -> None:
    assert parse_layout(text) == parsed
    if parsed.base != "single":
        assert parse_layout(parsed.name) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [("5x5", "unknown layout"), ("3x4+X9", "unknown lead"), ("6x2+II,V1", "at most 1")],
)
def test_bad_layouts_raise(text: str, message: str) -> None:
    with pytest.raises(LayoutError, match=message):
        parse_layout(text)


def test_every_layout_prints_each_lead_once_in_its_main_cells() -> None:
    for base in BASE_LAYOUTS[:3]:
        for order in LIMB_ORDERS:
            labels = cell_labels(base, order, ())
            assert len(labels) == N_MAIN_STRIPS[base]
            assert {len(row) for row in labels} == {N_COLUMNS[base]}
            leads = sorted(label_lead(x) for row in labels for x in row)
            assert leads == sorted(LEAD_NAMES)


def test_cell_labels_of_the_usual_pages() -> None:
    assert cell_labels("3x4", "standard", ("II",)) == [
        ["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"], ["II"],
    ]  # fmt: skip
    cabrera = cell_labels("6x2", "cabrera", ())
    assert [row[0] for row in cabrera] == ["aVL", "I", "-aVR", "II", "aVF", "III"]
    assert label_inverted("-aVR") and not label_inverted("aVR")
    assert cell_labels("single", "standard", ("V5",)) == [["V5"]]
    assert cell_labels("single", "standard", ()) == [["II"]]


def test_layout_names_leave_out_what_a_layout_cannot_carry() -> None:
    assert layout_name("3x4", ("II", "V1")) == "3x4+II,V1"
    assert layout_name("3x4", ()) == "3x4"
    assert layout_name("12x1", ("II",)) == "12x1"
    assert layout_name("single", ("V5",)) == "single"
