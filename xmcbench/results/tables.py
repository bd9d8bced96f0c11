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
    "markdown_escape",
    "metric_label",
    "render",
]

DEFAULT_METRICS = ("p@k", "psp@k")
FORMATS = ("table", "markdown", "latex", "csv", "html")
REPORTED_MARK = " [reported]"
GROUP_KEYS = ["dataset", "source", "method", "params_key", "citation"]
_FAMILIES = {
    "p": "p", "n": "ndcg", "ndcg": "ndcg", "psp": "psp", "psn": "psndcg", "psndcg": "psndcg",
}  # fmt: skip
_DISPLAY = {"p": "P", "ndcg": "N", "psp": "PSP", "psndcg": "PSnDCG"}
_SPEC_HINTS = [f"{fam}@{k}" for fam in _FAMILIES for k in ("k", "1", "3", "5")]


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


# --------------------------------------------------------------------------- metric specs


def expand_metrics(metrics: str | Iterable[str], ks: Sequence[int] = (1, 3, 5)) -> list[str]:
    """Record metric names for a spec: ``p@k`` -> p@1, p@3, p@5; ``n@3`` -> ndcg@3; comma lists ok.

    Families are p, n/ndcg, psp and psn/psndcg; an unknown one raises with a did-you-mean hint.
    """
    ks = [_positive_k(k) for k in ks]
    specs = [metrics] if isinstance(metrics, str) else list(metrics)
    out: list[str] = []
    for spec in (part.strip() for item in specs for part in item.split(",")):
        family, sep, k = spec.lower().partition("@")
        if not sep or family not in _FAMILIES or not (k == "k" or (k.isdigit() and int(k) > 0)):
            raise _unknown_metric(spec)
        family = _FAMILIES[family]
        names = [f"{family}@{x}" for x in ks] if k == "k" else [f"{family}@{int(k)}"]
        out.extend(name for name in names if name not in out)
    if not out:
        raise XMCBenchError("no metric asked for; try p@k, n@k, psp@k or psndcg@k")
    return out


def _unknown_metric(spec: str) -> XMCBenchError:
    close = difflib.get_close_matches(spec.lower(), _SPEC_HINTS, n=2, cutoff=0.5)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    return XMCBenchError(
        f"unknown metric {spec!r}{hint} (use p, n/ndcg, psp or psn/psndcg, @k or @<number>)"
    )


def _positive_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise XMCBenchError(f"k must be a positive integer, got {k!r}")
    return k


def metric_label(name: str) -> str:
    """Column header of a record metric, as the paper writes it: ``ndcg@3`` -> ``N@3``."""
    family, _, k = name.partition("@")
    return f"{_DISPLAY.get(family, family.upper())}@{k}"


def dataset_title(dataset: str) -> str:
    """``EUR-Lex (eurlex-4k)`` for the paper's datasets, the key itself otherwise."""
    name = DATASET_NAMES.get(dataset)
    return f"{name} ({dataset})" if name else dataset


def format_cell(mean: float, std: float, count: int) -> str:
    """Percent with 2 decimals; ``mean ± std`` over several runs; ``-`` when there is no value."""
    if count == 0 or mean is None or math.isnan(mean):
        return "-"
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
    reported = summary["source"] == "reported"
    summary["label"] = summary["variant"] + reported.map({True: REPORTED_MARK, False: ""})
    return _display_order(summary)


def _display_order(summary: pd.DataFrame) -> pd.DataFrame:
    """Paper method order, reported before measured within a method, then by label."""
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    keyed = summary.assign(
        _m=summary["method"].map(lambda m: rank.get(m, len(rank))),
        _s=(summary["source"] != "reported").astype(int),
    )
    keyed = keyed.sort_values(["_m", "method", "_s", "label"], kind="stable")
    return keyed.drop(columns=["_m", "_s"]).reset_index(drop=True)


def best_positions(means: pd.Series) -> list[int]:
    """Positions of the best mean as displayed (percent, 2 decimals), so ties are all best."""
    shown = means.mul(100).round(2).reset_index(drop=True)
    return [] if shown.isna().all() else [int(i) for i in shown.index[shown == shown.max()]]


def dataset_order(names: Iterable[str]) -> list[str]:
    """The paper's datasets in its order, then any others alphabetically."""
    names = set(names)
    return [d for d in DATASET_ORDER if d in names] + sorted(names - set(DATASET_ORDER))


# --------------------------------------------------------------------------- tables


def compare_table(
    records: Iterable[Mapping[str, Any]],
    *,
    metrics: str | Iterable[str] = DEFAULT_METRICS,
    ks: Sequence[int] = (1, 3, 5),
    datasets: Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
    include_reported: bool = True,
) -> list[Table]:
    """One Table per dataset comparing the given records (reported ones kept unless excluded).

    Without `datasets`, the datasets that have measured runs are shown (all when none has).
    """
    columns = expand_metrics(metrics, ks)
    frame = records_frame(records)
    if not include_reported:
        frame = frame[frame["source"] != "reported"]
    frame = _keep(frame, "method", methods)
    names = _choose_datasets(frame, datasets)
    summary = group_runs(frame[frame["dataset"].isin(names)], columns)
    return [_dataset_table(name, summary[summary["dataset"] == name], columns) for name in names]


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
    measured = frame.loc[frame["source"] != "reported", "dataset"].unique()
    return dataset_order(measured if len(measured) else frame["dataset"].unique())


def _dataset_table(dataset: str, summary: pd.DataFrame, columns: Sequence[str]) -> Table:
    """Format one dataset's grouped runs and find the best (rounded) mean of each column."""
    show_runs = bool((summary["source"] != "reported").any())
    lead = ["Method", "Runs"] if show_runs else ["Method"]
    rows, best = [], set()
    for _, r in summary.iterrows():
        runs = ["-" if r["source"] == "reported" else str(r["runs"])] if show_runs else []
        cells = [format_cell(r[f"{c}:mean"], r[f"{c}:std"], int(r[f"{c}:n"])) for c in columns]
        rows.append((r["label"], *runs, *cells))
    for j, col in enumerate(columns):
        best.update((i, len(lead) + j) for i in best_positions(summary[f"{col}:mean"]))
    return Table(
        dataset=dataset,
        title=dataset_title(dataset),
        columns=(*lead, *(metric_label(c) for c in columns)),
        rows=tuple(rows),
        best=frozenset(best),
        notes=_notes(summary, columns),
    )


def _notes(summary: pd.DataFrame, columns: Sequence[str]) -> tuple[str, ...]:
    notes = ["Values in percent; the best of each column is in bold."]
    if any((summary[f"{c}:n"] > 1).any() for c in columns):
        notes.append("a ± b: mean ± sample standard deviation over the runs counted in Runs.")
    citations = summary.loc[summary["source"] == "reported", "citation"]
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
        cells = _cells(t, markdown_escape, lambda s: f"**{s}**")
        body = tabulate(
            cells, headers=t.columns, tablefmt="pipe", disable_numparse=True, colalign=_align(t)
        )
        parts.append("\n\n".join([f"### {t.title}", body, *map(markdown_escape, t.notes)]))
    return "\n\n".join(parts) + "\n"


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
            f"\\caption{{{_latex_escape(t.title)}}}\n{body}\n"
            f"\\par\\smallskip{{\\footnotesize {notes}}}\n\\end{{table}}"
        )
    return "\n\n".join(parts) + "\n"


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
        parts.append(f"<h3>{html.escape(t.title)}</h3>\n{body}\n{notes}")
    return "\n".join(parts)


def _render_csv(tables: Sequence[Table]) -> str:
    """One long CSV: a dataset column, the union of the tables' columns, and a best column."""
    header = list(dict.fromkeys(c for t in tables for c in t.columns))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dataset", *header, "best"])
    for t in tables:
        for i, row in enumerate(t.rows):
            by_name = dict(zip(t.columns, row, strict=True))
            best = ";".join(t.columns[j] for j in range(len(row)) if (i, j) in t.best)
            writer.writerow([t.dataset, *(by_name.get(c, "") for c in header), best])
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
        for name, justify in zip(t.columns, _align(t), strict=True):
            grid.add_column(name, justify=justify, no_wrap=True)
        for i, row in enumerate(t.rows):
            styles = ["bold" if (i, j) in t.best else "" for j in range(len(row))]
            grid.add_row(*(Text(cell, style=s) for cell, s in zip(row, styles, strict=True)))
        console.print(grid)
        for note in t.notes:
            console.print(Text(note))
        console.print()
    return buffer.getvalue()
