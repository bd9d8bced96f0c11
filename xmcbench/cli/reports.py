"""Commands that read a results folder: `compare` (and `compare --by`), `leaderboard`, `report`.

The work lives in xmcbench.results (tables, figures, site); everything heavy is imported inside
the handlers, so `xmcbench --help` and the listings stay light.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import XMCBenchError
from ..metrics import DEFAULT_KS
from ..plugins import Plugins
from ..preflight import results_to_read
from .base import Command
from .console import console, echo
from .options import (
    FORMATS,
    add_results_option,
    datasets_option,
    ints_option,
    split_list,
)

__all__ = ["COMPARE", "LEADERBOARD", "REPORT"]


def _read_options(parser: argparse.ArgumentParser) -> None:
    add_results_option(parser)
    parser.add_argument(
        "--no-reported", action="store_true", help="leave out the paper's reported rows"
    )


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    _read_options(parser)
    parser.add_argument("--metrics", default="p@k,psp@k", help="e.g. p@k,ndcg@k,psp@k,psndcg@5")
    parser.add_argument(
        "--ks",
        default=",".join(map(str, DEFAULT_KS)),
        help="comma-separated cut-offs (default: %(default)s)",
    )
    parser.add_argument("--datasets", help="comma-separated names")
    parser.add_argument("--methods", help="comma-separated names")
    parser.add_argument(
        "--format",
        default="table",
        choices=list(FORMATS),
        help="how to print the tables (default: %(default)s)",
    )
    parser.add_argument(
        "--by",
        help="parameters (or their symbols, e.g. K,C) whose values make the rows: Tables 5, 7-9",
    )
    parser.add_argument(
        "--layout",
        default="rows",
        choices=["rows", "columns"],
        help="with --by: datasets as row groups (Tables 7, 8) or column groups (Tables 5, 9)",
    )


def cmd_compare(args: argparse.Namespace, plugins: Plugins) -> int:
    """Methods per dataset, paper style; with `--by`, one method's runs by parameter values."""
    ks = ints_option(args.ks, "--ks")  # a usage error before any record is read
    if args.by:  # one method's runs by parameter values (Tables 5, 7-9)
        return _compare_by(args, plugins, ks)
    from ..results.lookup import require_runs
    from ..results.store import load_records
    from ..results.tables import compare_table, render

    records = load_records(results_to_read(args.results), include_reported=not args.no_reported)
    if args.datasets is None:  # reported rows alone only when their datasets are asked for
        require_runs(records, args.results)
    tables = compare_table(
        records,
        metrics=split_list(args.metrics),
        ks=ks,
        datasets=datasets_option(args.datasets, plugins),
        methods=split_list(args.methods) or None,
    )
    if not tables:
        raise XMCBenchError(f"no results to compare in {args.results}")
    echo(render(tables, args.format, ansi=console.is_terminal))
    return 0


def _compare_by(args: argparse.Namespace, plugins: Plugins, ks: tuple[int, ...]) -> int:
    from ..results.lookup import require_runs
    from ..results.store import load_records
    from ..results.tables import render
    from ..results.variation import variation_tables

    records = load_records(results_to_read(args.results), include_reported=False)
    require_runs(records, args.results)
    tables = variation_tables(
        records,
        split_list(args.by),
        specs=_specs(plugins),
        metrics=split_list(args.metrics),
        ks=ks,
        datasets=datasets_option(args.datasets, plugins),
        methods=split_list(args.methods) or None,
        layout=args.layout,
    )
    _emit(render(tables, args.format, ansi=console.is_terminal), None)
    return 0


def _leaderboard_arguments(parser: argparse.ArgumentParser) -> None:
    _read_options(parser)
    parser.add_argument(
        "--out",
        "--output",
        dest="out",
        default="leaderboard",
        metavar="DIR",
        help="the folder to write: Markdown pages and a static site (default: %(default)s)",
    )


def cmd_leaderboard(args: argparse.Namespace, plugins: Plugins) -> int:
    """Write the leaderboard pages; print each page's path, then the site's index."""
    from ..preflight import check_writable_dir
    from ..results.leaderboard import write_leaderboard
    from ..results.lookup import require_runs
    from ..results.store import load_records

    check_writable_dir(Path(args.out), "--output")
    records = load_records(results_to_read(args.results), include_reported=not args.no_reported)
    require_runs(records, args.results)  # before a page is written
    paths = write_leaderboard(records, Path(args.out))
    if not paths:
        raise XMCBenchError(f"no results in {args.results}")
    out = Path(args.out)
    for path in paths:
        if path.parent == out:  # the pages; runs/ holds one page and one JSON per run
            console.print(str(path), soft_wrap=True, highlight=False)
    console.print(f"site: {out / 'index.html'} ({len(paths)} files)", soft_wrap=True)
    return 0


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name",
        metavar="NAME",
        help="a report a study registers, e.g. the paper's table2..table9 or figure2",
    )
    add_results_option(parser, "result directory")
    parser.add_argument("--format", choices=FORMATS, help="default: from --output's suffix")
    parser.add_argument("--datasets", help="comma-separated names")
    parser.add_argument("--methods", help="comma-separated names (parameter tables: one)")
    parser.add_argument("--output", help="write here (atomically) instead of stdout")
    parser.add_argument("--no-reported", action="store_true", help="leave out the paper's rows")


def cmd_report(args: argparse.Namespace, plugins: Plugins) -> int:
    """One of the paper's tables (to stdout or --output) or Figure 2 (to --output)."""
    from ..preflight import check_output_file
    from ..results.report import format_for, report_spec, report_tables
    from ..results.store import load_records
    from ..results.tables import render

    output = Path(args.output) if args.output else None
    if output is not None:
        check_output_file(output, "--output")
    records = load_records(results_to_read(args.results), include_reported=not args.no_reported)
    options: dict[str, Any] = {
        "specs": _specs(plugins),
        "datasets": datasets_option(args.datasets, plugins),
        "methods": split_list(args.methods) or None,
        "include_reported": not args.no_reported,
    }
    spec = report_spec(args.name, plugins)  # registered by a study; unknown: close names
    if spec.kind == "figure":
        if output is None:
            raise XMCBenchError(f"{args.name} is a figure: give --output FILE.svg (or .png, .pdf)")
        if args.format:
            raise XMCBenchError("--format is for tables; a figure's format is --output's suffix")
        info = spec.load()(records, output, **options)
        console.print(
            f"{info.path}: {len(info.panels)} panel(s) ({', '.join(info.panels)}), "
            f"{len(info.series)} series",
            markup=False,
            highlight=False,
        )
        return 0
    if spec.needs_measured and all(r.is_reported for r in records):
        raise XMCBenchError(f"{args.name} needs measured runs; there are none in {args.results}")
    tables = report_tables(args.name, records, **options)
    fmt = format_for(args.format, output)
    _emit(render(tables, fmt, ansi=output is None and console.is_terminal), output)
    return 0


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        echo(text)
        return
    from ..results.report import write_output

    write_output(text, output)
    console.print(f"wrote {output}", markup=False, highlight=False)


def _specs(plugins: Plugins) -> dict[str, Any]:
    return {spec.name: spec for spec in plugins.methods}


COMPARE = Command(
    "compare",
    "compare methods per dataset, paper style (Tables 3 and 6)",
    cmd_compare,
    _compare_arguments,
)
LEADERBOARD = Command(
    "leaderboard",
    "write the leaderboard: Markdown and a static site",
    cmd_leaderboard,
    _leaderboard_arguments,
)
REPORT = Command(
    "report",
    "the paper's Tables 2-9 and Figure 2 from a results folder",
    cmd_report,
    _report_arguments,
)
