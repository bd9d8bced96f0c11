"""Run records on disk, the paper's reported numbers, comparison tables and leaderboards.

Runs live under ``<results>/<dataset>/<method>/<run_id>.json`` (+ ``.topk.npz``), each a
`RunRecord`; tables and leaderboards group them by configuration and put them beside
You et al. (2019), Tables 3 and 6.
"""

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
