"""What every verb group builds on: a `Command` (name, help, arguments, handler).

A group module (runs, reports, inference, listings, data) declares its commands as `Command`s;
`app.py` registers them in the order `xmcbench --help` lists them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..plugins import Plugins

__all__ = ["Command", "Handler"]

Handler = Callable[[argparse.Namespace, Plugins], int]
"""A command's work: the parsed arguments and the loaded plugins in, the exit status out."""


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """A command that takes no arguments of its own."""


@dataclass(frozen=True)
class Command:
    """One verb of the command line: `xmcbench NAME ...` runs `handler`."""

    name: str
    help: str
    handler: Handler
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments

    def register(self, subparsers: Any) -> argparse.ArgumentParser:
        """Add this command's parser to the top level's subparsers; return it."""
        parser = subparsers.add_parser(self.name, help=self.help)
        self.arguments(parser)
        parser.set_defaults(handler=self.handler)
        return parser
