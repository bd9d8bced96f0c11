"""Show an `Explanation`: tokens shaded by attention in a terminal, as plain text in a pipe, and
as an HTML page (the Jinja2 template ``results/templates/explain.html``).

Shading spans the weights' range within the document: its least attended token is white and its
most attended one full orange, so a near-uniform attention still shows which tokens lead.
Tokens past the model's maximum length were never read: they carry weight 0 and stay white.
The exact weights are in the HTML tooltips and in the plain-text output.
"""

from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.console import Console, Group
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .explain import Explanation
from .results.templating import render_template

__all__ = [
    "explanation_html",
    "explanation_renderable",
    "explanation_text",
    "print_explanation",
    "shading",
    "weight_range",
]

_HIGH = (255, 120, 0)  # colour of the most attended token; the least attended stays white


def weight_range(weights: np.ndarray) -> tuple[float, float]:
    """(lowest, highest) weight over the tokens the model read (those up to the last weighted)."""
    read = _read_count(weights)
    if read == 0:
        return 0.0, 0.0
    return float(weights[:read].min()), float(weights[:read].max())


def shading(weights: np.ndarray) -> np.ndarray:
    """(n,) intensities in [0, 1]: the document's lowest weight is 0, its highest 1.

    Equal weights all get 0 (no token stands out); unread tokens past the last weighted one get 0.
    """
    weights = np.asarray(weights, dtype=np.float64)
    low, high = weight_range(weights)
    levels = np.zeros_like(weights)
    if high > low:
        read = _read_count(weights)
        levels[:read] = (weights[:read] - low) / (high - low)
    return np.clip(levels, 0.0, 1.0)


def _read_count(weights: np.ndarray) -> int:
    """Tokens up to and including the last one with a non-zero weight."""
    nonzero = np.flatnonzero(np.asarray(weights) > 0)
    return int(nonzero[-1]) + 1 if len(nonzero) else 0


def _rgb(intensity: float) -> tuple[int, int, int]:
    return tuple(round(255 + (c - 255) * intensity) for c in _HIGH)  # type: ignore[return-value]


def _heading(exp: Explanation) -> str:
    doc_id = f" ({exp.doc_id})" if exp.doc_id else ""
    truth = "a true label" if exp.label_is_true else "not a true label"
    return (
        f"{exp.method} on {exp.dataset}, run {exp.run_id}: test document {exp.doc}{doc_id}, "
        f"attention to label {exp.label_name} (#{exp.label}, {truth})"
    )


def _scale(exp: Explanation) -> str:
    low, high = weight_range(exp.weights)
    return f"shade: white = lowest weight here ({low:.4f}), orange = highest ({high:.4f})"


def explanation_renderable(exp: Explanation) -> Group:
    """A rich renderable: heading, the shaded document, its scale, then the top predictions."""
    heading = Text.assemble(
        (f"{exp.method}", "bold"),
        f" on {exp.dataset}, run {exp.run_id}: test document {exp.doc}",
        f" ({exp.doc_id})" if exp.doc_id else "",
        ", attention to label ",
        (exp.label_name, "bold"),
        f" (#{exp.label}, {'a true label' if exp.label_is_true else 'not a true label'})",
    )
    body = Text()
    for word, level in zip(exp.words, shading(exp.weights), strict=True):
        back = Color.from_rgb(*_rgb(float(level)))
        body.append(word, Style(color="black", bgcolor=back))
        body.append(" ")
    table = Table(title=f"top {len(exp.predictions)} predictions")
    table.add_column("#", justify="right")
    table.add_column("label")
    table.add_column("score", justify="right")
    table.add_column("true")
    for rank, (name, score, true) in enumerate(exp.predictions, start=1):
        table.add_row(str(rank), name, f"{score:.4f}", "✓" if true else "")
    truth = Text("true labels: " + (", ".join(exp.true_labels) or "none"))
    return Group(heading, body, Text(_scale(exp), style="dim"), table, truth)


def explanation_text(exp: Explanation) -> str:
    """Plain text for a pipe: ``#`` comment lines, then tab-separated tokens and predictions.

    One ``position, token, weight`` line per token (weights to 6 decimals), then one
    ``rank, label, score, true`` line per prediction; no colour codes, no wrapping.
    """
    lines = [f"# {_heading(exp)}", "position\ttoken\tweight"]
    lines += [
        f"{i}\t{word}\t{float(weight):.6f}"
        for i, (word, weight) in enumerate(zip(exp.words, exp.weights, strict=True))
    ]
    lines += [f"# top {len(exp.predictions)} predictions", "rank\tlabel\tscore\ttrue"]
    lines += [
        f"{rank}\t{name}\t{score:.4f}\t{'true' if true else 'false'}"
        for rank, (name, score, true) in enumerate(exp.predictions, start=1)
    ]
    lines.append("# true labels: " + (", ".join(exp.true_labels) or "none"))
    return "\n".join(lines) + "\n"


def print_explanation(exp: Explanation, console: Console) -> None:
    """Shaded tokens on a terminal; the weights as plain text when stdout is a pipe or a file."""
    if console.is_terminal:
        console.print(explanation_renderable(exp))
    else:
        console.file.write(explanation_text(exp))
        console.file.flush()


def explanation_html(exp: Explanation) -> str:
    """A standalone page (no scripts, no external files): shaded tokens, predictions, truth."""
    low, high = weight_range(exp.weights)
    read = _read_count(exp.weights)
    tokens = [
        {
            "word": word,
            "weight": f"{float(weight):.5f}",
            "rgb": "rgb({}, {}, {})".format(*_rgb(float(level))),
            "read": i < read,
        }
        for i, (word, weight, level) in enumerate(
            zip(exp.words, exp.weights, shading(exp.weights), strict=True)
        )
    ]
    predictions = [
        {"rank": rank, "name": name, "score": f"{score:.4f}", "true": true}
        for rank, (name, score, true) in enumerate(exp.predictions, start=1)
    ]
    return render_template(
        "explain.html",
        title=f"Attention of test document {exp.doc} to label {exp.label_name}",
        exp=exp,
        status="a true label" if exp.label_is_true else "not a true label",
        tokens=tokens,
        predictions=predictions,
        unread=len(tokens) - read,
        low=f"{low:.4f}",
        high=f"{high:.4f}",
        high_rgb="rgb({}, {}, {})".format(*_HIGH),
    )
