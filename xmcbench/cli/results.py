"""`xmcbench results list|show|export`: find runs without walking folders, hand them to scripts.

`list` prints one row per run, `show RUN` one run's record (RUN: its id, a unique prefix or
suffix of the id, or a record path), `export` every run as one flat table (CSV, JSON or
Parquet; metrics as numbers) to stdout or to a file written atomically. `list` and `export`
filter by `--dataset` and `--method`; all read `--results`.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import XMCBenchError
from ..metrics import DEFAULT_KS
from ..plugins import Plugins
from .base import Command
from .console import echo, err_console, json_text, print_json
from .options import add_results_option, datasets_option, split_list

if TYPE_CHECKING:
    import pandas as pd

    from ..results.record import RunRecord

__all__ = ["EXPORT_FORMATS", "RESULTS"]

EXPORT_FORMATS = ("csv", "json", "parquet")
_SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".pq": "parquet"}
_PYARROW_HINT = "--format parquet needs pyarrow: pip install pyarrow (or xmcbench[parquet])"


# --------------------------------------------------------------------------- arguments


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", help="only runs on these datasets (comma-separated)")
    parser.add_argument("--method", help="only runs of these methods (comma-separated)")
    add_results_option(parser, "the folder of run records (default: %(default)s)")


def _results_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="one row per run: id, dataset, method, seed, P@1/3/5, train time, date"
    )
    _filter_options(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = actions.add_parser("show", help="one run's record: params, metrics, timings, files")
    show.add_argument(
        "run",
        metavar="RUN",
        help="run id, a unique prefix or suffix of one (e.g. its last 8 characters), or a record",
    )
    add_results_option(show, "where run ids are looked up (default: %(default)s)")
    show.add_argument("--json", action="store_true", help="print JSON")
    export = actions.add_parser("export", help="the runs as one table, metrics as numbers")
    _filter_options(export)
    export.add_argument(
        "--format", choices=EXPORT_FORMATS, help="default: from --output's suffix, else csv"
    )
    export.add_argument(
        "--output", metavar="FILE", help="write this file (atomically) instead of stdout"
    )


def cmd_results(args: argparse.Namespace, plugins: Plugins) -> int:
    """`results list`, `results show RUN` or `results export`."""
    actions = {"list": _list, "show": _show, "export": _export}
    return actions[args.action](args, plugins)


# --------------------------------------------------------------------------- list


def _selected(args: argparse.Namespace, plugins: Plugins) -> list[RunRecord]:
    """The runs under --results that pass --dataset and --method (names or aliases)."""
    from ..results.lookup import list_runs

    methods = [
        plugins.methods.get(n).name if n in plugins.methods else n for n in split_list(args.method)
    ]
    return list_runs(
        Path(args.results),
        datasets=datasets_option(args.dataset, plugins),
        methods=methods or None,
    )


def _filters_text(args: argparse.Namespace) -> str:
    """The filters given, as typed: ``--dataset X --method Y``."""
    return " ".join(
        f"--{name} {value}" for name in ("dataset", "method") if (value := getattr(args, name))
    )


def _percent(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def _list(args: argparse.Namespace, plugins: Plugins) -> int:
    """One row per run, oldest first (JSON: one object per run)."""
    runs = _selected(args, plugins)
    if args.json:
        print_json([_summary(r) for r in runs])
        return 0
    if not runs:
        err_console.print(f"no runs in {args.results} match {_filters_text(args)}", markup=False)
        return 0
    header = ["run", "dataset", "method", "seed", *(f"P@{k}" for k in DEFAULT_KS)]
    header += ["train s", "date"]
    rows = [
        [
            r.run_id or "?",
            r.dataset,
            r.method,
            "-" if r.seed is None else str(r.seed),
            *(_percent(r.metrics.get(f"p@{k}")) for k in DEFAULT_KS),
            _seconds(r.train_s),
            (r.created_at or "-")[:19].replace("T", " "),
        ]
        for r in runs
    ]
    echo(_aligned(header, rows, right={3, 4, 5, 6, 7}))
    return 0


def _seconds(value: float | None) -> str:
    """Seconds to two decimals (a quick run shows as more than 0.0), whole ones from 100."""
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _size(n_bytes: int) -> str:
    """A model's size in B, KB, MB or GB (decimal units, as `ls -h --si`)."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.2f} GB"


def _summary(record: RunRecord) -> dict[str, Any]:
    """A run in `list --json`: identity, configuration, metrics, cost and its record file."""
    return {
        "run_id": record.run_id,
        "dataset": record.dataset,
        "method": record.method,
        "seed": record.seed,
        "params": dict(record.params),
        "metrics": dict(record.metrics),
        "train_s": record.train_s,
        "predict_ms_per_doc": record.predict_ms_per_doc,
        "created_at": record.created_at,
        "record": None if record.path is None else str(record.path),
    }


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """Plain columns two spaces apart: never wrapped or cut, whatever the terminal's width."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


# --------------------------------------------------------------------------- show


def _show(args: argparse.Namespace, plugins: Plugins) -> int:
    """One run's record as labelled lines (or its JSON plus where its files are)."""
    from ..results.lookup import find_run

    path, record = find_run(args.run, Path(args.results))
    files = _files(path, record)
    if args.json:
        print_json({**record.to_dict(), "files": files})
        return 0
    echo(_describe(record, files, plugins))
    return 0


def _files(path: Path, record: RunRecord) -> dict[str, Any]:
    """The record file, its saved ranking and the model folder as found on this machine."""
    from ..saved_run import model_folder

    ranking = path.parent / Path(record.topk_file).name if record.topk_file else None
    model = model_folder(record)
    return {
        "record": str(path),
        "ranking": None if ranking is None else str(ranking),
        "model": None if model is None else str(model),
        "model_present": model is not None and model.is_dir(),
    }


def _describe(record: RunRecord, files: dict[str, Any], plugins: Plugins) -> str:
    """The labelled lines of `results show`: who, what, scores, cost, files."""
    from ..results.store import describe_params

    sizes = ", ".join(
        f"{value} {name.removeprefix('n_')}"
        for name, value in record.split_sizes.items()
        if value is not None
    )
    data = ", ".join(
        filter(None, [f"hash {record.dataset_hash[:12]}" if record.dataset_hash else "", sizes])
    )
    plugin = " ".join(filter(None, [record.plugin, record.plugin_version]))
    lines = [
        ("run", record.run_id or "-"),
        ("method", record.method + (f" (plugin {plugin})" if plugin else "")),
        ("dataset", record.dataset + (f" ({data})" if data else "")),
        ("seed", "-" if record.seed is None else str(record.seed)),
        ("created", record.created_at or "-"),
        ("params", describe_params(record.params) or "-"),
    ]
    if record.prep:
        lines.append(("prep", describe_params(record.prep)))
    if record.training:
        lines.append(("training", describe_params(record.training)))
    if record.timing:
        lines.append(("timing", describe_params(record.timing)))
    if record.model_bytes is not None:
        lines.append(("model size", _size(record.model_bytes)))
    for key, value in record.extra.items():  # a fused run's sources, newer keys
        lines.append((key, json.dumps(value, default=str)))
    model = files["model"] or "-"
    if files["model"] and not files["model_present"]:
        model += " (missing)"
    lines += [("record", files["record"]), ("ranking", files["ranking"] or "-"), ("model", model)]
    if record.env:
        lines.append(("env", describe_params(record.env)))
    width = max(len(label) for label, _ in lines)
    text = [f"{label.ljust(width)}  {value}" for label, value in lines]
    return "\n".join([*text[:6], "metrics", *_metrics_grid(record, plugins), *text[6:]])


def _metrics_grid(record: RunRecord, plugins: Plugins) -> list[str]:
    """The metrics as a k-by-family grid in percent, families in the registry's order."""
    names = sorted(record.metrics, key=plugins.metrics.sort_key)
    families = list(dict.fromkeys(n.partition("@")[0] for n in names))
    ks = sorted(
        {n.partition("@")[2] for n in names},
        key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k),
    )
    header = ["k", *(plugins.metrics.label(f"{f}@").removesuffix("@") for f in families)]
    rows = [[k, *(_percent(record.metrics.get(f"{f}@{k}")) for f in families)] for k in ks]
    grid = _aligned(header, rows, right=set(range(len(header))))
    return ["  " + line for line in grid.splitlines()]


# --------------------------------------------------------------------------- export


def _export_format(fmt: str | None, output: Path | None) -> str:
    if fmt:
        return fmt
    if output is not None:
        return _SUFFIX_FORMATS.get(output.suffix.lower(), "csv")
    return "csv"


def _export(args: argparse.Namespace, plugins: Plugins) -> int:
    """Every selected run as one row, to stdout or atomically to --output."""
    from ..preflight import check_output_file
    from ..results.lookup import NoRunsError
    from ..results.store import runs_frame

    output = Path(args.output) if args.output else None
    fmt = _export_format(args.format, output)
    if fmt == "parquet":
        _require_pyarrow()
        if output is None:
            raise XMCBenchError("--format parquet is binary: give --output FILE.parquet")
    if output is not None:
        check_output_file(output, "--output")
    runs = _selected(args, plugins)
    if not runs:
        raise NoRunsError(
            f"no runs in {args.results} match {_filters_text(args)}: nothing to export"
        )
    frame = runs_frame(runs)
    if output is None:
        echo(frame.to_csv(index=False) if fmt == "csv" else _json_rows(frame))
        return 0
    _write(frame, fmt, output)
    err_console.print(f"wrote {len(frame)} runs to {output}", markup=False, highlight=False)
    return 0


def _require_pyarrow() -> None:
    """Parquet is optional: say how to get it, in one line, before any work."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise XMCBenchError(_PYARROW_HINT) from None


def _json_rows(frame: pd.DataFrame) -> str:
    """The table as a JSON list of objects; a missing value is null, not NaN or <NA>."""
    return json_text(frame.astype(object).where(frame.notna(), None).to_dict("records"))


def _write(frame: pd.DataFrame, fmt: str, output: Path) -> None:
    """The table in `fmt` at `output`, replacing it only once completely written."""
    from ..io import atomic_path, write_text

    if fmt == "json":
        write_text(output, _json_rows(frame) + "\n")
    elif fmt == "csv":
        write_text(output, frame.to_csv(index=False))
    else:
        with atomic_path(output) as tmp:
            frame.to_parquet(tmp, index=False)


RESULTS = Command(
    "results",
    "list, show and export the runs in a results folder",
    cmd_results,
    _results_arguments,
)
