"""Run records on disk, the paper's reported numbers, comparison tables and leaderboards.

Runs live under ``<results>/<dataset>/<method>/<run_id>.json`` (+ ``.topk.npz``), each a
`RunRecord`; tables and leaderboards group them by configuration and put them beside
You et al. (2019), Tables 3 and 6.

Importing this package imports none of its submodules (so neither pandas nor tabulate nor
matplotlib): each name below is loaded from its module on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and editors only; at run time see __getattr__
    from xmcbench.results.leaderboard import write_leaderboard
    from xmcbench.results.record import SCHEMA_VERSION, RunRecord, read_record
    from xmcbench.results.reported import reported_records
    from xmcbench.results.store import (
        RecordWarning,
        load_records,
        load_topk,
        new_run_id,
        params_key,
        records_frame,
        write_run,
    )
    from xmcbench.results.tables import Table, compare_table, expand_metrics, render

_HOMES = {
    "SCHEMA_VERSION": "record",
    "RecordWarning": "store",
    "RunRecord": "record",
    "Table": "tables",
    "compare_table": "tables",
    "expand_metrics": "tables",
    "load_records": "store",
    "load_topk": "store",
    "new_run_id": "store",
    "params_key": "store",
    "read_record": "record",
    "records_frame": "store",
    "render": "tables",
    "reported_records": "reported",
    "write_leaderboard": "leaderboard",
    "write_run": "store",
}

__all__ = [
    "SCHEMA_VERSION",
    "RecordWarning",
    "RunRecord",
    "Table",
    "compare_table",
    "expand_metrics",
    "load_records",
    "load_topk",
    "new_run_id",
    "params_key",
    "read_record",
    "records_frame",
    "render",
    "reported_records",
    "write_leaderboard",
    "write_run",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its submodule on first use (PEP 562), then keep it here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names too, though not loaded yet."""
    return sorted({*globals(), *_HOMES})
