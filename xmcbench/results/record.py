"""`RunRecord`: one run's result as stored in ``<results>/<dataset>/<method>/<run_id>.json``.

The record owns its schema: the version this code writes and reads, the checks a file must pass
(a bad one is named with its problem in one line), the JSON it is written as, and where it lives
on disk. Measured runs and the paper's reported numbers are both records; `is_reported` tells
them apart. Keys the typed fields do not name (a fused run's ``fusion``, a reported row's
``notes``, anything newer) are kept in `extra` and written back unchanged.

Code reads a record's attributes; `to_dict` gives the JSON form.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xmcbench.errors import XMCBenchError
from xmcbench.io import jsonable
from xmcbench.results.names import SAFE_NAME

__all__ = [
    "MEASURED",
    "RECORD_FOLDERS",
    "RECORD_GLOB",
    "REPORTED",
    "SCHEMA_VERSION",
    "TEMPORARY_GLOBS",
    "RunRecord",
    "check_name",
    "read_record",
    "record_files",
    "record_path",
    "record_temporaries",
    "timestamp",
    "topk_file_name",
]

SCHEMA_VERSION = 1  # the newest record layout this code writes and reads
MEASURED, REPORTED = "measured", "reported"  # a run made here, or a number a paper printed
RECORD_FOLDERS = "*/*"  # <dataset>/<method>/ under a results folder
RECORD_GLOB = f"{RECORD_FOLDERS}/*.json"  # <dataset>/<method>/<run_id>.json
# an unfinished write of a record or its ranking: ``.<file name>.<random>.tmp`` beside it
TEMPORARY_GLOBS = (f"{RECORD_FOLDERS}/.*.json.*.tmp", f"{RECORD_FOLDERS}/.*.npz.*.tmp")
# keys written only when set (older records and reported rows lack them)
_OPTIONAL = ("params_before_fit", "topk_k", "ranking_k", "topk_file")


@dataclass(frozen=True)
class RunRecord:
    """One run: what ran on what data, its scores, cost and environment; JSON keys as fields."""

    method: str
    dataset: str
    metrics: Mapping[str, float | None]
    run_id: str | None = None
    schema_version: int = SCHEMA_VERSION
    created_at: str | None = None
    source: str = MEASURED
    citation: str | None = None
    plugin: str | None = None
    plugin_version: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] | None = None  # the method's own summary (epochs, early stop)
    seed: int | None = None
    dataset_hash: str | None = None
    n_train: int | None = None
    n_valid: int | None = None
    n_test: int | None = None
    n_labels: int | None = None
    propensity: Mapping[str, float] | None = None  # {"a": A, "b": B} of the PSP metrics
    timing: Mapping[str, Any] | None = None  # train_s, predict_s, predict_ms_per_doc, ...
    model_bytes: int | None = None
    model_dir: str | None = None  # relative to XMCBENCH_HOME (older records: absolute)
    prep: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, Any] | None = None
    params_before_fit: Mapping[str, Any] | None = None  # when fit settled values (auto presets)
    topk_k: int | None = None  # ranks the metrics read, saved at full precision
    ranking_k: int | None = None  # ranks saved in all
    topk_file: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # other keys, kept as read
    path: Path | None = field(default=None, compare=False)  # the file it was read from

    # ------------------------------------------------------------------ what it is

    @property
    def is_reported(self) -> bool:
        """A number printed in a paper (no predictions, model or timing), not a run made here."""
        return self.source == REPORTED

    @property
    def train_s(self) -> float | None:
        """Training seconds, summed over every process that trained the run."""
        return (self.timing or {}).get("train_s")

    @property
    def predict_ms_per_doc(self) -> float | None:
        """Prediction milliseconds per test document."""
        return (self.timing or {}).get("predict_ms_per_doc")

    @property
    def split_sizes(self) -> dict[str, int | None]:
        """Documents in train, valid and test, and the number of labels."""
        return {
            "n_train": self.n_train,
            "n_valid": self.n_valid,
            "n_test": self.n_test,
            "n_labels": self.n_labels,
        }

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the record, keys in the order xmcbench has always written them."""
        data: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in ("extra", "path"):
                continue
            value = getattr(self, f.name)
            if f.name in _OPTIONAL and value is None:
                continue
            data[f.name] = value
        data = {name: data[name] for name in _KEY_ORDER if name in data}
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data

    def to_json(self) -> str:
        """The record as written to its file (numpy values as plain numbers)."""
        return json.dumps(self.to_dict(), indent=2, default=jsonable) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, path: Path | None = None) -> RunRecord:
        """A record from a parsed JSON object; XMCBenchError says what is wrong with it."""
        problem = _problem(data)
        if problem:
            raise XMCBenchError(problem)
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "path"}
        values = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known and k != "_path"}
        if path is None and data.get("_path"):  # a record from an older load_records
            path = Path(data["_path"])
        values["schema_version"] = data.get("schema_version", SCHEMA_VERSION)
        values["source"] = data.get("source") or MEASURED
        for name in ("params", "prep"):
            values[name] = values.get(name) or {}
        return cls(**values, extra=extra, path=path)

    @classmethod
    def from_json(cls, text: str, *, path: Path | None = None) -> RunRecord:
        """A record from its JSON text; XMCBenchError names the problem (and the line)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise XMCBenchError(f"not valid JSON ({exc.msg}, line {exc.lineno})") from None
        return cls.from_dict(data, path=path)

    @classmethod
    def coerce(cls, record: RunRecord | Mapping[str, Any]) -> RunRecord:
        """`record` itself, or a RunRecord checked and built from a dict of its JSON keys."""
        return record if isinstance(record, RunRecord) else cls.from_dict(dict(record))

    def with_files(self, *, run_id: str, topk_k: int, ranking_k: int) -> RunRecord:
        """This record as stored: its id and the depth and name of its saved ranking."""
        return dataclasses.replace(
            self,
            run_id=run_id,
            topk_k=topk_k,
            ranking_k=ranking_k,
            topk_file=topk_file_name(run_id),
        )


_KEY_ORDER = (
    "schema_version", "run_id", "created_at", "source", "citation", "method", "plugin",
    "plugin_version", "params", "training", "seed", "dataset", "dataset_hash", "n_train",
    "n_valid", "n_test", "n_labels", "metrics", "propensity", "timing", "model_bytes",
    "model_dir", "prep", "env", "params_before_fit", "topk_k", "ranking_k", "topk_file",
)  # fmt: skip


def _problem(data: Any) -> str | None:
    """What keeps `data` from being a record every table can read, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        return f"schema_version {version!r} is newer than this xmcbench reads ({SCHEMA_VERSION})"
    for name in ("dataset", "method"):
        if not isinstance(data.get(name), str) or not data[name]:
            return f"missing or empty {name!r}"
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        return "missing 'metrics' object"
    for name, value in metrics.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"metric {name!r} is {value!r}, not a number"
    for name in ("params", "timing", "prep"):
        if data.get(name) is not None and not isinstance(data[name], dict):
            return f"{name!r} is {data[name]!r}, not an object"
    return None


def read_record(path: Path | str) -> RunRecord:
    """One record file, checked; XMCBenchError names the file and the problem in one line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise XMCBenchError(f"{path}: cannot read ({exc})") from None
    try:
        return RunRecord.from_json(text, path=path)
    except XMCBenchError as exc:
        raise XMCBenchError(f"{path}: {exc}") from None


def timestamp() -> str:
    """Now in UTC as records write ``created_at``: ``2026-11-24T02:31:00.123456Z``.

    Microseconds, so runs finished within one second still list in the order they finished.
    """
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- files


def check_name(what: str, value: Any) -> str:
    """Dataset, method and run id become path parts: refuse anything that could escape the tree."""
    if not isinstance(value, str) or not SAFE_NAME.match(value):
        raise XMCBenchError(f"record {what} {value!r} is not a safe file name ([A-Za-z0-9._+-])")
    return value


def record_path(results_dir: Path | str, dataset: str, method: str, run_id: str) -> Path:
    """Where a run's record lives: ``<results_dir>/<dataset>/<method>/<run_id>.json``."""
    folder = Path(results_dir) / check_name("dataset", dataset) / check_name("method", method)
    return folder / f"{check_name('run_id', run_id)}.json"


def topk_file_name(run_id: str) -> str:
    """The name of the ranking saved beside a run's record."""
    return f"{run_id}.topk.npz"


def record_files(results_dir: Path | str) -> list[Path]:
    """Every record file under `results_dir`, sorted; none when the folder does not exist.

    Hidden files (the temporaries of a write in progress) are not records.
    """
    root = Path(results_dir)
    if not root.is_dir():
        return []
    return [p for p in sorted(root.glob(RECORD_GLOB)) if not p.name.startswith(".")]


def record_temporaries(results_dir: Path | str) -> list[Path]:
    """The temporary files that unfinished writes of records and rankings left in `results_dir`."""
    root = Path(results_dir)
    return sorted(path for pattern in TEMPORARY_GLOBS for path in root.glob(pattern))
