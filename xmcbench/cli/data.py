"""Commands for inputs on disk: `datasets list|info|download|prepare`, `embeddings ...`."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import XMCBenchError
from ..plugins import Plugins
from .base import Command
from .console import console, echo, print_json, titled_table
from .options import add_prep_option, prep_from

__all__ = ["DATASETS", "EMBEDDINGS"]


def _datasets_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(action=None)
    parser.add_argument("--json", action="store_true", help="list the datasets as JSON")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="list registered datasets")
    # SUPPRESS: `datasets --json list` keeps what the parent parsed
    listing.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON")
    for action, help_text in (
        ("info", "describe a dataset"),
        ("download", "download a dataset into $XMCBENCH_HOME"),
        ("prepare", "download and preprocess a dataset (cached)"),
    ):
        p = actions.add_parser(action, help=help_text)
        p.add_argument("name", metavar="NAME", help="a registered dataset or alias")
        if action == "download":
            p.add_argument("--source", help="which source to use (default: the first that works)")
        if action == "prepare":
            add_prep_option(p)  # as `run` takes it: the same options make the same cache
        if action != "info":
            p.add_argument("--quiet", action="store_true", help="no progress bars")
        else:
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON")


def cmd_datasets(args: argparse.Namespace, plugins: Plugins) -> int:
    """Dispatch `xmcbench datasets [ACTION]` (default: list)."""
    action = args.action or "list"
    if action == "list":
        return _list_datasets(plugins, as_json=args.json)
    spec = plugins.datasets.get(args.name)
    if action == "download":
        from ..data.download import download

        if not spec.sources:
            raise XMCBenchError(f"dataset {spec.name!r} is built locally and needs no download")
        folder = download(spec, source=args.source, progress=not args.quiet)
        console.print(f"{spec.name}: files in {folder}")
        return 0
    if action == "prepare":
        from ..data.prep_options import PrepareOptions
        from ..data.resolve import load_dataset

        prep = prep_from(args)
        PrepareOptions.from_mapping(prep)  # a bad key or value: one line, before any download
        dataset = load_dataset(spec.name, plugins.datasets, options=prep, progress=not args.quiet)
        console.print(
            f"{dataset.name}: {len(dataset.train)} train, {len(dataset.test)} test, "
            f"{dataset.n_labels} labels, cached as {dataset.content_hash[:12]}"
        )
        return 0
    return _dataset_info(spec, as_json=args.json)


def datasets_listing(plugins: Plugins) -> list[dict[str, Any]]:
    """One entry per registered dataset (numbers as numbers, None when the card has none)."""
    return [_listed(spec) for spec in plugins.datasets]


def _listed(spec: Any) -> dict[str, Any]:
    """A dataset's row of `datasets --json`."""
    return {
        "name": spec.name,
        "aliases": list(spec.aliases),
        "title": spec.title,
        "n_train": spec.stats.get("n_train"),
        "n_test": spec.stats.get("n_test"),
        "n_labels": spec.stats.get("n_labels"),
        "propensity_a": spec.propensity_a,
        "propensity_b": spec.propensity_b,
        "valid_size": spec.valid_size,
        "source": _source(spec),
        "plugin": spec.plugin,
    }


def _source(spec: Any) -> str:
    return "built locally" if spec.builder else ("download" if spec.sources else spec.plugin)


def _list_datasets(plugins: Plugins, *, as_json: bool = False) -> int:
    if as_json:
        print_json(datasets_listing(plugins))
        return 0
    table = titled_table("datasets")
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
            _source(spec),
        )
    console.print(table)
    return 0


def _dataset_info(spec: Any, *, as_json: bool = False) -> int:
    if as_json:
        sources = [{"name": s.name, "kind": s.kind, "url": s.url} for s in spec.sources]
        print_json({**_listed(spec), "description": spec.description, "sources": sources})
        return 0
    console.print(f"[bold]{spec.name}[/bold] — {spec.title}")
    console.print(spec.description)
    for key, value in spec.stats.items():
        console.print(f"  {key}: {value:,}")
    for source in spec.sources:
        console.print(f"  source {source.name or source.kind}: {source.url}")
    return 0


def _embeddings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(action=None)
    parser.add_argument("--json", action="store_true", help="list them as JSON")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser(
        "list", help="the known word-vector files and whether they are downloaded"
    )
    listing.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON")
    fetch = actions.add_parser(
        "download", help="download (resumable, sha256-checked) and unpack; print the file's path"
    )
    fetch.add_argument("name", metavar="NAME", help="a word-vector file (`embeddings list`)")
    fetch.add_argument(
        "--source",
        metavar="URL",
        help="fetch from this URL or local archive instead of the built-in mirrors",
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    where = actions.add_parser("path", help="print the downloaded file's path")
    where.add_argument("name", metavar="NAME", help="a word-vector file (`embeddings list`)")


def cmd_embeddings(args: argparse.Namespace, plugins: Plugins) -> int:
    """Dispatch `xmcbench embeddings ACTION`; paths go to stdout alone, for `$(...)` in scripts."""
    from ..data import resources

    action = args.action or "list"
    if action == "list":
        return _list_embeddings(resources, as_json=args.json)
    name = resources.get_resource(args.name).name
    if action == "download":
        path = resources.download_resource(name, source=args.source, progress=not args.quiet)
    else:
        path = resources.resource_path(name)
        if path is None:
            raise XMCBenchError(
                f"{name} is not downloaded (expected at {resources.expected_path(name)}): "
                f"run `{resources.download_hint(name)}`"
            )
    echo(str(path))
    return 0


def _list_embeddings(resources: Any, *, as_json: bool = False) -> int:
    known = sorted(resources.RESOURCES.values(), key=lambda r: r.name)
    if as_json:
        print_json(
            [
                {
                    "name": r.name,
                    "dims": r.dims,
                    "words": r.words,
                    "bytes": r.bytes,
                    **resources.resource_status(r.name),
                }
                for r in known
            ]
        )
        return 0
    table = titled_table("word embeddings")
    for column in ("name", "dims", "words", "size", "downloaded"):
        wide = column == "downloaded"
        table.add_column(column, no_wrap=not wide, overflow="fold" if wide else "ellipsis")
    for resource in known:
        status = resources.resource_status(resource.name)
        table.add_row(
            resource.name,
            str(resource.dims),
            f"{resource.words:,}",
            _human(resource.bytes) if resource.bytes else "?",
            _state(status, resource.bytes),
        )
    console.print(table)
    return 0


def _state(status: dict[str, Any], total: int | None) -> str:
    state = status["state"]
    if state == "complete":
        return f"yes: {status['path']}"
    if state == "partial":
        of = f" of {_human(total)}" if total else ""
        return f"partly ({_human(status['part_bytes'])}{of}): download again to resume"
    if state == "downloaded":
        return "archive only: download again to check and unpack it"
    return "no"


def _human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


DATASETS = Command(
    "datasets",
    "list, describe, download or prepare datasets",
    cmd_datasets,
    _datasets_arguments,
)
EMBEDDINGS = Command(
    "embeddings",
    "list, download or locate pretrained word vectors (GloVe)",
    cmd_embeddings,
    _embeddings_arguments,
)
