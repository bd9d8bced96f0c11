"""The builders of Tables 2-9, each ``(records, *, specs, datasets, methods, include_reported)``.

Parameter tables name their rows by the paper's symbols (``Trees``, ``K``, ``C``, ``H``),
which the method's plugin maps to its parameters (`MethodSpec.param_labels`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from xmcbench.errors import XMCBenchError
from xmcbench.results.lookup import NoRunsError
from xmcbench.results.method_meta import Specs
from xmcbench.results.record import RunRecord
from xmcbench.results.tables import Table, metric_label
from xmcbench.results.variation import COLUMNS, ROWS, variation_tables
from xmcbench.studies.attentionxml_paper.paper_tables import (
    TABLE3_METRICS,
    TABLE6_METRICS,
    ablation_table,
    hyperparameter_table,
    stacked_comparison,
)

__all__ = [*(f"table{i}" for i in range(2, 10)), "figure2"]

Records = Iterable[Mapping[str, Any]]


def figure2(records: Records, output: Any, **options: Any) -> Any:
    """Figure 2: PSP@1/3/5 of the label tree-based methods, one panel per dataset."""
    from xmcbench.results.figures import psp_figure

    return psp_figure(records, output, figure_name="Figure 2", **options)


def table2(
    records: Records,
    *,
    specs: Specs,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
    include_reported: bool = True,
) -> list[Table]:
    """Table 2: one method's hyperparameters, train hours, test ms/sample and model size."""
    records = list(records)
    if not methods:
        _require_runs("table2", (), records, specs)
    return [hyperparameter_table(records, specs=specs, datasets=datasets, methods=methods)]


def table3(records: Records, **options: Any) -> list[Table]:
    """Table 3: P@1, P@3, P@5 per dataset, the paper's numbers as ``[reported]`` rows."""
    return _stacked(records, TABLE3_METRICS, "Table 3", **options)


def table6(records: Records, **options: Any) -> list[Table]:
    """Table 6: P@k, N@k and PSP@k per dataset, the paper's numbers as ``[reported]`` rows."""
    return _stacked(records, TABLE6_METRICS, "Table 6", **options)


def table4(
    records: Records,
    *,
    specs: Specs,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
    include_reported: bool = True,
) -> list[Table]:
    """Table 4: the ablation; its columns are the methods whose plugins claim one."""
    if methods:
        raise XMCBenchError(
            "table4 takes no --methods: plugins declare which method fills a column"
        )
    return [ablation_table(records, specs=specs, datasets=datasets)]


# name -> (paper symbols varied, layout, metrics, title); {method} is filled in
_VARIATIONS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...], str]] = {
    "table5": (("Trees",), COLUMNS, TABLE3_METRICS, "Table 5: {method} by number of trees"),
    "table7": (("K", "C"), ROWS, TABLE6_METRICS, "Table 7: {method} by K (with C)"),
    "table8": (("H",), ROWS, TABLE6_METRICS, "Table 8: {method} by tree height H"),
    "table9": (("H",), COLUMNS, ("p@5",), "Table 9: P@5 of {method} by tree height H"),
}


def table5(records: Records, **options: Any) -> list[Table]:
    """Table 5: one method's runs by number of trees, datasets as column groups."""
    return _variation("table5", records, **options)


def table7(records: Records, **options: Any) -> list[Table]:
    """Table 7: one method's runs by K (with C), datasets as row groups."""
    return _variation("table7", records, **options)


def table8(records: Records, **options: Any) -> list[Table]:
    """Table 8: one method's runs by tree height H, datasets as row groups."""
    return _variation("table8", records, **options)


def table9(records: Records, **options: Any) -> list[Table]:
    """Table 9: P@5 of one method's runs by tree height H, datasets as column groups."""
    return _variation("table9", records, **options)


def _stacked(
    records: Records,
    metrics: Sequence[str],
    label: str,
    *,
    specs: Specs,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
    include_reported: bool = True,
) -> list[Table]:
    title = f"{label}: {_families(metrics)} per dataset"
    table = stacked_comparison(
        list(records),
        metrics,
        title=title,
        datasets=datasets,
        methods=methods,
        include_reported=include_reported,
    )
    return [table]


def _variation(
    name: str,
    records: Records,
    *,
    specs: Specs,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
    include_reported: bool = True,
) -> list[Table]:
    by, layout, metrics, title = _VARIATIONS[name]
    records = list(records)
    if not methods:
        _require_runs(name, by, records, specs)
    return variation_tables(
        records,
        by,
        specs=specs,
        metrics=metrics,
        datasets=datasets,
        methods=methods,
        layout=layout,
        title=title,
    )


def _require_runs(name: str, symbols: Sequence[str], records: list[Any], specs: Specs) -> None:
    """One clear line when no measured run is of a method whose plugin declares `symbols`.

    Parameter tables show the runs of a method that names its parameters by the paper's symbols
    (``Trees`` for AttentionXML's ``trees``); without such runs the table would fail on the
    first symbol as an unknown parameter, which tells nothing about what is missing.
    """
    declaring = sorted(
        method
        for method, spec in specs.items()
        if spec.param_labels and all(s in spec.param_labels.values() for s in symbols)
    )
    measured = {r.method for r in map(RunRecord.coerce, records) if not r.is_reported}
    if measured & set(declaring):
        return
    what = f"by {', '.join(symbols)}" if symbols else "with their parameters' symbols"
    if not declaring:
        raise XMCBenchError(
            f"{name} tabulates runs {what}, and no loaded method declares "
            f"{'them' if symbols else 'any'}: is the plugin that provides them installed?"
        )
    raise NoRunsError(  # nothing to show, like an empty results folder: exit 1
        f"{name} tabulates runs of {' or '.join(declaring)} {what}; "
        f"there are none in these results (run one first: xmcbench run {declaring[0]} ...)"
    )


def _families(metrics: Sequence[str]) -> str:
    """``P@k, N@k and PSP@k``: the metric families of `metrics`, labelled as tables show them."""
    labels = list(dict.fromkeys(metric_label(f"{m.partition('@')[0]}@k") for m in metrics))
    return ", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else labels[0]
