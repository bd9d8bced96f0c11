"""Commands for inputs on disk: `datasets list|info|download|prepare`, `embeddings ...`."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from ..errors import XMCBenchError
from ..plugins import Plugins
from .base import Command
from .console import console, echo

__all__ = ["DATASETS", "EMBEDDINGS"]


def _datasets_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(action=None)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
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


def cmd_datasets(args: argparse.Namespace, plugins: Plugins) -> int:
    """Dispatch `xmcbench datasets [ACTION]` (default: list)."""
    action = args.action or "list"
    if action == "list":
        return _list_datasets(plugins)
    spec = plugins.datasets.get(args.name)
    if action == "download":
        from ..data.download import download

        if not spec.sources:
            raise XMCBenchError(f"dataset {spec.name!r} is built locally and needs no download")
        folder = download(spec, source=args.source, progress=not args.quiet)
        console.print(f"{spec.name}: files in {folder}")
        return 0
    if action == "prepare":
        from ..data.resolve import load_dataset

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


def _embeddings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(action=None)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="the known word-vector files and whether they are downloaded")
    fetch = actions.add_parser(
        "download", help="download (resumable, sha256-checked) and unpack; print the file's path"
    )
    fetch.add_argument("name")
    fetch.add_argument(
        "--source",
        metavar="URL",
        help="fetch from this URL or local archive instead of the built-in mirrors",
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    where = actions.add_parser("path", help="print the downloaded file's path")
    where.add_argument("name")


def cmd_embeddings(args: argparse.Namespace, plugins: Plugins) -> int:
    """Dispatch `xmcbench embeddings ACTION`; paths go to stdout alone, for `$(...)` in scripts."""
    from ..data import resources

    action = args.action or "list"
    if action == "list":
        return _list_embeddings(resources)
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


def _list_embeddings(resources: Any) -> int:
    table = Table(title="word embeddings")
    for column in ("name", "dims", "words", "size", "downloaded"):
        wide = column == "downloaded"
        table.add_column(column, no_wrap=not wide, overflow="fold" if wide else "ellipsis")
    for resource in sorted(resources.RESOURCES.values(), key=lambda r: r.name):
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
