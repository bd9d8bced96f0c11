"""Tables as text: a rich terminal table, Markdown, LaTeX, CSV or HTML (see `FORMATS`).

HTML comes from the ``tables.html`` template (autoescaped); the rest from rich and tabulate.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Callable, Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text
from tabulate import tabulate

from xmcbench.errors import XMCBenchError
from xmcbench.results.formats import FORMATS
from xmcbench.results.table import Table

__all__ = ["markdown_escape", "render"]


def render(tables: Sequence[Table], fmt: str = "table", *, ansi: bool = True) -> str:
    """Tables as text: `table` (rich, bold via ANSI unless not ansi), markdown, latex, csv, html."""
    if fmt not in FORMATS:
        close = difflib.get_close_matches(fmt, FORMATS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(FORMATS)})"
        raise XMCBenchError(f"unknown table format {fmt!r}{hint}")
    if fmt == "table":
        return _render_rich(tables, ansi=ansi)
    renderers = {
        "markdown": _render_markdown,
        "latex": _render_latex,
        "csv": _render_csv,
        "html": _render_html,
    }
    return renderers[fmt](tables)


def _cells(table: Table, escape: Callable[[str], str], bold: Callable[[str], str]) -> list[list]:
    """Escaped cells with the best ones wrapped by `bold`."""
    return [
        [bold(escape(cell)) if (i, j) in table.best else escape(cell) for j, cell in enumerate(row)]
        for i, row in enumerate(table.rows)
    ]


def _align(table: Table) -> list[str]:
    if table.align is not None:
        return list(table.align)
    return ["left"] + ["right"] * (len(table.columns) - 1)


def _render_markdown(tables: Sequence[Table]) -> str:
    parts = []
    for t in tables:
        cells = _with_group_rows(
            t, _cells(t, markdown_escape, lambda s: f"**{s}**"), lambda h: f"*{markdown_escape(h)}*"
        )
        body = tabulate(
            cells,
            headers=[markdown_escape(c) for c in t.flat_columns()],
            tablefmt="pipe",
            disable_numparse=True,
            colalign=_align(t),
        )
        title = f"### {markdown_escape(t.title)}"
        parts.append("\n\n".join([title, body, *map(markdown_escape, t.notes)]))
    return "\n\n".join(parts) + "\n"


def _with_group_rows(table: Table, cells: list[list], header: Callable[[str], str]) -> list[list]:
    """`cells` with a row carrying each row group's header (in its first cell) before the group."""
    out = [list(row) for row in cells]
    for start, text in sorted(table.row_groups, reverse=True):
        out.insert(start, [header(text)] + [""] * (len(table.columns) - 1))
    return out


def markdown_escape(text: str) -> str:
    """Backslash-escape what Markdown (and a pipe table) would read as markup."""
    for char in ("\\", "`", "*", "_", "|"):
        text = text.replace(char, "\\" + char)
    return text


def _render_latex(tables: Sequence[Table]) -> str:
    parts = []
    for t in tables:
        cells = _cells(t, _latex_escape, lambda s: f"\\textbf{{{s}}}")
        body = tabulate(
            cells,
            headers=[_latex_escape(c) for c in t.columns],
            tablefmt="latex_raw",
            disable_numparse=True,
            colalign=_align(t),
        )
        notes = "\\par ".join(_latex_escape(n) for n in t.notes)
        parts.append(
            "\\begin{table}[ht]\n\\centering\n"
            f"\\caption{{{_latex_escape(t.title)}}}\n{_latex_groups(t, body)}\n"
            f"\\par\\smallskip{{\\footnotesize {notes}}}\n\\end{{table}}"
        )
    return "\n\n".join(parts) + "\n"


def _latex_groups(table: Table, body: str) -> str:
    """Add spanning column headers and row-group header lines to tabulate's latex_raw tabular.

    tabulate writes one line per row: begin, hline, header, hline, the rows, hline, end.
    """
    lines = body.split("\n")
    width = len(table.columns)
    for start, text in sorted(table.row_groups, reverse=True):
        lines.insert(
            4 + start, f"\\multicolumn{{{width}}}{{l}}{{\\textit{{{_latex_escape(text)}}}}} \\\\"
        )
    if table.column_groups:
        spans, rules, first = [], [], 1
        for label, span in table.column_groups:
            spans.append(f"\\multicolumn{{{span}}}{{c}}{{{_latex_escape(label)}}}" if label else "")
            if label:
                rules.append(f"\\cline{{{first}-{first + span - 1}}}")
            first += span
        lines.insert(2, " & ".join(spans) + " \\\\ " + " ".join(rules))
    return "\n".join(lines)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "–": "--",
}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def _render_html(tables: Sequence[Table]) -> str:
    """HTML tables from the ``tables.html`` template: spanning headers, row groups, bold best."""
    from xmcbench.results.templating import render_template

    views = []
    for t in tables:
        styles = [_ALIGN_STYLE.get(a, "") for a in _align(t)]
        starts = dict(t.row_groups)
        rows = [
            {
                "group": starts.get(i),
                "cells": [(cell, styles[j], (i, j) in t.best) for j, cell in enumerate(row)],
            }
            for i, row in enumerate(t.rows)
        ]
        views.append(
            {
                "title": t.title,
                "column_groups": t.column_groups,
                "head": list(zip(t.columns, styles, strict=True)),
                "rows": rows,
                "width": len(t.columns),
                "notes": t.notes,
            }
        )
    return render_template("tables.html", tables=views)


_ALIGN_STYLE = {"right": "text-align: right;", "center": "text-align: center;"}


def _render_csv(tables: Sequence[Table]) -> str:
    """One long CSV: dataset, group (when rows are grouped), the union of columns, and best.

    Spanning headers prefix their columns' names; the group column holds each row's group header.
    Where a table carries its numbers, metric cells are plain numbers (``72.0``) with the sample
    std in a ``<column>_std`` column after all the others, and a missing value is an empty cell.
    """
    header = list(dict.fromkeys(c for t in tables for c in t.flat_columns()))
    spreads = list(dict.fromkeys(c for t in tables for c in _spread_columns(t)))
    grouped = any(t.row_groups for t in tables)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    stds = [f"{c}_std" for c in spreads]
    writer.writerow(["dataset", *(["group"] if grouped else []), *header, *stds, "best"])
    for t in tables:
        names, groups = t.flat_columns(), t.group_of_row()
        for i, row in enumerate(t.rows):
            numbers = t.numbers[i] if t.numbers else (None,) * len(row)
            by_name = {
                name: (cell, None) if number is None else _csv_number(number)
                for name, cell, number in zip(names, row, numbers, strict=True)
            }
            best = ";".join(names[j] for j in range(len(row)) if (i, j) in t.best)
            group = [groups[i]] if grouped else []
            cells = [by_name.get(c, ("", None))[0] for c in header]
            spread = [by_name.get(c, ("", None))[1] or "" for c in spreads]
            writer.writerow([t.dataset, *group, *cells, *spread, best])
    return buffer.getvalue()


def _spread_columns(table: Table) -> list[str]:
    """The flat names of the columns whose numbers are (mean, std) pairs."""
    names = table.flat_columns()
    return [
        names[j]
        for j in range(len(names))
        if any(row[j] is not None and len(row[j]) == 2 for row in table.numbers)
    ]


def _csv_number(number: tuple[float | None, ...]) -> tuple[str, str | None]:
    """(value, std) as CSV text, "" where missing: a count as an integer, a metric as a float."""
    if len(number) == 1:
        return ("" if number[0] is None else str(int(number[0]))), None
    mean, std = number
    return _float_text(mean), _float_text(std)


def _float_text(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _render_rich(tables: Sequence[Table], *, ansi: bool) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=1_000_000,  # never wrap nor cut: the caller's terminal decides
        force_terminal=ansi,
        color_system="standard" if ansi else None,
        highlight=False,
        emoji=False,
    )
    for t in tables:
        grid = RichTable(
            title=t.title,
            box=box.SIMPLE_HEAD,
            title_justify="left",
            min_width=cell_len(t.title),  # as wide as its title: the title is never wrapped
        )
        spanned = t._grouped_columns()
        for (group, name), justify, first in zip(
            spanned, _align(t), _first_of_group(t), strict=True
        ):
            head = f"{group if first else ''}\n{name}" if t.column_groups else name
            grid.add_column(head, justify=justify, no_wrap=True)
        starts = dict(t.row_groups)
        for i, row in enumerate(t.rows):
            if i in starts:
                if i:
                    grid.add_section()
                blanks = [Text("")] * (len(row) - 1)
                grid.add_row(Text(starts[i], style="italic"), *blanks)
            styles = ["bold" if (i, j) in t.best else "" for j in range(len(row))]
            grid.add_row(*(Text(cell, style=s) for cell, s in zip(row, styles, strict=True)))
        console.print(grid)
        for note in t.notes:
            console.print(Text(note))
        console.print()
    return buffer.getvalue()


def _first_of_group(table: Table) -> list[bool]:
    """Whether each column opens its spanning group (where the rich header shows the label)."""
    if sum(span for _, span in table.column_groups) != len(table.columns):
        return [True] * len(table.columns)
    return [j == 0 for _, span in table.column_groups for j in range(span)]
