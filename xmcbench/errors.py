"""Errors the CLI turns into one clear line and a non-zero exit."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path


class XMCBenchError(Exception):
    """Base class for every error a user can fix (bad input, unknown name, missing file)."""


class DataFormatError(XMCBenchError):
    """A data file is malformed; the message names the file, the line and the problem."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


class UnknownNameError(XMCBenchError):
    """A method, dataset or metric name that no plugin registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        self.kind, self.name = kind, name
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = "" if close else f" (known: {', '.join(sorted(known)) or 'none'})"
        super().__init__(f"unknown {kind} {name!r}{hint}{listing}")


class PluginError(XMCBenchError):
    """A plugin misbehaved; the message names the plugin."""


class ParamError(XMCBenchError, ValueError):
    """A hyperparameter of the wrong type or out of range; the message names it and its value."""


@contextlib.contextmanager
def naming_path(path: str | Path) -> Iterator[None]:
    """Name `path` in an OSError raised inside the block (a failed write() carries no file name)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:  # only a real OS error has a file
            exc.filename = str(path)
        raise


_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")  # atomic writes' temporaries


def describe_os_error(exc: OSError) -> str:
    """`path: reason` for an OSError; a temporary of an atomic write is named by its target."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno is not None and exc.errno in errno.errorcode:
        reason += f" [{errno.errorcode[exc.errno]}]"
    if exc.filename is None:
        return reason
    path = Path(os.fsdecode(exc.filename))
    match = _TEMP_NAME.match(path.name)
    if match:
        path = path.with_name(match.group("name"))
    target = f"{path} -> {os.fsdecode(exc.filename2)}" if exc.filename2 is not None else str(path)
    return f"{target}: {reason}"
