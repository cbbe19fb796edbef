"""The ``ecgtrace`` command. The only package that prints.

The typer ``app`` and its groups live here; each command group is a module of this package
(:mod:`~ecgtrace.cli.digitize`, :mod:`~ecgtrace.cli.render`, :mod:`~ecgtrace.cli.train`,
:mod:`~ecgtrace.cli.grid`, :mod:`~ecgtrace.cli.bench`, :mod:`~ecgtrace.cli.evaluate`), imported
at the end to register its commands.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from ecgtrace import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Turn ECG images into calibrated signals (mV against seconds).",
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(no_args_is_help=True, help="Speed benchmarks that print tables and JSON.")
app.add_typer(bench_app, name="bench")
eval_app = typer.Typer(no_args_is_help=True, help="Accuracy benchmarks that print tables and JSON.")
app.add_typer(eval_app, name="eval")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit with ``code``."""
    err.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def say(text: str) -> None:
    """One line on stdout, as is (no markup, no highlighting)."""
    out.print(text, highlight=False, markup=False)


@app.callback(invoke_without_command=True)
def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    # The library logs; here its warnings (already in each page's JSON) stay quiet unless a
    # command asks for more (digitize --verbose, train).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ecgtrace").setLevel(logging.ERROR)
    if version:
        out.print(f"ecgtrace {__version__}")
        raise typer.Exit()


def run() -> None:  # pragma: no cover - console entry point wrapper
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


# The command groups register themselves on the apps above, in the order --help lists them.
COMMAND_MODULES = ("digitize", "render", "train", "grid", "bench", "evaluate")
for _module in COMMAND_MODULES:
    importlib.import_module(f"ecgtrace.cli.{_module}")

__all__ = ["app", "bench_app", "err", "eval_app", "fail", "out", "run", "say"]
