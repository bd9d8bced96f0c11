"""Comparison tables in the style of the paper's Tables 3 and 6: one per dataset, methods as rows.

Cells are percent with two decimals; several seeds of one configuration show ``mean ± std``
(sample std) and their count in a Runs column (a seed run twice counts once, its latest run;
run-only parameters such as thread counts make no configuration of their own); the best mean
of each column is bold (ties all bold). Rows follow the paper's method order (unknown methods
after it, alphabetically); within a method the reported row comes first, then measured variants
by label. Reported rows end in `` [reported]`` in every format, and a footnote names the table
they come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from xmcbench.errors import UnknownNameError
from xmcbench.metrics import DEFAULT_KS
from xmcbench.registry import MetricRegistry
from xmcbench.results.formats import FORMATS
from xmcbench.results.grouping import (
    GROUP_KEYS,
    REPORTED_MARK,
    best_positions,
    dataset_order,
    group_runs,
)
from xmcbench.results.labels import (
    dataset_title,
    expand_metrics,
    format_cell,
    higher_is_better,
    metric_label,
    metric_registry_or,
    metric_sort_key,
)
from xmcbench.results.rendering import markdown_escape, render
from xmcbench.results.store import records_frame
from xmcbench.results.table import Table, metric_numbers

# the names other modules import from here; each lives in the module of its job
__all__ = [
    "DEFAULT_METRICS",
    "FORMATS",
    "GROUP_KEYS",
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
    registry = metric_registry_or(registry)
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
    numbers = []
    for _, r in summary.iterrows():
        runs = ["-" if r["reported"] else str(r["runs"])] if show_runs else []
        cells = [format_cell(r[f"{c}:mean"], r[f"{c}:std"], int(r[f"{c}:n"])) for c in columns]
        rows.append((r["label"], *runs, *cells))
        count = [(None if r["reported"] else float(r["runs"]),)] if show_runs else []
        numbers.append((None, *count, *(_numbers(r, c) for c in columns)))
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
        numbers=tuple(numbers),
    )


def _numbers(r: pd.Series, column: str) -> tuple[float | None, ...]:
    """A metric's (mean, std) in percent, as the cell shows it (for csv)."""
    return metric_numbers(r[f"{column}:mean"], r[f"{column}:std"], int(r[f"{column}:n"]))


def _notes(summary: pd.DataFrame, columns: Sequence[str]) -> tuple[str, ...]:
    notes = ["Values in percent; the best of each column is in bold."]
    if any((summary[f"{c}:n"] > 1).any() for c in columns):
        notes.append(
            "a ± b: mean ± sample standard deviation over the seeds counted in Runs "
            "(a seed run again counts once: its latest run)."
        )
    citations = summary.loc[summary["reported"], "citation"]
    if len(citations):
        cited = "; ".join(sorted({c for c in citations if c})) or "the literature"
        notes.append(f"{REPORTED_MARK.strip()}: published in {cited}.")
    return tuple(notes)
