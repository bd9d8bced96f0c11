"""The options and argument readers the commands share, declared once.

`--set/--prep/--config` (run, sweep), `--device`, `--results`, table `--format`s, and the
readers of comma-separated lists. Nothing here imports a heavy module: the parser stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import XMCBenchError
from ..plugins import Plugins
from ..results.formats import FORMATS  # light: table formats, no pandas
from ..values import parse_assignments, read_config

__all__ = [
    "DEBUG_HELP",
    "DEVICES",
    "FORMATS",
    "REPORT_NAMES",
    "add_device_option",
    "add_param_options",
    "add_results_option",
    "datasets_option",
    "ints_option",
    "params_from",
    "split_list",
]

DEBUG_HELP = "show the full traceback of an error (also: XMCBENCH_DEBUG=1)"
DEVICES = ("auto", "cpu", "cuda")
# for --help only; xmcbench.results.report.REPORTS is the authority
REPORT_NAMES = (*(f"table{i}" for i in range(2, 10)), "figure2")


def add_param_options(parser: argparse.ArgumentParser, *, fixed: bool = False) -> None:
    """`--set KEY=VALUE`, `--prep KEY=VALUE` and `--config FILE` (read by `params_from`)."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a fixed hyperparameter" if fixed else "a hyperparameter",
    )
    parser.add_argument(
        "--prep", action="append", default=[], metavar="KEY=VALUE", help="a preprocessing option"
    )
    parser.add_argument(
        "--config",
        help="TOML or JSON file of fixed hyperparameters"
        if fixed
        else "TOML or JSON file of hyperparameters (and a [prep] table)",
    )


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """`--device auto|cpu|cuda` (default: auto)."""
    parser.add_argument("--device", default="auto", choices=list(DEVICES))


def add_results_option(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    """`--results DIR` (default: results): where runs are read or written."""
    parser.add_argument("--results", default="results", help=help_text)


def params_from(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Method parameters and preprocessing options: `--config`, then `--set`/`--prep` over it."""
    params, prep = read_config(Path(args.config)) if args.config else ({}, {})
    params.update(parse_assignments(args.set, "--set"))
    prep.update(parse_assignments(args.prep, "--prep"))
    return params, prep


def split_list(text: str | None) -> list[str]:
    """A comma-separated option as its non-empty, stripped parts."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def datasets_option(text: str | None, plugins: Plugins) -> list[str] | None:
    """Canonical names (an alias names the same results as the dataset's own name); None: all."""
    names = [plugins.datasets.get(n).name if n in plugins.datasets else n for n in split_list(text)]
    return names or None


def ints_option(text: str, option: str) -> tuple[int, ...]:
    """Comma-separated integers; anything else is a one-line error naming `option`."""
    try:
        return tuple(int(part) for part in split_list(text))
    except ValueError:
        raise XMCBenchError(f"{option} expects comma-separated integers, got {text!r}") from None
