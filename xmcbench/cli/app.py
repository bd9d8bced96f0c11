"""The top level of the command line: the parser of every command, and `main` with its error policy.

Every failure is one `error: ...` line on stderr and a non-zero exit (2: a mistake the user can
fix; 1: the environment or a bug; 130: interrupted); `--debug` adds the traceback.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from .. import __version__
from ..errors import XMCBenchError, describe_os_error
from ..plugins import get_plugins
from ..runtime import configure as configure_runtime
from .base import Command
from .console import err_console, print_traceback
from .data import DATASETS, EMBEDDINGS
from .inference import EXPLAIN, PREDICT
from .listings import METHODS, METRICS, PLUGINS
from .options import DEBUG_HELP
from .reports import COMPARE, LEADERBOARD, REPORT
from .results import RESULTS
from .runs import FUSE, RUN, SWEEP

__all__ = ["COMMANDS", "build_parser", "main"]

DESCRIPTION = (
    "The `xmcbench` command line: run, compare, leaderboard, and listings of what is loaded."
)
# in the order `xmcbench --help` lists them
COMMANDS: tuple[Command, ...] = (
    RUN,
    COMPARE,
    LEADERBOARD,
    PLUGINS,
    METHODS,
    METRICS,
    PREDICT,
    EXPLAIN,
    EMBEDDINGS,
    REPORT,
    SWEEP,
    FUSE,
    DATASETS,
    RESULTS,
)


def build_parser() -> argparse.ArgumentParser:
    """The `xmcbench` parser: global options, then one subparser per command."""
    parser = argparse.ArgumentParser(prog="xmcbench", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"xmcbench {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    _accept_debug_everywhere(parser)
    return parser


def _accept_debug_everywhere(parser: argparse.ArgumentParser) -> None:
    """`--debug` after the command too (`xmcbench run ... --debug`), not only before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                # SUPPRESS: a command without the flag keeps what the top level parsed
                sub.add_argument(
                    "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
                )
                _accept_debug_everywhere(sub)


def _debug_requested(args: argparse.Namespace) -> bool:
    env = os.environ.get("XMCBENCH_DEBUG", "").strip().lower()
    return bool(getattr(args, "debug", False)) or env not in ("", "0", "false", "no")


def _fail(message: str, exc: BaseException, debug: bool, code: int) -> int:
    """Print `error: message` as one line (the traceback first with --debug); return `code`."""
    if debug:
        print_traceback(exc)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    text = "; ".join(lines) or type(exc).__name__
    err_console.print(f"error: {text}", markup=False, highlight=False, soft_wrap=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; every failure is one `error: ...` line and a non-zero exit."""
    configure_runtime()  # threads, OpenMP wait policy, malloc reuse: before torch is imported
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = _debug_requested(args)
    try:
        return args.handler(args, get_plugins())
    except XMCBenchError as exc:  # a mistake the user can fix: the message says which
        return _fail(str(exc), exc, debug, getattr(exc, "exit_code", 2))  # NoRunsError: 1
    except OSError as exc:  # the environment: a file or folder that cannot be read or written
        where = "" if exc.filename is not None or debug else " (run with --debug to see where)"
        return _fail(describe_os_error(exc) + where, exc, debug, 1)
    except KeyboardInterrupt as exc:  # Ctrl-C, or a termination signal turned into one
        if debug:
            print_traceback(exc)
        err_console.print("interrupted: run the same command again to resume", markup=False)
        return int(getattr(exc, "exit_code", 130))  # 130 for Ctrl-C; a subclass may say (SIGTERM)
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # a bug, here or in a library (pyo3 panics are BaseException)
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        hint = "" if debug else " (run with --debug for the traceback)"
        return _fail(detail + hint, exc, debug, 1)
