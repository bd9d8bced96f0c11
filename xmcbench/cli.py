"""The `xmcbench` command line: run, compare, leaderboard, and listings of what is loaded."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from . import __version__
from .cli_embeddings import add_embeddings_commands
from .cli_inference import add_inference_commands
from .cli_reports import add_compare_by_options, add_report_commands, cmd_compare_by
from .errors import XMCBenchError, describe_os_error
from .plugins import Plugins, get_plugins
from .preflight import results_to_read
from .runtime import configure as configure_runtime

console = Console()
err_console = Console(stderr=True)


def parse_value(text: str) -> Any:
    """`--set` values: JSON (3, 0.5, true, [1,2]), number lists like "512,256", else text."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if "," in text:
        parts = [parse_value(part) for part in text.split(",")]
        if all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in parts):
            return parts
    return text


def parse_assignments(pairs: Sequence[str], option: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise XMCBenchError(f"{option} expects key=value, got {pair!r}")
        result[key.strip()] = parse_value(value)
    return result


def read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A TOML or JSON file of method parameters, with an optional `prep` table."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise XMCBenchError(f"{path}: cannot read config: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise XMCBenchError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise XMCBenchError(f"{path}: expected a table of parameters")
    prep = data.pop("prep", {})
    if not isinstance(prep, dict):
        raise XMCBenchError(
            f"{path}: 'prep' must be a table of preprocessing options, got {prep!r}"
        )
    return data, prep


# ---------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace, plugins: Plugins) -> int:
    from .runner import RunRequest, run

    params, prep = read_config(Path(args.config)) if args.config else ({}, {})
    params.update(parse_assignments(args.set, "--set"))
    prep.update(parse_assignments(args.prep, "--prep"))
    request = RunRequest(
        method=args.method,
        dataset=args.dataset,
        params=params,
        prep=prep,
        seed=args.seed,
        device=args.device,
        results_dir=Path(args.results),
        progress=not args.quiet,
    )
    plugins.methods.get(args.method)  # fail fast on a misspelled method, before any data work
    path = run(request, plugins, log=(lambda *_: None) if args.quiet else console.print)
    if path is None:  # a secondary torchrun process: rank 0 writes and prints the record
        return 0
    record = json.loads(path.read_text())
    _print_record(record)
    console.print(f"record: {path}")
    return 0


def _print_record(record: dict[str, Any]) -> None:
    table = Table(title=f"{record['method']} on {record['dataset']} (seed {record['seed']})")
    names = sorted({name.split("@")[0] for name in record["metrics"]}, key=_metric_order)
    ks = sorted({int(name.split("@")[1]) for name in record["metrics"]})
    table.add_column("k", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for k in ks:
        cells = [
            f"{100 * record['metrics'][f'{n}@{k}']:.2f}" if f"{n}@{k}" in record["metrics"] else "-"
            for n in names
        ]
        table.add_row(str(k), *cells)
    console.print(table)
    timing = record["timing"]
    console.print(
        f"train {timing['train_s']:.1f} s, predict {timing['predict_ms_per_doc']:.3f} ms/doc, "
        f"model {record['model_bytes'] / 1e6:.2f} MB, peak RSS {timing['peak_rss_mb']:.0f} MB"
    )


def _metric_order(name: str) -> tuple[int, str]:
    order = {"p": 0, "ndcg": 1, "psp": 2, "psndcg": 3}
    return order.get(name, 9), name


def cmd_compare(args: argparse.Namespace, plugins: Plugins) -> int:
    if args.by:  # one method's runs by parameter values (Tables 5, 7-9)
        return cmd_compare_by(args, plugins)
    from .results.store import load_records
    from .results.tables import compare_table, render

    records = load_records(results_to_read(args.results), include_reported=not args.no_reported)
    tables = compare_table(
        records,
        metrics=_split_list(args.metrics),
        ks=tuple(int(k) for k in _split_list(args.ks)),
        datasets=[_canonical_dataset(name, plugins) for name in _split_list(args.datasets)] or None,
        methods=_split_list(args.methods) or None,
    )
    if not tables:
        raise XMCBenchError(f"no results to compare in {args.results}")
    output = render(tables, args.format, ansi=console.is_terminal)
    sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return 0


def cmd_leaderboard(args: argparse.Namespace, plugins: Plugins) -> int:
    from .preflight import check_writable_dir
    from .results.leaderboard import write_leaderboard
    from .results.store import load_records

    check_writable_dir(Path(args.out), "--output")
    records = load_records(results_to_read(args.results), include_reported=not args.no_reported)
    paths = write_leaderboard(records, Path(args.out))
    if not paths:
        raise XMCBenchError(f"no results in {args.results}")
    out = Path(args.out)
    for path in paths:
        if path.parent == out:  # the pages; runs/ holds one page and one JSON per run
            console.print(str(path), soft_wrap=True, highlight=False)
    console.print(f"site: {out / 'index.html'} ({len(paths)} files)", soft_wrap=True)
    return 0


def cmd_fuse(args: argparse.Namespace, plugins: Plugins) -> int:
    """Combine saved runs on one dataset into a new run (see xmcbench/fusion.py)."""
    from .fusion import fuse_runs

    result = fuse_runs(
        args.runs,
        Path(args.results),
        plugins,
        weights=args.weights,
        name=args.name,
        combine=args.combine,
    )
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    _print_record(json.loads(result.path.read_text()))
    console.print(f"record: {result.path}", soft_wrap=True)
    return 0


def cmd_plugins(args: argparse.Namespace, plugins: Plugins) -> int:
    table = Table(title="plugins")
    for column in ("name", "distribution", "version", "status"):
        table.add_column(column)
    for info in sorted(plugins.info.values(), key=lambda p: p.name):
        status = f"[red]failed: {info.error}[/red]" if info.error else "[green]ok[/green]"
        table.add_row(info.name, info.distribution, info.version, status)
    console.print(table)
    return 1 if plugins.failures and args.strict else 0


def cmd_methods(args: argparse.Namespace, plugins: Plugins) -> int:
    """List the methods (no method module imported), or describe one: parameters and presets."""
    if args.name:
        return _describe_method(args, plugins)
    if args.json:
        listing = [
            {
                "name": spec.name,
                "plugin": spec.plugin,
                "aliases": plugins.methods.aliases_of(spec.name),
                "description": spec.description,
                "fixed": dict(spec.params),
            }
            for spec in plugins.methods
        ]
        print(json.dumps(listing, indent=2, default=str))
        return 0
    table = Table(title="methods")
    for column in ("name", "plugin", "description"):
        table.add_column(column)
    for spec in plugins.methods:
        aliases = plugins.methods.aliases_of(spec.name)
        name = spec.name + (f" ({', '.join(aliases)})" if aliases else "")
        fixed = f" [fixed: {json.dumps(dict(spec.params))}]" if spec.params else ""
        table.add_row(name, spec.plugin, spec.description + fixed)
    console.print(table)
    return 0


def method_description(spec: Any) -> dict[str, Any]:
    """A method's parameters and presets: its class's `describe()`, else its constructor's."""
    import inspect

    cls = spec.load()  # imports this method's module only
    describe = getattr(cls, "describe", None)
    if callable(describe):
        return {**describe(fixed=dict(spec.params)), "method": spec.name}
    params = []
    for name, p in inspect.signature(cls).parameters.items():
        if name in ("seed", "device") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        kind = "" if p.annotation is p.empty else str(p.annotation)
        default = None if p.default is p.empty else p.default
        params.append({"name": name, "default": default, "type": kind})
    return {"method": spec.name, "fixed": dict(spec.params), "params": params, "presets": {}}


def _describe_method(args: argparse.Namespace, plugins: Plugins) -> int:
    """`xmcbench methods NAME [--json]`: the parameters table and one row per preset."""
    info = method_description(plugins.methods.get(args.name))
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    table = Table(title=f"{info['method']} parameters")
    for column in ("name", "default", "type"):
        table.add_column(column)
    defaults = {}
    for param in info["params"]:
        defaults[param["name"]] = param["default"]
        table.add_row(param["name"], json.dumps(param["default"], default=str), str(param["type"]))
    console.print(table)
    presets = Table(title=f"{info['method']} presets (values that differ from the defaults)")
    for column in ("preset", "values"):
        presets.add_column(column)
    for name, values in info.get("presets", {}).items():
        changed = {k: v for k, v in values.items() if defaults.get(k) != v}
        default = " (default)" if name == info.get("default_preset") else ""
        presets.add_row(name + default, json.dumps(changed, default=str))
    if info.get("presets"):
        console.print(presets)
    for name, note in info.get("notes", {}).items():
        console.print(f"{name}: {note}", highlight=False, soft_wrap=True)
    return 0


def cmd_metrics(args: argparse.Namespace, plugins: Plugins) -> int:
    table = Table(title="metrics (each reported at k = 1, 3, 5)")
    for column in ("name", "plugin", "description"):
        table.add_column(column)
    for spec in plugins.metrics:
        table.add_row(spec.name + "@k", spec.plugin, spec.description)
    console.print(table)
    return 0


def cmd_datasets(args: argparse.Namespace, plugins: Plugins) -> int:
    action = args.action or "list"
    if action == "list":
        return _list_datasets(plugins)
    spec = plugins.datasets.get(args.name)
    if action == "download":
        from .data.download import download

        if not spec.sources:
            raise XMCBenchError(f"dataset {spec.name!r} is built locally and needs no download")
        folder = download(spec, source=args.source, progress=not args.quiet)
        console.print(f"{spec.name}: files in {folder}")
        return 0
    if action == "prepare":
        from .data.resolve import load_dataset

        dataset = load_dataset(spec.name, plugins.datasets, progress=not args.quiet)
        console.print(
            f"{dataset.name}: {len(dataset.train)} train, {len(dataset.test)} test, "
            f"{dataset.n_labels} labels, cached as {dataset.content_hash[:12]}"
        )
        return 0
    return _dataset_info(spec)


def _list_datasets(plugins: Plugins) -> int:
    table = Table(title="datasets")
    for column in (
        "name",
        "aliases",
        "title",
        "N train",
        "N test",
        "labels",
        "A, B",
        "valid",
        "source",
    ):
        table.add_column(column, no_wrap=column in ("name", "N train", "N test", "labels"))
    for spec in plugins.datasets:
        stats = spec.stats
        table.add_row(
            spec.name,
            ", ".join(spec.aliases),
            spec.title,
            f"{stats['n_train']:,.0f}" if "n_train" in stats else "",
            f"{stats['n_test']:,.0f}" if "n_test" in stats else "",
            f"{stats['n_labels']:,.0f}" if "n_labels" in stats else "",
            f"{spec.propensity_a}, {spec.propensity_b}",
            "" if spec.valid_size is None else str(spec.valid_size),
            "built locally" if spec.builder else ("download" if spec.sources else spec.plugin),
        )
    console.print(table)
    return 0


def _dataset_info(spec: Any) -> int:
    console.print(f"[bold]{spec.name}[/bold] — {spec.title}")
    console.print(spec.description)
    for key, value in spec.stats.items():
        console.print(f"  {key}: {value:,}")
    for source in spec.sources:
        console.print(f"  source {source.name or source.kind}: {source.url}")
    return 0


def _canonical_dataset(name: str, plugins: Plugins) -> str:
    """An alias (`eurlex`) names the same results as the dataset's canonical name (`eurlex-4k`)."""
    return plugins.datasets.get(name).name if name in plugins.datasets else name


def _split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


# ---------------------------------------------------------------- parser


DEBUG_HELP = "show the full traceback of an error (also: XMCBENCH_DEBUG=1)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xmcbench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"xmcbench {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="train, predict and evaluate a method on a dataset")
    run.add_argument("method")
    run.add_argument(
        "--dataset", required=True, help="a registered name or alias, or a folder path"
    )
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a hyperparameter"
    )
    run.add_argument(
        "--prep", action="append", default=[], metavar="KEY=VALUE", help="a preprocessing option"
    )
    run.add_argument("--config", help="TOML or JSON file of hyperparameters (and a [prep] table)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    run.add_argument("--results", default="results", help="result directory (default: results)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(handler=cmd_run)

    for name, handler, help_text in (
        ("compare", cmd_compare, "compare methods per dataset, paper style (Tables 3 and 6)"),
        ("leaderboard", cmd_leaderboard, "write the leaderboard: Markdown and a static site"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--results", default="results")
        p.add_argument(
            "--no-reported", action="store_true", help="leave out the paper's reported rows"
        )
        p.set_defaults(handler=handler)
        if name == "compare":
            p.add_argument("--metrics", default="p@k,psp@k", help="e.g. p@k,ndcg@k,psp@k,psndcg@5")
            p.add_argument("--ks", default="1,3,5")
            p.add_argument("--datasets", help="comma-separated names")
            p.add_argument("--methods", help="comma-separated names")
            p.add_argument(
                "--format", default="table", choices=["table", "markdown", "latex", "csv", "html"]
            )
            add_compare_by_options(p)
        else:
            p.add_argument("--out", "--output", dest="out", default="leaderboard")

    plugins_p = sub.add_parser("plugins", help="list loaded plugins and the ones that failed")
    plugins_p.add_argument("--strict", action="store_true", help="exit 1 if a plugin failed")
    plugins_p.set_defaults(handler=cmd_plugins)
    methods_p = sub.add_parser(
        "methods", help="list registered methods, or one method's parameters and presets"
    )
    methods_p.add_argument("name", nargs="?", help="a method: its parameters and presets")
    methods_p.add_argument("--json", action="store_true", help="print JSON")
    methods_p.set_defaults(handler=cmd_methods)
    sub.add_parser("metrics", help="list registered metrics").set_defaults(handler=cmd_metrics)
    add_inference_commands(sub)  # predict, explain
    add_embeddings_commands(sub)  # embeddings list|download|path
    add_report_commands(sub)  # report, sweep
    fuse = sub.add_parser("fuse", help="combine saved runs on one dataset into a new run")
    fuse.add_argument("runs", nargs="+", metavar="RUN", help="run id, unique prefix, or record")
    fuse.add_argument("--weights", help="one per run, e.g. 0.7,0.3 (default: equal)")
    fuse.add_argument("--combine", default="score", choices=["score", "rank"])
    fuse.add_argument("--name", help="method name of the fused run (default: fusion)")
    fuse.add_argument("--results", default="results", help="where runs are found and written")
    fuse.set_defaults(handler=cmd_fuse)

    datasets = sub.add_parser("datasets", help="list, describe, download or prepare datasets")
    datasets.set_defaults(handler=cmd_datasets, action=None)
    actions = datasets.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="list registered datasets")
    for action, help_text in (
        ("info", "describe a dataset"),
        ("download", "download a dataset into $XMCBENCH_HOME"),
        ("prepare", "download and preprocess a dataset (cached)"),
    ):
        p = actions.add_parser(action, help=help_text)
        p.add_argument("name")
        if action == "download":
            p.add_argument("--source", help="which source to use (default: the first that works)")
        if action != "info":
            p.add_argument("--quiet", action="store_true")
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
        traceback.print_exception(exc, file=sys.stderr)
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
        return _fail(str(exc), exc, debug, 2)
    except OSError as exc:  # the environment: a file or folder that cannot be read or written
        where = "" if exc.filename is not None or debug else " (run with --debug to see where)"
        return _fail(describe_os_error(exc) + where, exc, debug, 1)
    except KeyboardInterrupt as exc:  # Ctrl-C, or a termination signal turned into one
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        err_console.print("interrupted: run the same command again to resume", markup=False)
        return int(getattr(exc, "exit_code", 130))  # 130 for Ctrl-C; a subclass may say (SIGTERM)
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # a bug, here or in a library (pyo3 panics are BaseException)
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        hint = "" if debug else " (run with --debug for the traceback)"
        return _fail(detail + hint, exc, debug, 1)


if __name__ == "__main__":
    sys.exit(main())
