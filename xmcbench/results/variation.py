"""Tables of one method's runs as some of its parameters vary (the paper's Tables 5, 7, 8 and 9).

Rows are the distinct values of the `by` parameters, labelled with the symbols the method's
plugin declares (``K = 8, C = 160``). Datasets are row groups (``rows``, Tables 7 and 8) or
column groups (``columns``, Tables 5 and 9). Seeds of one configuration are averaged
(mean ± std; a seed run twice counts once); runs that differ in any other parameter are never
merged: they get a group (or row) of their own and a note under the table says so. Parameters
that only decide how a run executes (`xmcbench.paramspec.RUN_ONLY_PARAMS`) set no run apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from xmcbench.errors import UnknownNameError, XMCBenchError
from xmcbench.metrics import DEFAULT_KS
from xmcbench.results.method_meta import (
    Specs,
    describe_labelled,
    labelled_order,
    param_text,
    resolve_subject,
    symbol,
    with_params,
)
from xmcbench.results.store import params_key, records_frame
from xmcbench.results.table import metric_numbers
from xmcbench.results.tables import (
    DEFAULT_METRICS,
    Table,
    best_positions,
    dataset_order,
    dataset_title,
    expand_metrics,
    format_cell,
    group_runs,
    higher_is_better,
    metric_label,
)

__all__ = [
    "COLUMNS",
    "LAYOUTS",
    "MISSING",
    "ROWS",
    "Variation",
    "collect",
    "value_key",
    "variation_tables",
]

ROWS, COLUMNS = "rows", "columns"
LAYOUTS = (ROWS, COLUMNS)
MISSING = "–"


@dataclass(frozen=True)
class Variation:
    """One method's configurations: a row per (dataset, params) with seeds aggregated.

    ``configs`` holds group_runs' columns plus ``by`` (the varied values, a tuple), ``rest``
    (every other parameter) and ``variant`` (the other parameters that differ on its dataset).
    """

    method: str
    names: tuple[str, ...]
    labels: Mapping[str, str]
    metrics: tuple[str, ...]
    datasets: tuple[str, ...]
    configs: pd.DataFrame
    dropped: int

    def symbols(self) -> list[str]:
        return [symbol(n, self.labels) for n in self.names]

    def by_label(self, values: Sequence[Any]) -> str:
        """``K = 8, C = 160`` in the order the parameters were asked for."""
        return ", ".join(
            f"{s} = {param_text(v)}" for s, v in zip(self.symbols(), values, strict=True)
        )

    def constant(self) -> dict[str, Any]:
        """Declared parameters (not varied) with one value in every configuration."""
        rests = list(self.configs["rest"])
        names = [n for n in self.labels if n not in self.names and all(n in r for r in rests)]
        return {n: rests[0][n] for n in names if len({_json(r[n]) for r in rests}) == 1}

    def context(self, rest: Mapping[str, Any], variant_params: Iterable[str]) -> dict[str, Any]:
        """What sets a group apart: declared params not constant everywhere, `variant_params`."""
        constant, wanted = self.constant(), set(variant_params)
        return {
            k: v
            for k, v in rest.items()
            if (k in self.labels and k not in constant and k not in self.names) or k in wanted
        }


def collect(
    records: Iterable[Mapping[str, Any]],
    by: Sequence[str],
    *,
    specs: Specs,
    metrics: str | Iterable[str] = DEFAULT_METRICS,
    ks: Sequence[int] = DEFAULT_KS,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
) -> Variation:
    """Group the measured runs of the one method that has the `by` parameters."""
    columns = tuple(expand_metrics(metrics, ks))
    by = [b.strip() for b in by if b.strip()]
    if not by:
        raise XMCBenchError("--by needs at least one parameter name (or symbol, e.g. K)")
    frame = records_frame(records)
    method, names = resolve_subject(frame, by, specs, methods)
    spec = specs.get(method)
    labels = dict(spec.param_labels) if spec is not None else {}
    runs = with_params(frame[~frame["reported"] & (frame["method"] == method)])
    complete = runs["params"].map(lambda p: all(n in p for n in names)).astype(bool)
    dropped = int((~complete).sum())
    runs = runs[complete]
    chosen = _choose(runs, datasets, method)
    runs = runs[runs["dataset"].isin(chosen)]
    configs = group_runs(runs.drop(columns="params"), columns)
    configs["params"] = configs["params_key"].map(json.loads)
    configs["by"] = configs["params"].map(lambda p: tuple(_hashable(p[n]) for n in names))
    configs["rest"] = configs["params"].map(
        lambda p: {k: v for k, v in p.items() if k not in names}
    )
    configs["rest_key"] = configs["rest"].map(params_key)
    configs["variant_params"] = _variant_params(configs, labels)
    pairs = list(zip(configs["rest"], configs["variant_params"], strict=True))
    configs["variant"] = [
        describe_labelled({k: rest[k] for k in vp if k in rest}, labels) for rest, vp in pairs
    ]
    configs["variant_key"] = [tuple(value_key(rest.get(k)) for k in vp) for rest, vp in pairs]
    return Variation(method, tuple(names), labels, columns, tuple(chosen), configs, dropped)


def _choose(runs: pd.DataFrame, wanted: Iterable[str] | None, method: str) -> list[str]:
    known = sorted(runs["dataset"].unique())
    if wanted is None:
        return dataset_order(known)
    wanted = list(dict.fromkeys(wanted))
    for name in wanted:
        if name not in known:
            raise UnknownNameError(f"dataset with runs of {method}", name, known)
    return wanted


def _variant_params(configs: pd.DataFrame, labels: Mapping[str, str]) -> pd.Series:
    """Per configuration: the non-varied parameters that differ among its dataset's configs."""
    out = pd.Series([()] * len(configs), index=configs.index, dtype=object)
    for _, group in configs.groupby("dataset", sort=False):
        rests = list(group["rest"])
        names = labelled_order({k for r in rests for k in r}, labels)
        differing = tuple(k for k in names if len({_json(r.get(k, _ABSENT)) for r in rests}) > 1)
        for i in group.index:
            out[i] = differing
    return out


_ABSENT = "\0absent"


def _hashable(value: Any) -> Any:
    """Lists (``fc_sizes``) as tuples and objects as JSON, so values can key rows."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return _json(value)
    return value


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def value_key(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order, then other values as text, missing last."""
    if value is None:
        return 2, 0.0, ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, float(value), ""
    return 1, 0.0, _json(value)


def _row_key(values: Sequence[Any]) -> tuple:
    return tuple(value_key(v) for v in values)


# --------------------------------------------------------------------------- tables


def variation_tables(
    records: Iterable[Mapping[str, Any]],
    by: Sequence[str],
    *,
    specs: Specs,
    metrics: str | Iterable[str] = DEFAULT_METRICS,
    ks: Sequence[int] = DEFAULT_KS,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
    layout: str = ROWS,
    title: str | None = None,
) -> list[Table]:
    """One table of a method's runs by the `by` parameters, datasets as row or column groups.

    `title` may hold ``{method}`` and ``{symbols}`` (the varied parameters' symbols).
    """
    if layout not in LAYOUTS:
        raise XMCBenchError(f"unknown layout {layout!r}; use {' or '.join(LAYOUTS)}")
    v = collect(
        records, by, specs=specs, metrics=metrics, ks=ks, datasets=datasets, methods=methods
    )
    title = (title or "{method} by {symbols}").format(
        method=v.method, symbols=", ".join(v.symbols())
    )
    return [rows_table(v, title) if layout == ROWS else columns_table(v, title)]


def rows_table(v: Variation, title: str) -> Table:
    """Datasets (and other-parameter configurations) as row groups, by-values as rows."""
    lead = [v.method, "Runs"]
    rows: list[tuple[str, ...]] = []
    numbers: list[tuple] = []  # behind the cells, for csv
    groups: list[tuple[int, str]] = []
    best: set[tuple[int, int]] = set()
    for dataset in v.datasets:
        sub = v.configs[v.configs["dataset"] == dataset]
        for _, group in sorted(sub.groupby("rest_key", sort=False), key=lambda kv: _first(kv[1])):
            group = group.iloc[
                sorted(range(len(group)), key=lambda i: _row_key(group["by"].iloc[i]))
            ]
            first = group.iloc[0]
            shown = describe_labelled(v.context(first["rest"], first["variant_params"]), v.labels)
            groups.append((len(rows), ", ".join(filter(None, [dataset_title(dataset), shown]))))
            for j, col in enumerate(v.metrics):
                positions = best_positions(group[f"{col}:mean"], higher_is_better(col))
                best.update((len(rows) + i, len(lead) + j) for i in positions)
            rows.extend(
                (v.by_label(r["by"]), str(r["runs"]), *_cells(r, v.metrics))
                for _, r in group.iterrows()
            )
            numbers.extend(
                (None, (float(r["runs"]),), *_numbers(r, v.metrics)) for _, r in group.iterrows()
            )
    return Table(
        dataset=",".join(v.datasets),
        title=title,
        columns=(*lead, *(metric_label(c) for c in v.metrics)),
        rows=tuple(rows),
        best=frozenset(best),
        notes=_notes(v, within_groups=True),
        row_groups=tuple(groups),
        numbers=tuple(numbers),
    )


def _first(group: pd.DataFrame) -> tuple:
    return group["variant_key"].iloc[0]


def columns_table(v: Variation, title: str) -> Table:
    """By-values as rows, datasets as column groups (just columns when one metric is shown)."""
    has_variant = bool((v.configs["variant"] != "").any())
    lead = [*v.symbols(), *(["Other parameters"] if has_variant else [])]
    order = {(r["by"], r["variant"]): r["variant_key"] for _, r in v.configs.iterrows()}
    keys = sorted(order, key=lambda k: (_row_key(k[0]), order[k], k[1]))
    index = {(r["dataset"], r["by"], r["variant"]): r for _, r in v.configs.iterrows()}
    rows, means, numbers = [], {}, []
    for values, variant in keys:
        cells = [param_text(x) for x in values] + ([variant] if has_variant else [])
        row_numbers: list[tuple | None] = [None] * len(cells)
        for dataset in v.datasets:
            r = index.get((dataset, values, variant))
            for col in v.metrics:
                means.setdefault((dataset, col), []).append(
                    r[f"{col}:mean"] if r is not None else float("nan")
                )
                cells.append(_cells(r, [col])[0] if r is not None else MISSING)
                row_numbers.append(_numbers(r, [col])[0] if r is not None else (None, None))
        rows.append(tuple(cells))
        numbers.append(tuple(row_numbers))
    best = {
        (i, len(lead) + j)
        for j, ((_, col), series) in enumerate(means.items())
        for i in best_positions(pd.Series(series, dtype=float), higher_is_better(col))
    }
    single = len(v.metrics) == 1
    names = [dataset_title(d) for d in v.datasets] if single else None
    columns = names or [metric_label(c) for _ in v.datasets for c in v.metrics]
    groups = (
        ()
        if single
        else (("", len(lead)), *((dataset_title(d), len(v.metrics)) for d in v.datasets))
    )
    notes = list(_notes(v, within_groups=False))
    if single:
        notes.insert(0, f"Cells: {metric_label(v.metrics[0])} of {v.method}.")
    return Table(
        dataset=",".join(v.datasets),
        title=title,
        columns=(*lead, *columns),
        rows=tuple(rows),
        best=frozenset(best),
        notes=tuple(notes),
        align=(*["left"] * len(lead), *["right"] * len(columns)),
        column_groups=groups,
        numbers=tuple(numbers),
    )


def _cells(r: pd.Series, metrics: Sequence[str]) -> list[str]:
    return [
        format_cell(r[f"{c}:mean"], r[f"{c}:std"], int(r[f"{c}:n"]), missing=MISSING)
        for c in metrics
    ]


def _numbers(r: pd.Series, metrics: Sequence[str]) -> list[tuple[float | None, ...]]:
    """The (mean, std) in percent behind `_cells` (for csv)."""
    return [metric_numbers(r[f"{c}:mean"], r[f"{c}:std"], int(r[f"{c}:n"])) for c in metrics]


def _notes(v: Variation, *, within_groups: bool) -> tuple[str, ...]:
    where = " within each group" if within_groups else ""
    notes = [f"Values in percent; the best of each column{where} is in bold."]
    if any((v.configs[f"{c}:n"] > 1).any() for c in v.metrics):
        notes.append("a ± b: mean ± sample standard deviation over seeds.")
    constant = v.constant()
    if constant:
        notes.append(f"Every row: {describe_labelled(constant, v.labels)}.")
    if not within_groups:
        for dataset in v.datasets:
            first = v.configs[v.configs["dataset"] == dataset].iloc[0]
            context = {
                k: x
                for k, x in v.context(first["rest"], ()).items()
                if k not in first["variant_params"]
            }
            if context:
                notes.append(f"{dataset_title(dataset)}: {describe_labelled(context, v.labels)}.")
    differing = v.configs.groupby("dataset")["variant_params"].first()
    apart = [
        f"{dataset_title(d)} (by {', '.join(symbol(k, v.labels) for k in differing[d])})"
        for d in v.datasets
        if differing[d]
    ]
    if apart:
        notes.append(
            "Runs that differ in other parameters are kept apart, never averaged: "
            + "; ".join(apart)
            + "."
        )
    if v.dropped:
        notes.append(f"{v.dropped} run(s) of {v.method} without {', '.join(v.names)} are left out.")
    return tuple(notes)
