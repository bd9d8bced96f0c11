"""CLI glue for the paper-style reports: `report`, `sweep`, and `compare --by`.

The work lives in xmcbench.results (tables, figures) and xmcbench.sweep; everything heavy is
imported inside the handlers, so `xmcbench --help` and the listings stay light.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .errors import UnknownNameError, XMCBenchError
from .plugins import Plugins
from .preflight import results_to_read

console = Console()
FORMATS = ("table", "markdown", "latex", "csv", "html")
# for --help only (the parser must not import pandas); results.report.REPORTS is the authority
REPORT_NAMES = (*(f"table{i}" for i in range(2, 10)), "figure2")


def add_report_commands(sub: Any) -> None:
    """Register `report` and `sweep` on the top-level subparsers."""
    report = sub.add_parser(
        "report", help="the paper's Tables 2-9 and Figure 2 from a results folder"
    )
    report.add_argument("name", metavar="NAME", help=f"one of {', '.join(REPORT_NAMES)}")
    report.add_argument("--results", default="results", help="result directory")
    report.add_argument("--format", choices=FORMATS, help="default: from --output's suffix")
    report.add_argument("--datasets", help="comma-separated names")
    report.add_argument("--methods", help="comma-separated names (parameter tables: one)")
    report.add_argument("--output", help="write here (atomically) instead of stdout")
    report.add_argument("--no-reported", action="store_true", help="leave out the paper's rows")
    report.set_defaults(handler=cmd_report)

    sweep = sub.add_parser("sweep", help="run a method over a grid of parameter values")
    sweep.add_argument("method")
    sweep.add_argument("--dataset", required=True, help="a registered name or alias, or a folder")
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="values of one parameter (repeat for more)",
    )
    sweep.add_argument("--zip", action="store_true", help="zip the grids instead of crossing them")
    sweep.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    sweep.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a fixed hyperparameter"
    )
    sweep.add_argument(
        "--prep", action="append", default=[], metavar="KEY=VALUE", help="a preprocessing option"
    )
    sweep.add_argument("--config", help="TOML or JSON file of fixed hyperparameters")
    sweep.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    sweep.add_argument("--results", default="results", help="result directory")
    sweep.add_argument("--quiet", action="store_true", help="no per-run progress")
    sweep.set_defaults(handler=cmd_sweep)


def add_compare_by_options(parser: argparse.ArgumentParser) -> None:
    """`compare --by PARAMS [--layout rows|columns]`: one method's runs by parameter values."""
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


# ---------------------------------------------------------------- handlers


def cmd_compare_by(args: argparse.Namespace, plugins: Plugins) -> int:
    from .results.store import load_records
    from .results.tables import render
    from .results.variation import variation_tables

    records = load_records(results_to_read(args.results), include_reported=False)
    if not records:
        raise XMCBenchError(f"no measured runs in {args.results}")
    tables = variation_tables(
        records,
        _split(args.by),
        specs=_specs(plugins),
        metrics=_split(args.metrics),
        ks=_ks(args.ks),
        datasets=_datasets(args.datasets, plugins),
        methods=_split(args.methods) or None,
        layout=args.layout,
    )
    _emit(render(tables, args.format, ansi=console.is_terminal), None)
    return 0


def cmd_report(args: argparse.Namespace, plugins: Plugins) -> int:
    from .preflight import check_output_file
    from .results.report import FIGURES, REPORTS, format_for, report_tables
    from .results.store import load_records
    from .results.tables import render

    output = Path(args.output) if args.output else None
    if output is not None:
        check_output_file(output, "--output")
    records = load_records(results_to_read(args.results), include_reported=not args.no_reported)
    options: dict[str, Any] = {
        "specs": _specs(plugins),
        "datasets": _datasets(args.datasets, plugins),
        "methods": _split(args.methods) or None,
        "include_reported": not args.no_reported,
    }
    if args.name not in REPORTS:
        raise UnknownNameError("report", args.name, list(REPORTS))
    if args.name in FIGURES:
        from .results.figures import psp_figure

        if output is None:
            raise XMCBenchError(f"{args.name} is a figure: give --output FILE.svg (or .png, .pdf)")
        if args.format:
            raise XMCBenchError("--format is for tables; a figure's format is --output's suffix")
        info = psp_figure(records, output, **options)
        console.print(
            f"{info.path}: {len(info.panels)} panel(s) ({', '.join(info.panels)}), "
            f"{len(info.series)} series",
            markup=False,
            highlight=False,
        )
        return 0
    if args.name not in ("table3", "table6") and not any(
        r.get("source") != "reported" for r in records
    ):
        raise XMCBenchError(f"{args.name} needs measured runs; there are none in {args.results}")
    if args.name == "table4" and options["methods"]:
        raise XMCBenchError(
            "table4 takes no --methods: plugins declare which method fills a column"
        )
    tables = report_tables(args.name, records, **options)
    fmt = format_for(args.format, output)
    _emit(render(tables, fmt, ansi=output is None and console.is_terminal), output)
    return 0


def cmd_sweep(args: argparse.Namespace, plugins: Plugins) -> int:
    from .cli import parse_assignments, read_config
    from .preflight import check_outputs
    from .runner import RunRequest
    from .sweep import FAILED, parse_grid, plan_points, run_sweep

    fixed, prep = read_config(Path(args.config)) if args.config else ({}, {})
    fixed.update(parse_assignments(args.set, "--set"))
    prep.update(parse_assignments(args.prep, "--prep"))
    points = plan_points(
        parse_grid(args.grid), zipped=args.zip, seeds=_seeds(args.seeds), fixed=fixed
    )
    spec = plugins.methods.get(args.method)  # fail fast on a misspelled method
    results = Path(args.results)
    for seed in sorted({point.seed for point in points}):  # each point's params: at its run
        check_outputs(
            RunRequest(spec.name, args.dataset, seed=seed, device=args.device, results_dir=results)
        )
    console.print(f"sweep: {len(points)} point(s) of {spec.name} on {args.dataset}", markup=False)
    outcomes = run_sweep(
        spec.name,
        args.dataset,
        points,
        plugins,
        results_dir=results,
        prep=prep,
        device=args.device,
        progress=not args.quiet,
        log=lambda *parts: console.print(*parts, markup=False, highlight=False),
    )
    _print_outcomes(outcomes)
    return 1 if any(o.status == FAILED for o in outcomes) else 0


def _print_outcomes(outcomes: list[Any]) -> None:
    table = Table(title="sweep")
    for column in ("point", "seed", "status", "record or error"):
        table.add_column(column, overflow="fold")
    style = {"done": "green", "skipped": "yellow", "failed": "red"}
    for o in outcomes:
        table.add_row(
            o.point.label(),
            str(o.point.seed),
            f"[{style[o.status]}]{o.status}[/]",
            o.detail,
        )
    console.print(table)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))


# ---------------------------------------------------------------- helpers


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from .results.report import write_output

    write_output(text, output)
    console.print(f"wrote {output}", markup=False, highlight=False)


def _specs(plugins: Plugins) -> dict[str, Any]:
    return {spec.name: spec for spec in plugins.methods}


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _datasets(text: str | None, plugins: Plugins) -> list[str] | None:
    """Canonical names (an alias names the same results as the dataset's own name)."""
    names = [plugins.datasets.get(n).name if n in plugins.datasets else n for n in _split(text)]
    return names or None


def _ks(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(k) for k in _split(text))
    except ValueError:
        raise XMCBenchError(f"--ks expects comma-separated integers, got {text!r}") from None


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in _split(text)]
    except ValueError:
        raise XMCBenchError(f"--seeds expects comma-separated integers, got {text!r}") from None
