"""Commands that use a saved run's model: `predict` (label new texts) and `explain` (attention)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table
from rich.text import Text

from ..plugins import Plugins
from .base import Command
from .console import console, echo
from .options import add_results_option

__all__ = ["EXPLAIN", "PREDICT"]

_PREVIEW = 60  # characters of a text shown in a table title


def _run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run",
        required=True,
        help="run id, a unique prefix or suffix of one (e.g. its last 8 characters), or a record",
    )
    add_results_option(parser, "where run ids are looked up")


def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    _run_option(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="one document to label")
    source.add_argument("--file", help="a text file, one document per line")
    parser.add_argument("--k", type=int, default=5, help="labels per document (default: 5)")
    parser.add_argument(
        "--format",
        default="table",
        choices=["table", "json"],
        help="a table per document, or JSON (default: %(default)s)",
    )


def cmd_predict(args: argparse.Namespace, plugins: Plugins) -> int:
    """Each text's top-k labels by name and score, as tables or JSON."""
    from ..predict import predict_texts, predictions_json, read_texts
    from ..results.lookup import find_run

    texts = read_texts(args.text, args.file)
    _, record = find_run(args.run, Path(args.results))
    predictions = predict_texts(record, texts, args.k, plugins)
    if args.format == "json":
        echo(predictions_json(record, predictions))
        return 0
    for number, p in enumerate(predictions, start=1):
        preview = p.text if len(p.text) <= _PREVIEW else p.text[: _PREVIEW - 1] + "…"
        console.print(Text.assemble((f"text {number}: ", "bold"), preview))
        table = Table()
        table.add_column("#", justify="right")
        table.add_column("label")
        table.add_column("score", justify="right")
        for rank, (_, name, score) in enumerate(p.labels, start=1):
            table.add_row(str(rank), name, f"{score:.4f}")
        console.print(table)
        vocabulary = f"{p.known} of {p.tokens} tokens in the vocabulary of {record.dataset}"
        console.print(vocabulary, highlight=False)
    console.print(f"run {record.run_id}: {record.method} on {record.dataset}", highlight=False)
    return 0


def _explain_arguments(parser: argparse.ArgumentParser) -> None:
    _run_option(parser)
    parser.add_argument("--doc", type=int, required=True, help="test document index (from 0)")
    parser.add_argument("--label", required=True, help="label name or index")
    parser.add_argument("--k", type=int, default=5, help="top predictions shown (default: 5)")
    parser.add_argument("--output", help="also write the view as this HTML file")


def cmd_explain(args: argparse.Namespace, plugins: Plugins) -> int:
    """A test document shaded by attention to a label, with the run's top predictions."""
    from ..explain import explain_document
    from ..explain_render import explanation_html, print_explanation
    from ..io import write_text
    from ..preflight import check_output_file
    from ..results.lookup import find_run

    if args.output:
        check_output_file(Path(args.output), "--output")
    _, record = find_run(args.run, Path(args.results))
    explanation = explain_document(record, args.doc, args.label, plugins, k=args.k)
    print_explanation(explanation, console)
    if args.output:
        write_text(Path(args.output), explanation_html(explanation))
        console.print(f"page: {args.output}")
    return 0


PREDICT = Command(
    "predict", "label new texts with a saved run's model", cmd_predict, _predict_arguments
)
EXPLAIN = Command(
    "explain",
    "a test document's tokens weighted by attention to a label (Figure 3)",
    cmd_explain,
    _explain_arguments,
)
