"""The command line's one way to print: `console` (stdout), `err_console` (stderr), plain text.

Every command prints through this module, so where output goes is decided in one place.
"""

from __future__ import annotations

import sys
import traceback

from rich.console import Console

__all__ = ["console", "echo", "err_console", "print_traceback"]

console = Console()
err_console = Console(stderr=True)


def echo(text: str) -> None:
    """Write `text` to stdout as is (no markup, no wrapping), ending it with one newline."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def print_traceback(exc: BaseException) -> None:
    """The full traceback of `exc` on stderr (for `--debug`)."""
    traceback.print_exception(exc, file=sys.stderr)
