"""Notes for the person watching: one line each on stderr, none while quiet.

stdout carries results only (tables, records, paths, JSON), so a pipe or `$(...)` gets nothing
else. Step logs, "auto preset: ..." and the like go through `note`; progress bars draw on
stderr and ask `quiet()` first. `xmcbench ... --quiet` runs its command inside `silenced()`.

The switch is the environment variable ``XMCBENCH_QUIET`` (also settable by a user), so that
worker processes started meanwhile (parallel trees) inherit it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["QUIET_ENV", "note", "quiet", "silenced"]

QUIET_ENV = "XMCBENCH_QUIET"


def quiet() -> bool:
    """Whether notes and progress bars are silenced (``XMCBENCH_QUIET`` set, not 0/false/no)."""
    return os.environ.get(QUIET_ENV, "").strip().lower() not in ("", "0", "false", "no")


def note(text: str) -> None:
    """Write `text` as a line on stderr, unless quiet: progress and remarks, never results."""
    if quiet():
        return
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.flush()


@contextlib.contextmanager
def silenced(on: bool = True) -> Iterator[None]:
    """Within the block (when `on`), `note` and the training bars print nothing."""
    if not on:
        yield
        return
    before = os.environ.get(QUIET_ENV)
    os.environ[QUIET_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(QUIET_ENV, None)
        else:
            os.environ[QUIET_ENV] = before
