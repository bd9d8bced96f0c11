"""Comparison tables in the style of the paper's Tables 3 and 6: one per dataset, methods as rows.

Cells are percent with two decimals; several runs of one configuration show ``mean ± std``
(sample std) and their count in a Runs column; the best mean of each column is bold (ties all
bold). Rows follow the paper's method order (unknown methods after it, alphabetically); within a
method the reported row comes first, then measured variants by label. Reported rows end in
`` [reported]`` in every format, and a footnote names the table they come from.
"""

from __future__ import annotations

import csv
import difflib
import html
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text
from tabulate import tabulate

from xmcbench.errors import UnknownNameError, XMCBenchError
from xmcbench.metrics import DEFAULT_KS
from xmcbench.plugins import metric_registry
from xmcbench.registry import MetricRegistry
from xmcbench.results.reported import DATASET_NAMES, DATASET_ORDER, METHOD_ORDER
from xmcbench.results.store import records_frame

__all__ = [
    "DEFAULT_METRICS",
    "FORMATS",
    "REPORTED_MARK",
    "Table",
    "best_positions",
    "compare_table",
    "dataset_order",
    "dataset_title",
    "expand_metrics",
    "format_cell",
    "group_runs",
    "higher_is_better",
    "markdown_escape",
    "metric_label",
    "metric_sort_key",
    "render",
]

DEFAULT_METRICS = ("p@k", "psp@k")
FORMATS = ("table", "markdown", "latex", "csv", "html")
REPORTED_MARK = " [reported]"
GROUP_KEYS = ["dataset", "source", "reported", "method", "params_key", "citation"]


@dataclass(frozen=True)
class Table:
    """One dataset's comparison: header, formatted cells, the (row, column) cells to bold, notes."""

    dataset: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    best: frozenset[tuple[int, int]] = frozenset()
    notes: tuple[str, ...] = ()
    align: tuple[str, ...] | None = None  # per column; default: first left, the rest right
    # spanning headers over consecutive columns, left to right: (label or "", columns spanned)
    column_groups: tuple[tuple[str, int], ...] = ()
    # headers of groups of rows: (index of the group's first row, header), in row order
    row_groups: tuple[tuple[int, str], ...] = ()

    def flat_columns(self) -> list[str]:
        """Column names prefixed by their spanning header (``Amazon-670K P@1``): flat formats."""
        return [f"{group} {name}" if group else name for group, name in self._grouped_columns()]

    def _grouped_columns(self) -> list[tuple[str, str]]:
        groups = [label for label, span in self.column_groups for _ in range(span)]
        if len(groups) != len(self.columns):
            groups = [""] * len(self.columns)
        return list(zip(groups, self.columns, strict=True))

    def group_of_row(self) -> list[str]:
        """The row-group header each row falls under ("" before the first group)."""
        out, current, starts = [], "", dict(self.row_groups)
        for i in range(len(self.rows)):
            current = starts.get(i, current)
            out.append(current)
        return out


# --------------------------------------------------------------------------- metric specs


def expand_metrics(
    metrics: str | Iterable[str],
    ks: Sequence[int] = DEFAULT_KS,
    *,
    registry: MetricRegistry | None = None,
) -> list[str]:
    """Record metric names for a spec: ``p@k`` -> p@1, p@3, p@5; ``n@3`` -> ndcg@3; comma lists ok.

    Families are the registered metrics (p, n/ndcg, psp, psn/psndcg and any plugin's); an
    unknown one raises one error naming the known ones, with a did-you-mean hint.
    """
    ks = [_positive_k(k) for k in ks]
    return _metrics(registry).expand(metrics, ks)


def _metrics(registry: MetricRegistry | None) -> MetricRegistry:
    """`registry`, or the metrics this process's plugins registered."""
    return metric_registry() if registry is None else registry


def _positive_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise XMCBenchError(f"k must be a positive integer, got {k!r}")
    return k


def metric_label(name: str, registry: MetricRegistry | None = None) -> str:
    """Column header of a record metric, as the paper writes it: ``ndcg@3`` -> ``N@3``."""
    return _metrics(registry).label(name)


def metric_sort_key(name: str, registry: MetricRegistry | None = None) -> tuple[int, str, int, str]:
    """Column place of a record metric: its family's order (p, ndcg, psp, psndcg, ...), then k."""
    return _metrics(registry).sort_key(name)


def higher_is_better(name: str, registry: MetricRegistry | None = None) -> bool:
    """Whether the best value of a record metric's column is its largest (else its smallest)."""
    return _metrics(registry).higher_is_better(name)


def dataset_title(dataset: str) -> str:
    """``EUR-Lex (eurlex-4k)`` for the paper's datasets, the key itself otherwise."""
    name = DATASET_NAMES.get(dataset)
    return f"{name} ({dataset})" if name else dataset


def format_cell(mean: float, std: float, count: int, *, missing: str = "-") -> str:
    """Percent with 2 decimals; ``mean ± std`` over several runs; `missing` when there is none."""
    if count == 0 or mean is None or math.isnan(mean):
        return missing
    if count > 1:
        return f"{100 * mean:.2f} ± {100 * std:.2f}"
    return f"{100 * mean:.2f}"


# --------------------------------------------------------------------------- grouping


def group_runs(frame: pd.DataFrame, metric_cols: Sequence[str]) -> pd.DataFrame:
    """One row per (dataset, source, method, params, citation) in display order.

    Columns: the keys, ``label``, ``runs``, ``seeds``, ``run_ids``, mean ``train_s`` and
    ``model_bytes``, and ``<metric>:mean`` / ``:std`` (ddof=1) / ``:n`` for every metric.
    """
    frame = frame.assign(citation=frame["citation"].fillna(""))
    for col in metric_cols:
        if col not in frame:
            frame[col] = math.nan
    grouped = frame.groupby(GROUP_KEYS, sort=False, dropna=False)
    summary = grouped.agg(
        variant=("variant", "first"),
        runs=("run_id", "size"),
        seeds=("seed", lambda s: list(s.dropna())),
        run_ids=("run_id", list),
        train_s=("train_s", "mean"),
        model_bytes=("model_bytes", "mean"),
    )
    stats = grouped[list(metric_cols)].agg(["mean", "std", "count"])
    stats.columns = [f"{m}:{'n' if stat == 'count' else stat}" for m, stat in stats.columns]
    summary = summary.join(stats).reset_index()
    marks = summary["reported"].map({True: REPORTED_MARK, False: ""})
    summary["label"] = summary["variant"] + marks
    return _display_order(summary)


def _display_order(summary: pd.DataFrame) -> pd.DataFrame:
    """Paper method order, reported before measured within a method, then by label."""
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    keyed = summary.assign(
        _m=summary["method"].map(lambda m: rank.get(m, len(rank))),
        _s=(~summary["reported"]).astype(int),
    )
    keyed = keyed.sort_values(["_m", "method", "_s", "label"], kind="stable")
    return keyed.drop(columns=["_m", "_s"]).reset_index(drop=True)


def best_positions(means: pd.Series, higher_is_better: bool = True) -> list[int]:
    """Positions of the best mean as displayed (percent, 2 decimals), so ties are all best."""
    shown = means.mul(100).round(2).reset_index(drop=True)
    if shown.isna().all():
        return []
    best = shown.max() if higher_is_better else shown.min()
    return [int(i) for i in shown.index[shown == best]]


def dataset_order(names: Iterable[str]) -> list[str]:
    """The paper's datasets in its order, then any others alphabetically."""
    names = set(names)
    return [d for d in DATASET_ORDER if d in names] + sorted(names - set(DATASET_ORDER))


# --------------------------------------------------------------------------- tables


def compare_table(
    records: Iterable[Mapping[str, Any]],
    *,
    metrics: str | Iterable[str] = DEFAULT_METRICS,
    ks: Sequence[int] = DEFAULT_KS,
    datasets: Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
    include_reported: bool = True,
    registry: MetricRegistry | None = None,
) -> list[Table]:
    """One Table per dataset comparing the given records (reported ones kept unless excluded).

    Without `datasets`, the datasets that have measured runs are shown (all when none has).
    """
    registry = _metrics(registry)
    columns = expand_metrics(metrics, ks, registry=registry)
    frame = records_frame(records)
    if not include_reported:
        frame = frame[~frame["reported"]]
    frame = _keep(frame, "method", methods)
    names = _choose_datasets(frame, datasets)
    summary = group_runs(frame[frame["dataset"].isin(names)], columns)
    return [
        _dataset_table(name, summary[summary["dataset"] == name], columns, registry)
        for name in names
    ]


def _keep(frame: pd.DataFrame, column: str, wanted: Iterable[str] | None) -> pd.DataFrame:
    """Rows whose `column` is in `wanted`; a name no record has raises with a did-you-mean hint."""
    if wanted is None:
        return frame
    wanted = list(wanted)
    known = sorted(frame[column].unique())
    for name in wanted:
        if name not in known:
            raise UnknownNameError(column, name, known)
    return frame[frame[column].isin(wanted)]


def _choose_datasets(frame: pd.DataFrame, wanted: Iterable[str] | None) -> list[str]:
    """The datasets asked for, in that order; else those with measured runs (else all)."""
    if wanted is not None:
        wanted = list(dict.fromkeys(wanted))
        _keep(frame, "dataset", wanted)  # raises on a dataset no record has
        return wanted
    measured = frame.loc[~frame["reported"], "dataset"].unique()
    return dataset_order(measured if len(measured) else frame["dataset"].unique())


def _dataset_table(
    dataset: str, summary: pd.DataFrame, columns: Sequence[str], registry: MetricRegistry
) -> Table:
    """Format one dataset's grouped runs and find the best (rounded) mean of each column."""
    show_runs = bool((~summary["reported"]).any())
    lead = ["Method", "Runs"] if show_runs else ["Method"]
    rows, best = [], set()
    for _, r in summary.iterrows():
        runs = ["-" if r["reported"] else str(r["runs"])] if show_runs else []
        cells = [format_cell(r[f"{c}:mean"], r[f"{c}:std"], int(r[f"{c}:n"])) for c in columns]
        rows.append((r["label"], *runs, *cells))
    for j, col in enumerate(columns):
        positions = best_positions(summary[f"{col}:mean"], registry.higher_is_better(col))
        best.update((i, len(lead) + j) for i in positions)
    return Table(
        dataset=dataset,
        title=dataset_title(dataset),
        columns=(*lead, *(registry.label(c) for c in columns)),
        rows=tuple(rows),
        best=frozenset(best),
        notes=_notes(summary, columns),
    )


def _notes(summary: pd.DataFrame, columns: Sequence[str]) -> tuple[str, ...]:
    notes = ["Values in percent; the best of each column is in bold."]
    if any((summary[f"{c}:n"] > 1).any() for c in columns):
        notes.append("a ± b: mean ± sample standard deviation over the runs counted in Runs.")
    citations = summary.loc[summary["reported"], "citation"]
    if len(citations):
        cited = "; ".join(sorted({c for c in citations if c})) or "the literature"
        notes.append(f"{REPORTED_MARK.strip()}: published in {cited}.")
    return tuple(notes)


# --------------------------------------------------------------------------- rendering


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
    parts = []
    for t in tables:
        cells = _cells(t, html.escape, lambda s: f"<b>{s}</b>")
        body = tabulate(
            cells,
            headers=[html.escape(c) for c in t.columns],
            tablefmt="unsafehtml",
            disable_numparse=True,
            colalign=_align(t),
        )
        notes = "".join(f"<p>{html.escape(n)}</p>\n" for n in t.notes)
        parts.append(f"<h3>{html.escape(t.title)}</h3>\n{_html_groups(t, body)}\n{notes}")
    return "\n".join(parts)


def _html_groups(table: Table, body: str) -> str:
    """Add spanning column headers and row-group header rows to tabulate's HTML table.

    tabulate writes one line per row: table, thead, the header row, /thead, tbody, the rows, ...
    """
    lines = body.split("\n")
    width = len(table.columns)
    for start, text in sorted(table.row_groups, reverse=True):
        header = html.escape(text)
        lines.insert(5 + start, f'<tr><td colspan="{width}"><i>{header}</i></td></tr>')
    if table.column_groups:
        cells = "".join(
            f'<th colspan="{span}" style="text-align: center;">{html.escape(label)}</th>'
            for label, span in table.column_groups
        )
        lines.insert(2, f"<tr>{cells}</tr>")
    return "\n".join(lines)


def _render_csv(tables: Sequence[Table]) -> str:
    """One long CSV: dataset, group (when rows are grouped), the union of columns, and best.

    Spanning headers prefix their columns' names; the group column holds each row's group header.
    """
    header = list(dict.fromkeys(c for t in tables for c in t.flat_columns()))
    grouped = any(t.row_groups for t in tables)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dataset", *(["group"] if grouped else []), *header, "best"])
    for t in tables:
        names, groups = t.flat_columns(), t.group_of_row()
        for i, row in enumerate(t.rows):
            by_name = dict(zip(names, row, strict=True))
            best = ";".join(names[j] for j in range(len(row)) if (i, j) in t.best)
            group = [groups[i]] if grouped else []
            writer.writerow([t.dataset, *group, *(by_name.get(c, "") for c in header), best])
    return buffer.getvalue()


def _render_rich(tables: Sequence[Table], *, ansi: bool) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=1000,  # never wrap: the caller's terminal decides
        force_terminal=ansi,
        color_system="standard" if ansi else None,
        highlight=False,
        emoji=False,
    )
    for t in tables:
        grid = RichTable(title=t.title, box=box.SIMPLE_HEAD, title_justify="left")
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
