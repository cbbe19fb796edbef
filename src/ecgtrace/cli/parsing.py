"""What the commands' option strings mean: lists, numbers, paper sizes. Bad input fails."""

from __future__ import annotations

from ecgtrace.cli import fail


def comma_list(text: str) -> tuple[str, ...]:
    """``"II, V1,,V5"`` as ``("II", "V1", "V5")``."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def floats(
    text: str, option: str, hint: str = "give numbers separated by commas", *, blanks: bool = False
) -> list[float]:
    """The comma-separated numbers of ``text`` (blank items skipped with ``blanks``); fails
    naming ``option`` when one is not a number."""
    try:
        return [float(v) for v in text.split(",") if not blanks or v.strip()]
    except ValueError:
        fail(f"{option} {text!r}: {hint}")


def parse_paper(text: str) -> tuple[float, float] | None:
    """``letter``, ``a4``, ``fit`` (None) or ``HEIGHTxWIDTH`` in mm."""
    from ecgtrace.render import PAPER_SIZES

    if text.lower() == "fit":
        return None
    if text.lower() in PAPER_SIZES:
        return PAPER_SIZES[text.lower()]
    try:
        h, w = (float(v) for v in text.lower().split("x"))
    except ValueError:
        fail(f"--paper {text!r}: use letter, a4, fit or HEIGHTxWIDTH in mm (e.g. 210x297)")
    return h, w
