"""The one table type of the benchmarks: a title, columns and rows of formatted cells.

A benchmark formats its numbers once, into a :class:`Table`; the CLI prints it with
:meth:`Table.to_rich` and the docs get it from :meth:`Table.to_markdown`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.table import Table as RichTable


@dataclass(frozen=True)
class Column:
    """A column's heading and alignment (numbers right, names left)."""

    name: str
    right: bool = True


@dataclass(frozen=True)
class Table:
    """``rows`` of formatted cells, one per column, under a ``title``."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"{self.title}: a row of {len(row)} cells, not {len(self.columns)}"
                )

    def to_rich(self) -> RichTable:
        """The table for a terminal."""
        table = RichTable(title=self.title)
        for col in self.columns:
            table.add_column(col.name, justify="right" if col.right else "left")
        for row in self.rows:
            table.add_row(*row)
        return table

    def to_markdown(self) -> str:
        """The table as Markdown (no title: the document around it gives one)."""
        lines = [
            "| " + " | ".join(c.name for c in self.columns) + " |",
            "| " + " | ".join("---:" if c.right else "---" for c in self.columns) + " |",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


def columns(names: Sequence[str], *, left: int = 1) -> tuple[Column, ...]:
    """Columns named ``names``: the first ``left`` aligned left (names), the rest right."""
    return tuple(Column(name, right=k >= left) for k, name in enumerate(names))


def table(title: str, cols: tuple[Column, ...], rows: Iterable[Sequence[str]]) -> Table:
    """A :class:`Table` from any iterable of rows."""
    return Table(title=title, columns=cols, rows=tuple(tuple(r) for r in rows))
