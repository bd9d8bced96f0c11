"""The `embeddings` subcommand: list, download and locate pretrained word vectors (GloVe)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from .errors import XMCBenchError
from .plugins import Plugins

__all__ = ["add_embeddings_commands"]


def add_embeddings_commands(sub: Any) -> None:
    """Add `embeddings list|download NAME [--source URL]|path NAME` to the CLI's subparsers."""
    embeddings = sub.add_parser(
        "embeddings", help="list, download or locate pretrained word vectors (GloVe)"
    )
    embeddings.set_defaults(handler=cmd_embeddings, action=None)
    actions = embeddings.add_subparsers(dest="action", metavar="ACTION")
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
    from .data import resources

    action = args.action or "list"
    if action == "list":
        return _list(resources)
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
    print(path)
    return 0


def _list(resources: Any) -> int:
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
    Console().print(table)
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
