"""The numbers published in the AttentionXML paper (You et al. 2019, Tables 3 and 6) as records.

The tables ship as ``reported/table3.json`` and ``reported/table6.json`` in percent, exactly as
printed, so they can be proofread against the paper; records hold fractions like measured runs.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

from xmcbench.errors import XMCBenchError
from xmcbench.results.record import REPORTED, RunRecord
from xmcbench.studies.attentionxml_paper import DATASET_ORDER, METHOD_ORDER

__all__ = [
    "METHOD_PARAMS",
    "TABLES",
    "load_table",
    "reported_records",
]

TABLES = ("table6", "table3")  # default preference: Table 6 wins where both give a row
# AttentionXML-1 is one PLT, AttentionXML the ensemble of three
METHOD_PARAMS: dict[str, dict[str, Any]] = {
    "attentionxml-1": {"trees": 1},
    "attentionxml": {"trees": 3},
}
_STAR_NOTE = "Table 3 stars this row: numbers from the Extreme Classification Repository"


def load_table(name: str) -> dict[str, Any]:
    """The shipped JSON of one paper table ('table3' or 'table6'), values in percent."""
    return copy.deepcopy(_parsed(name))


@functools.cache
def _parsed(name: str) -> dict[str, Any]:
    """Parsed once per process; callers inside this module never mutate it."""
    if name not in ("table3", "table6"):
        raise XMCBenchError(f"unknown reported table {name!r}; shipped: table3, table6")
    text = (resources.files(__package__) / "reported" / f"{name}.json").read_text("utf-8")
    return json.loads(text)


def reported_records(
    *,
    tables: Sequence[str] = TABLES,
    datasets: Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
) -> list[RunRecord]:
    """One record per (dataset, method) the paper reports; the first of `tables` holding it wins.

    A record comes whole from one table, so its citation is exact; with the default order
    Table 6 supplies every row it has and Table 3 adds XT, MLC2Seq and DiSMEC on Amazon-3M.
    """
    wanted_ds = None if datasets is None else set(datasets)
    wanted_m = None if methods is None else set(methods)
    loaded = {name: _parsed(name) for name in tables}
    seen: set[tuple[str, str]] = set()
    records = []
    for name, table in loaded.items():
        for dataset, block in table["datasets"].items():
            for method, values in block["rows"].items():
                if (dataset, method) in seen:
                    continue
                if (wanted_ds is not None and dataset not in wanted_ds) or (
                    wanted_m is not None and method not in wanted_m
                ):
                    continue
                seen.add((dataset, method))
                notes = _row_notes(name, dataset, method)
                records.append(_record(name, table, dataset, method, values, notes))
    return sorted(records, key=_paper_order)


def _record(
    name: str, table: dict, dataset: str, method: str, values: list[float], notes: list[str]
) -> RunRecord:
    """A record for one paper row: metrics as fractions, N@1 = P@1, no timing or env."""
    metrics = {col: round(v / 100.0, 6) for col, v in zip(table["columns"], values, strict=True)}
    metrics.setdefault("ndcg@1", metrics["p@1"])  # both tables print "P@1=N@1"
    return RunRecord(
        run_id=f"reported-{name}-{dataset}-{method}",
        source=REPORTED,
        citation=table["citation"],
        method=method,
        params=dict(METHOD_PARAMS.get(method, {})),
        dataset=dataset,
        metrics=metrics,
        extra={"notes": notes},
    )


def _row_notes(name: str, dataset: str, method: str) -> list[str]:
    """Provenance of one row: starred in Table 3, values the other table prints differently."""
    starred = _parsed("table3")["datasets"].get(dataset, {}).get("starred", [])
    notes = [_STAR_NOTE] if method in starred else []
    other = "table3" if name == "table6" else "table6"
    for d in _parsed("table6").get("discrepancies", []):
        if d["dataset"] == dataset and d["method"] == method:
            notes.append(f"Table {other[-1]} prints {d['metric']} = {d[other]:.2f}")
    return notes


def _paper_order(record: RunRecord) -> tuple[int, int]:
    return DATASET_ORDER.index(record.dataset), METHOD_ORDER.index(record.method)
