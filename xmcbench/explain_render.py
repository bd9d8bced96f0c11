"""Show an `Explanation`: tokens shaded by attention in the terminal (rich) and as an HTML page.

Shading is relative to the document's largest weight (as in the paper's Figure 3); each token's
exact weight is in the HTML tooltip.
"""

from __future__ import annotations

import html

import numpy as np
from rich.color import Color
from rich.console import Console, Group
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .explain import Explanation

__all__ = ["explanation_html", "explanation_renderable", "print_explanation"]

_TRUE_CLASS = ' class="true"'  # rows of true labels
_HIGH = (255, 120, 0)  # colour of the most attended token; weight 0 stays white
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}"
    ".doc{line-height:2;font-family:ui-monospace,monospace;border:1px solid #ddd;padding:1em}"
    ".doc span{padding:.1em .05em;border-radius:3px}"
    "table{border-collapse:collapse}th,td{padding:.25em .6em;border-bottom:1px solid #ddd}"
    ".true{color:#0a7d28;font-weight:bold}.legend{display:inline-block;width:12em;height:1em;"
    f"background:linear-gradient(to right,#fff,rgb{_HIGH});border:1px solid #ccc;"
    "vertical-align:middle}"
)


def shading(weights: np.ndarray) -> np.ndarray:
    """(n,) intensities in [0, 1]: each weight over the document's largest."""
    top = float(weights.max(initial=0.0))
    return weights / top if top > 0 else np.zeros_like(weights)


def _rgb(intensity: float) -> tuple[int, int, int]:
    return tuple(round(255 + (c - 255) * intensity) for c in _HIGH)  # type: ignore[return-value]


def explanation_renderable(exp: Explanation) -> Group:
    """A rich renderable: heading, the shaded document, then the top predictions."""
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
    return Group(heading, body, table, truth)


def print_explanation(exp: Explanation, console: Console) -> None:
    console.print(explanation_renderable(exp))


def explanation_html(exp: Explanation) -> str:
    """A standalone page (no scripts, no external files): shaded tokens, predictions, truth."""
    esc = html.escape
    title = f"Attention of test document {exp.doc} to label {exp.label_name}"
    spans = " ".join(
        f'<span style="background:rgb{_rgb(float(level))}" title="{weight:.5f}">{esc(word)}</span>'
        for word, weight, level in zip(exp.words, exp.weights, shading(exp.weights), strict=True)
    )
    rows = "\n".join(
        f"<tr{_TRUE_CLASS if true else ''}><td>{rank}</td><td>{esc(name)}</td>"
        f"<td>{score:.4f}</td><td>{'✓ true' if true else ''}</td></tr>"
        for rank, (name, score, true) in enumerate(exp.predictions, start=1)
    )
    status = "a true label" if exp.label_is_true else "not a true label"
    doc_id = f" ({esc(exp.doc_id)})" if exp.doc_id else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n"
        f"<p>Run <code>{esc(exp.run_id)}</code>: <b>{esc(exp.method)}</b> on "
        f"<b>{esc(exp.dataset)}</b>, test document {exp.doc}{doc_id}. Label "
        f'<b class="label">{esc(exp.label_name)}</b> (#{exp.label}) is {status}.</p>\n'
        f'<p>Attention: 0 <span class="legend"></span> largest weight in the document '
        f"({float(exp.weights.max(initial=0.0)):.4f}); hover a word for its weight.</p>\n"
        f'<div class="doc">{spans}</div>\n'
        f"<h2>Top {len(exp.predictions)} predictions</h2>\n"
        "<table>\n<tr><th>#</th><th>label</th><th>score</th><th>true</th></tr>\n"
        f"{rows}\n</table>\n"
        f"<p>True labels: {esc(', '.join(exp.true_labels)) or 'none'}</p>\n"
        "</body>\n</html>\n"
    )
