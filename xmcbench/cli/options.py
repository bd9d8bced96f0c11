"""The options and argument readers the commands share, declared once, each with its help.

`--set/--prep/--config` (run, sweep; `--prep` also datasets prepare), the method argument,
`--seed`, `--device`, `--results`, table `--format`s, `run`'s examples, and the readers of
comma-separated lists. Nothing here imports a heavy module: the parser stays light.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import XMCBenchError
from ..plugins import Plugins
from ..preflight import DEVICES
from ..results.formats import FORMATS  # light: table formats, no pandas
from ..values import parse_assignments, read_config

__all__ = [
    "DEBUG_HELP",
    "DEVICES",
    "FORMATS",
    "RUN_EXAMPLES",
    "add_device_option",
    "add_examples",
    "add_method_argument",
    "add_param_options",
    "add_prep_option",
    "add_results_option",
    "add_seed_option",
    "datasets_option",
    "ints_option",
    "params_from",
    "prep_from",
    "split_list",
]

DEBUG_HELP = "show the full traceback of an error (also: XMCBENCH_DEBUG=1)"
PREP_HELP = (
    "a preprocessing option, e.g. max_len=300 (also max_vocab, min_count, tfidf, valid_size, "
    "valid_seed); repeat for more"
)
# (command, what it does) for `run --help`; tests/test_consistency.py parses every one
RUN_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "xmcbench run attentionxml --dataset synthetic --set preset=demo",
        "the demo: built-in synthetic data, made locally, a few minutes on a CPU",
    ),
    (
        "xmcbench run parabel --dataset synthetic --seed 1",
        "a baseline with its defaults, seed 1 (seeds of one configuration are averaged)",
    ),
    (
        "xmcbench run attentionxml --dataset eurlex-4k --set preset=eurlex-4k",
        "the paper's settings for a dataset (`xmcbench methods attentionxml` lists presets)",
    ),
    (
        "xmcbench run attentionxml --dataset eurlex-4k --set time_budget=10m",
        "stop training after 10 minutes, then predict and score",
    ),
    (
        "xmcbench run parabel --dataset eurlex-4k --config params.toml --prep max_len=300",
        "parameters from a TOML file (`n_trees = 3`; a [prep] table too) and a --prep option",
    ),
)


def add_method_argument(parser: argparse.ArgumentParser) -> None:
    """The METHOD positional: a registered method name or alias."""
    parser.add_argument(
        "method",
        metavar="METHOD",
        help="a registered method or alias (`xmcbench methods` lists them)",
    )


def add_seed_option(parser: argparse.ArgumentParser) -> None:
    """`--seed N` (default: 0)."""
    parser.add_argument(
        "--seed",
        type=int,
        metavar="N",
        default=0,
        help="random seed; runs of one configuration with different seeds are averaged "
        "(default: %(default)s)",
    )


def add_examples(
    parser: argparse.ArgumentParser, examples: Sequence[tuple[str, str]] = RUN_EXAMPLES
) -> None:
    """Show `examples` (command, what it does) under the options of `parser`'s --help."""
    lines = ["examples:"]
    for command, meaning in examples:
        lines += [f"  {command}", f"      {meaning}"]
    parser.epilog = "\n".join(lines)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the lines as written


def add_param_options(parser: argparse.ArgumentParser, *, fixed: bool = False) -> None:
    """`--set KEY=VALUE`, `--prep KEY=VALUE` and `--config FILE` (read by `params_from`)."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=("a fixed hyperparameter" if fixed else "a hyperparameter")
        + ", e.g. lr=0.001 or preset=demo; repeat for more (`xmcbench methods METHOD` lists them)",
    )
    add_prep_option(parser)
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML or JSON file of fixed hyperparameters"
        if fixed
        else "TOML or JSON file of hyperparameters (and a [prep] table)",
    )


def add_prep_option(parser: argparse.ArgumentParser) -> None:
    """`--prep KEY=VALUE` (repeatable), read by `prep_from`."""
    parser.add_argument("--prep", action="append", default=[], metavar="KEY=VALUE", help=PREP_HELP)


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """`--device auto|cpu|cuda` (default: auto)."""
    parser.add_argument(
        "--device",
        default="auto",
        choices=list(DEVICES),
        help="where to train and predict: auto (a GPU if there is one), cpu or cuda "
        "(default: %(default)s)",
    )


def add_results_option(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    """`--results DIR` (default: results): where runs are read or written."""
    text = help_text or "the results folder"
    if "default" not in text:  # some callers say it in their own words
        text += " (default: %(default)s)"
    parser.add_argument("--results", default="results", metavar="DIR", help=text)


def params_from(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Method parameters and preprocessing options: `--config`, then `--set`/`--prep` over it."""
    params, prep = read_config(Path(args.config)) if args.config else ({}, {})
    params.update(parse_assignments(args.set, "--set"))
    prep.update(parse_assignments(args.prep, "--prep"))
    return params, prep


def prep_from(args: argparse.Namespace) -> dict[str, Any]:
    """The `--prep` options alone (datasets prepare), parsed as `run` parses them."""
    return parse_assignments(args.prep, "--prep")


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
