"""Errors the CLI turns into one clear line and a non-zero exit."""

from __future__ import annotations

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
