"""Commands that write runs: `run` (one method on one dataset), `sweep` (a grid of them), `fuse`.

Each handler parses its options and calls the library (runner, sweep, fusion); the heavy modules
are imported inside the handlers so `xmcbench --help` and the listings stay light.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from ..notes import silenced
from ..plugins import Plugins, metric_registry
from .base import Command
from .console import console, echo, note, titled_table
from .options import (
    add_device_option,
    add_examples,
    add_method_argument,
    add_param_options,
    add_results_option,
    add_seed_option,
    ints_option,
    params_from,
)

if TYPE_CHECKING:
    from ..results.record import RunRecord

__all__ = ["FUSE", "RUN", "SWEEP", "print_record"]


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    add_method_argument(parser)
    parser.add_argument(
        "--dataset", required=True, help="a registered name or alias, or a folder path"
    )
    add_param_options(parser)
    add_seed_option(parser)
    add_device_option(parser)
    add_results_option(parser, "result directory (default: results)")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars or step logs: results and errors"
    )
    add_examples(parser)


def cmd_run(args: argparse.Namespace, plugins: Plugins) -> int:
    """Train, predict and evaluate through `xmcbench.run`; print the metrics table and path."""
    from ..api import run

    params, prep = params_from(args)
    with silenced(args.quiet):  # stderr keeps only errors; stdout: the results below
        record = run(
            args.method,
            args.dataset,
            params=params,
            seed=args.seed,
            results=args.results,
            device=args.device,
            prep=prep,
            progress=not args.quiet,
            log=note,
            plugins=plugins,
        )
    if record is None:  # a secondary torchrun process: rank 0 writes and prints the record
        return 0
    print_record(record)
    echo(f"record: {record.path}")  # one line, however long: scripts read it
    return 0


def print_record(record: RunRecord) -> None:
    """A run's metrics as a k-by-metric table (families in table order), then cost and size."""
    table = titled_table(f"{record.method} on {record.dataset} (seed {record.seed})")
    metrics = record.metrics
    order = metric_registry().sort_key
    names = list(dict.fromkeys(n.partition("@")[0] for n in sorted(metrics, key=order)))
    ks = sorted({int(name.partition("@")[2]) for name in metrics})
    table.add_column("k", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for k in ks:
        cells = [
            "-" if metrics.get(f"{n}@{k}") is None else f"{100 * metrics[f'{n}@{k}']:.2f}"
            for n in names
        ]
        table.add_row(str(k), *cells)
    console.print(table)
    timing = record.timing or {}
    workers = timing.get("peak_rss_workers_mb") or []
    beside = ""  # a run trained in worker processes: their memory came on top of this one's
    if workers:
        beside = f" + {len(workers)} worker processes up to {max(workers):.0f} MB each"
    console.print(
        f"train {timing['train_s']:.1f} s, predict {timing['predict_ms_per_doc']:.3f} ms/doc, "
        f"model {(record.model_bytes or 0) / 1e6:.2f} MB, peak RSS {timing['peak_rss_mb']:.0f} MB"
        f"{beside}"
    )


def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    add_method_argument(parser)
    parser.add_argument("--dataset", required=True, help="a registered name or alias, or a folder")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="values of one parameter (repeat for more)",
    )
    parser.add_argument("--zip", action="store_true", help="zip the grids instead of crossing them")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    add_param_options(parser, fixed=True)
    add_device_option(parser)
    add_results_option(parser, "result directory")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress or step logs, only the summary table"
    )


def cmd_sweep(args: argparse.Namespace, plugins: Plugins) -> int:
    """Run every point of the grid (skipping those already recorded); exit 1 if one failed."""
    from ..preflight import check_outputs
    from ..runner import RunRequest
    from ..sweep import FAILED, parse_grid, plan_points, run_sweep

    fixed, prep = params_from(args)
    points = plan_points(
        parse_grid(args.grid),
        zipped=args.zip,
        seeds=list(ints_option(args.seeds, "--seeds")),
        fixed=fixed,
    )
    spec = plugins.methods.get(args.method)  # fail fast on a misspelled method
    results = Path(args.results)
    for seed in sorted({point.seed for point in points}):  # each point's params: at its run
        check_outputs(
            RunRequest(spec.name, args.dataset, seed=seed, device=args.device, results_dir=results)
        )
    with silenced(args.quiet):
        note(f"sweep: {len(points)} point(s) of {spec.name} on {args.dataset}")
        outcomes = run_sweep(
            spec.name,
            args.dataset,
            points,
            plugins,
            results_dir=results,
            prep=prep,
            device=args.device,
            progress=not args.quiet,
            log=note,
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


def _fuse_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run id, a unique prefix or suffix of one, or a record",
    )
    parser.add_argument("--weights", help="one per run, e.g. 0.7,0.3 (default: equal)")
    parser.add_argument(
        "--combine",
        default="score",
        choices=["score", "rank"],
        help="weighted mean of the runs' scores, or reciprocal-rank fusion 1/(60+rank) "
        "(default: %(default)s)",
    )
    parser.add_argument("--name", help="method name of the fused run (default: fusion)")
    add_results_option(parser, "where runs are found and written")


def cmd_fuse(args: argparse.Namespace, plugins: Plugins) -> int:
    """Combine saved runs on one dataset into a new run (see xmcbench/fusion.py)."""
    from ..fusion import fuse_runs
    from ..results.record import read_record

    result = fuse_runs(
        args.runs,
        Path(args.results),
        plugins,
        weights=args.weights,
        name=args.name,
        combine=args.combine,
    )
    for remark in result.notes:
        note(f"note: {remark}")
    print_record(read_record(result.path))
    echo(f"record: {result.path}")
    return 0


RUN = Command("run", "train, predict and evaluate a method on a dataset", cmd_run, _run_arguments)
SWEEP = Command(
    "sweep", "run a method over a grid of parameter values", cmd_sweep, _sweep_arguments
)
FUSE = Command(
    "fuse", "combine saved runs on one dataset into a new run", cmd_fuse, _fuse_arguments
)
