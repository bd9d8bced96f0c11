"""The paper's Tables 2, 3, 4 and 6 built from result records, in You et al. (2019)'s layouts.

Table 2 lists one method's hyperparameters (under its plugin's symbols) with train hours, test
ms/sample and model size; Tables 3 and 6 put every method's P@k (and N@k, PSP@k) per dataset,
datasets as row groups, the paper's numbers as ``[reported]`` rows; Table 4 is the ablation,
whose columns the plugins claim through ``MethodSpec.ablation_column``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from xmcbench.errors import UnknownNameError, XMCBenchError
from xmcbench.results.grouping import latest_per_seed
from xmcbench.results.method_meta import (
    Specs,
    describe_labelled,
    effective_method,
    param_text,
    resolve_subject,
    with_params,
)
from xmcbench.results.store import records_frame
from xmcbench.results.tables import (
    Table,
    best_positions,
    compare_table,
    dataset_order,
    dataset_title,
    expand_metrics,
    format_cell,
    group_runs,
    higher_is_better,
    metric_label,
)
from xmcbench.results.variation import MISSING, value_key

__all__ = [
    "ABLATION_COLUMNS",
    "TABLE3_METRICS",
    "TABLE6_METRICS",
    "ablation_table",
    "hyperparameter_table",
    "stack",
    "stacked_comparison",
]

TABLE3_METRICS = ("p@1", "p@3", "p@5")
TABLE6_METRICS = ("p@1", "p@3", "p@5", "ndcg@3", "ndcg@5", "psp@1", "psp@3", "psp@5")
ABLATION_COLUMNS = ("XML-CNN", "BiLSTM", "BiLSTM+Att", "BiLSTM+Att+SWA")  # Table 4, in order
_TIMING = ("Runs", "Train (hours)", "Test (ms/sample)", "Model size (GB)")


# --------------------------------------------------------------------------- Tables 3 and 6


def stacked_comparison(
    records: Iterable[Mapping[str, Any]],
    metrics: Sequence[str],
    *,
    title: str,
    datasets: Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
    include_reported: bool = True,
) -> Table:
    """compare's per-dataset tables as one table with the datasets as row groups."""
    tables = compare_table(
        records,
        metrics=metrics,
        datasets=datasets,
        methods=methods,
        include_reported=include_reported,
    )
    return stack(tables, title)


def stack(tables: Sequence[Table], title: str) -> Table:
    """Tables with one dataset each, stacked: their titles become row-group headers.

    Columns are the union in order of appearance; a cell a table lacks, or shows as ``-``,
    becomes ``–``. The best cells stay those of each dataset.
    """
    if not tables:
        raise XMCBenchError("no results to tabulate")
    columns = list(dict.fromkeys(c for t in tables for c in t.columns))
    rows: list[tuple[str, ...]] = []
    best: set[tuple[int, int]] = set()
    groups: list[tuple[int, str]] = []
    notes = ["Values in percent; the best of each column within each dataset is in bold."]
    for t in tables:
        where = [columns.index(c) for c in t.columns]
        groups.append((len(rows), t.title))
        best.update((len(rows) + i, where[j]) for i, j in t.best)
        for row in t.rows:
            cells = [MISSING] * len(columns)
            for j, cell in zip(where, row, strict=True):
                cells[j] = MISSING if cell == "-" else cell
            rows.append(tuple(cells))
        notes.extend(n for n in t.notes[1:] if n not in notes)
    return Table(
        dataset=",".join(t.dataset for t in tables),
        title=title,
        columns=tuple(columns),
        rows=tuple(rows),
        best=frozenset(best),
        notes=tuple(notes),
        row_groups=tuple(groups),
    )


# --------------------------------------------------------------------------- Table 2


def hyperparameter_table(
    records: Iterable[Mapping[str, Any]],
    *,
    specs: Specs,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
    title: str = "Table 2: hyperparameters, computation time and model size of {method}",
) -> Table:
    """One row per dataset and configuration: declared parameters, train hours, ms/doc, GB."""
    frame = records_frame(records)
    method, _ = resolve_subject(frame, (), specs, methods)
    labels = specs[method].param_labels
    runs = with_params(frame[~frame["reported"] & (frame["method"] == method)])
    chosen = _choose_datasets(runs, datasets, method)
    runs = latest_per_seed(runs[runs["dataset"].isin(chosen)])  # a seed run twice counts once
    configs = (
        runs.groupby(["dataset", "params_key"], sort=False)
        .agg(
            params=("params", "first"),
            runs=("run_id", "size"),
            train_s=("train_s", "mean"),
            predict_ms=("predict_ms_per_doc", "mean"),
            model_bytes=("model_bytes", "mean"),
        )
        .reset_index()
    )
    shown = [n for n in labels if any(n in p for p in configs["params"])]
    rows, notes = [], []
    for dataset in chosen:
        sub = configs[configs["dataset"] == dataset]
        variants = _variants(list(sub["params"]), labels, skip=shown)
        if len(sub) > 1:
            notes.append(f"{dataset_title(dataset)}: {len(sub)} configurations, one row each.")
        ordered = sorted(
            zip(sub.iterrows(), variants, strict=True),
            key=lambda item: (
                tuple(value_key(item[0][1]["params"].get(n)) for n in shown),
                item[1],
            ),
        )
        for (_, r), variant in ordered:
            rows.append(
                (
                    dataset_title(dataset) + (f" ({variant})" if variant else ""),
                    *(param_text(r["params"].get(n)) for n in shown),
                    str(r["runs"]),
                    _number(r["train_s"] / 3600),
                    _number(r["predict_ms"]),
                    _number(r["model_bytes"] / 1e9),
                )
            )
    legend = ", ".join(f"{labels[n]}: {n}" for n in shown)
    notes = [
        f"{legend}." if legend else "",
        "Train, Test and Model size: means over the Runs (seeds).",
        *notes,
    ]
    return Table(
        dataset=",".join(chosen),
        title=title.format(method=method),
        columns=("Dataset", *(labels[n] for n in shown), *_TIMING),
        rows=tuple(rows),
        notes=tuple(n for n in notes if n),
    )


def _variants(params: list[dict[str, Any]], labels: Mapping[str, str], skip: list[str]) -> list:
    """Per configuration, the parameters (not already columns) that differ among them."""
    names = sorted({k for p in params for k in p} - set(skip))
    differing = [k for k in names if len({repr(p.get(k)) for p in params}) > 1]
    return [describe_labelled({k: p[k] for k in differing if k in p}, labels) for p in params]


def _number(value: float) -> str:
    """Two decimals, or two significant digits for values under 0.01 (tiny synthetic runs)."""
    if value is None or math.isnan(value):
        return MISSING
    if value == 0 or abs(value) >= 0.01:
        return f"{value:.2f}"
    decimals = min(1 - math.floor(math.log10(abs(value))), 12)
    return f"{value:.{decimals}f}"


def _choose_datasets(runs: pd.DataFrame, wanted: Iterable[str] | None, method: str) -> list[str]:
    known = sorted(runs["dataset"].unique())
    if wanted is None:
        return dataset_order(known)
    wanted = list(dict.fromkeys(wanted))
    for name in wanted:
        if name not in known:
            raise UnknownNameError(f"dataset with runs of {method}", name, known)
    return wanted


# --------------------------------------------------------------------------- Table 4


def ablation_table(
    records: Iterable[Mapping[str, Any]],
    *,
    specs: Specs,
    datasets: Iterable[str] | None = None,
    metric: str = "p@5",
    title: str = "Table 4: {metric} of XML-CNN, BiLSTM and AttentionXML (ablation)",
) -> Table:
    """Datasets as rows, the Table 4 columns the plugins declare as columns, `metric` cells.

    A run counts as the registered method its parameters amount to (``attentionxml`` with
    ``swa=false`` fills the no-SWA alias's column). Where one column has several
    configurations on a dataset, the best is shown and a note names the others.
    """
    (metric,) = expand_metrics(metric)
    higher = higher_is_better(metric)
    frame = with_params(records_frame(records))
    frame = frame[~frame["reported"]]
    methods = [
        effective_method(m, p, specs) for m, p in zip(frame["method"], frame["params"], strict=True)
    ]
    frame = frame.assign(method=methods)
    frame = frame.assign(column=frame["method"].map(lambda m: _column_of(m, specs)))
    frame = frame[frame["column"] != ""]
    if frame.empty:
        claimed = sorted(s.name for s in specs.values() if s.ablation_column)
        raise XMCBenchError(
            "no measured runs of a method with a Table 4 column "
            f"(declared by: {', '.join(claimed) or 'none'})"
        )
    chosen = _choose_datasets(frame, datasets, "the ablation methods")
    frame = frame[frame["dataset"].isin(chosen)]
    keys = _ablation_keys(frame)
    summary = group_runs(frame.drop(columns=["params", "column"]), [metric])
    rows, best, notes = [], set(), []
    for i, dataset in enumerate(chosen):
        cells, means = [dataset_title(dataset)], []
        for header, method in keys:
            configs = summary[(summary["dataset"] == dataset) & (summary["method"] == method)]
            if configs.empty:
                cells.append(MISSING)
                means.append(math.nan)
                continue
            top = configs.loc[_best_index(configs[f"{metric}:mean"], higher)]
            cells.append(
                format_cell(
                    top[f"{metric}:mean"],
                    top[f"{metric}:std"],
                    int(top[f"{metric}:n"]),
                    missing=MISSING,
                )
            )
            means.append(top[f"{metric}:mean"])
            if len(configs) > 1:
                notes.append(_choice_note(dataset, header, configs, top, specs))
        rows.append(tuple(cells))
        best.update((i, 1 + j) for j in best_positions(pd.Series(means, dtype=float), higher))
    column_note = "; ".join(f"{header}: {method or 'no runs'}" for header, method in keys)
    lead = [f"{metric_label(metric)} in percent; the best of each row is in bold."]
    if (summary[f"{metric}:n"] > 1).any():
        lead.append("a ± b: mean ± sample standard deviation over seeds.")
    return Table(
        dataset=",".join(chosen),
        title=title.format(metric=metric_label(metric)),
        columns=("Dataset", *(header for header, _ in keys)),
        rows=tuple(rows),
        best=frozenset(best),
        notes=(*lead, f"Columns: {column_note}.", *notes),
    )


def _best_index(means: pd.Series, higher: bool) -> Any:
    """Index of the best mean (largest, or smallest for a lower-is-better metric); NaN never."""
    return means.fillna(-math.inf).idxmax() if higher else means.fillna(math.inf).idxmin()


def _column_of(method: str, specs: Specs) -> str:
    spec = specs.get(method)
    return spec.ablation_column if spec is not None else ""


def _ablation_keys(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(header, method) per column in the paper's order; a label two methods claim names both.

    The paper's columns are always there (method "" and dashes when no run fills one).
    """
    pairs = frame[["column", "method"]].drop_duplicates()
    shared = pairs["column"].value_counts()
    rank = {c: i for i, c in enumerate(ABLATION_COLUMNS)}
    keys = [
        (c if shared[c] == 1 else f"{c} ({m})", m, rank.get(c, len(rank)), c)
        for c, m in pairs.itertuples(index=False)
    ]
    claimed = set(pairs["column"])
    keys += [(c, "", i, c) for i, c in enumerate(ABLATION_COLUMNS) if c not in claimed]
    keys.sort(key=lambda k: (k[2], k[3], k[1]))
    return [(header, method) for header, method, _, _ in keys]


def _choice_note(
    dataset: str, header: str, configs: pd.DataFrame, top: pd.Series, specs: Specs
) -> str:
    spec = specs.get(str(top["method"]))
    labels = spec.param_labels if spec is not None else {}
    params = [json.loads(k) for k in configs["params_key"]]
    names = sorted({k for p in params for k in p})
    differing = [k for k in names if len({repr(p.get(k)) for p in params}) > 1]
    shown = json.loads(top["params_key"])
    others = [
        describe_labelled({k: p[k] for k in differing if k in p}, labels)
        for key, p in zip(configs["params_key"], params, strict=True)
        if key != top["params_key"]
    ]
    best = describe_labelled({k: shown[k] for k in differing if k in shown}, labels)
    return (
        f"{dataset_title(dataset)}, {header}: {len(configs)} configurations; the best is shown "
        f"({best}); also run: {'; '.join(others)}."
    )
