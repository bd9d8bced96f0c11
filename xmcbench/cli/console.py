"""The command line's one way to print: `console` (stdout), `err_console` (stderr), plain text.

Every command prints through this module, so where output goes is decided in one place:
results (tables, records, paths, JSON) on stdout, notes and progress on stderr. On a terminal
rich fits tables to its width; into a pipe or a file nothing is wrapped or cut short, so
`xmcbench datasets | cat` and `$(xmcbench ...)` see whole names and whole lines.
"""

from __future__ import annotations

import json
import math
import sys
import traceback
from collections.abc import Mapping
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from ..notes import note

__all__ = [
    "PIPED_WIDTH",
    "console",
    "echo",
    "err_console",
    "json_text",
    "note",
    "print_json",
    "print_traceback",
    "titled_table",
]

PIPED_WIDTH = 1_000_000  # columns when not a terminal: in effect, no limit


class _PipeAwareConsole(Console):
    """A rich console as wide as the terminal, or unlimited when its file is not a terminal.

    Rich otherwise assumes 80 columns (or $COLUMNS) for a pipe and squeezes tables to "a…".
    Whether the file is a terminal is asked at each print, so tests capturing stdout see pipes.
    """

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size, or `PIPED_WIDTH` columns when printing into a pipe or file."""
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(PIPED_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = _PipeAwareConsole()
err_console = _PipeAwareConsole(stderr=True)


def echo(text: str) -> None:
    """Write `text` to stdout as is (no markup, no wrapping), ending it with one newline."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def titled_table(title: str, **options: Any) -> Table:
    """A rich table at least as wide as its title, so that the title stays on one line, and
    the title flush left, so that a log or a pipe shows it without padding.

    (Rich wraps a title to its table's width: "... (seed" over "0)".)
    """
    return Table(title=title, min_width=cell_len(title), title_justify="left", **options)


def json_text(obj: Any) -> str:
    """`obj` as indented JSON that any parser reads: NaN and infinities become null.

    Numbers stay numbers (numpy scalars too), tuples become lists, other objects their str().
    """
    return json.dumps(_plain(obj), indent=2, allow_nan=False, default=str)


def print_json(obj: Any) -> None:
    """Print `obj` as JSON on stdout (the `--json` of every listing)."""
    echo(json_text(obj))


def _plain(obj: Any) -> Any:
    """`obj` with JSON's types: non-finite floats as None, numpy scalars as Python numbers."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(key): _plain(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        return [_plain(value) for value in items]
    item = getattr(obj, "item", None)  # a numpy scalar
    if callable(item) and getattr(obj, "shape", None) == ():
        return _plain(item())
    return obj


def print_traceback(exc: BaseException) -> None:
    """The full traceback of `exc` on stderr (for `--debug`)."""
    traceback.print_exception(exc, file=sys.stderr)
