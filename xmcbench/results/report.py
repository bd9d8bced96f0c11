"""`xmcbench report NAME`: the paper's Tables 2-9 and Figure 2 from a results folder.

Each table name maps to a builder and its layout (You et al. 2019); parameter tables name
their rows by the paper's symbols (``Trees``, ``K``, ``C``, ``H``), which the method's plugin
maps to its parameters. Output goes to stdout or, atomically, to a file whose suffix can pick
the format.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xmcbench.errors import UnknownNameError, XMCBenchError
from xmcbench.io import atomic_path
from xmcbench.results.method_meta import Specs
from xmcbench.results.paper_tables import (
    TABLE3_METRICS,
    TABLE6_METRICS,
    ablation_table,
    hyperparameter_table,
    stacked_comparison,
)
from xmcbench.results.tables import FORMATS, Table, metric_label
from xmcbench.results.variation import COLUMNS, ROWS, variation_tables

__all__ = ["FIGURES", "REPORTS", "TABLES", "format_for", "report_tables", "write_output"]

# name -> (paper symbols varied, layout, metrics, title); {method} is filled in
_VARIATIONS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...], str]] = {
    "table5": (("Trees",), COLUMNS, TABLE3_METRICS, "Table 5: {method} by number of trees"),
    "table7": (("K", "C"), ROWS, TABLE6_METRICS, "Table 7: {method} by K (with C)"),
    "table8": (("H",), ROWS, TABLE6_METRICS, "Table 8: {method} by tree height H"),
    "table9": (("H",), COLUMNS, ("p@5",), "Table 9: P@5 of {method} by tree height H"),
}
TABLES = ("table2", "table3", "table4", "table5", "table6", "table7", "table8", "table9")
FIGURES = ("figure2",)
REPORTS = TABLES + FIGURES
_SUFFIX_FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".tex": "latex",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
}


def report_tables(
    name: str,
    records: Iterable[Mapping[str, Any]],
    *,
    specs: Specs,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
    include_reported: bool = True,
) -> list[Table]:
    """The tables of one paper table `name` (``table2`` .. ``table9``)."""
    records = list(records)
    if name == "table2":
        return [hyperparameter_table(records, specs=specs, datasets=datasets, methods=methods)]
    if name in ("table3", "table6"):
        metrics = TABLE3_METRICS if name == "table3" else TABLE6_METRICS
        title = f"Table {name[-1]}: {_families(metrics)} per dataset"
        table = stacked_comparison(
            records,
            metrics,
            title=title,
            datasets=datasets,
            methods=methods,
            include_reported=include_reported,
        )
        return [table]
    if name == "table4":
        return [ablation_table(records, specs=specs, datasets=datasets)]
    if name in _VARIATIONS:
        by, layout, metrics, title = _VARIATIONS[name]
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
    raise UnknownNameError("report", name, list(REPORTS))


def _families(metrics: Sequence[str]) -> str:
    """``P@k, N@k and PSP@k``: the metric families of `metrics`, labelled as tables show them."""
    labels = list(dict.fromkeys(metric_label(f"{m.partition('@')[0]}@k") for m in metrics))
    return ", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else labels[0]


def format_for(fmt: str | None, output: Path | None) -> str:
    """The format asked for, else the one the output suffix implies, else the terminal table."""
    if fmt:
        return fmt
    if output is not None and output.suffix.lower() in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[output.suffix.lower()]
    if output is not None and output.suffix:
        raise XMCBenchError(
            f"{output}: cannot tell the format from {output.suffix!r}; pass --format "
            f"({', '.join(FORMATS)})"
        )
    return "table"


def write_output(text: str, output: Path) -> Path:
    """Write a rendered report atomically (a reader never sees half of it), readable by all."""
    with atomic_path(output) as tmp:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
    return output
