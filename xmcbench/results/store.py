"""Run records on disk: ``<results>/<dataset>/<method>/<run_id>.json`` plus its top-k ``.npz``.

The ``.npz`` holds the ranking the metrics were computed on (``labels`` int32, ``scores`` float32,
the first ``topk_k`` columns) and, for runs that saved a deeper ranking (top 100, for fusion and
later metrics), the remaining ranks compactly as ``tail_labels`` (int16 when the label ids fit)
and ``tail_scores`` (float16 when the values fit); the record says both depths.

Files are published with a hard link from a finished temporary file, so a reader never sees a
half-written record, a crash leaves none behind, and an existing record is never overwritten.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xmcbench.errors import XMCBenchError, naming_path
from xmcbench.io import jsonable, temp_file
from xmcbench.paramspec import RUN_ONLY_PARAMS
from xmcbench.plugins import metric_registry
from xmcbench.results.record import (
    SCHEMA_VERSION,
    RunRecord,
    read_record,
    record_files,
    record_path,
    topk_file_name,
)
from xmcbench.results.reported import reported_records
from xmcbench.types import TopK

__all__ = [
    "SCHEMA_VERSION",
    "RecordWarning",
    "RunRecord",
    "describe_params",
    "load_ranking",
    "load_records",
    "load_topk",
    "new_run_id",
    "params_key",
    "read_record",
    "records_frame",
    "runs_frame",
    "write_run",
]

# passed to a method but not part of its configuration: the seed, and what only decides how a
# run executes (thread counts, device, ...: xmcbench.paramspec.RUN_ONLY_PARAMS)
NON_PARAMS = ("seed", *sorted(RUN_ONLY_PARAMS))
_BASE_COLUMNS = [
    "run_id", "dataset", "method", "variant", "source", "reported", "citation", "seed",
    "params_key", "train_s", "predict_ms_per_doc", "model_bytes", "created_at", "path",
]  # fmt: skip
# `xmcbench results export`: measured runs only, so no reported/citation/source columns
_EXPORT_COLUMNS = [
    "run_id", "dataset", "method", "variant", "seed", "params_key", "train_s",
    "predict_ms_per_doc", "model_bytes", "created_at", "path",
]  # fmt: skip


class RecordWarning(UserWarning):
    """A result file was skipped because it could not be read as a record."""


def new_run_id() -> str:
    """UTC timestamp plus 32 random bits, e.g. ``20261124T023100Z-3f9a2c1b``; sorts by time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


def params_key(params: Mapping[str, Any] | None) -> str:
    """Stable JSON of a configuration minus seed and run-only params: one key per configuration."""
    kept = {k: v for k, v in (params or {}).items() if k not in NON_PARAMS}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), default=jsonable)


# --------------------------------------------------------------------------- writing


def write_run(
    results_dir: Path, record: RunRecord | Mapping[str, Any], topk: TopK, *, head: int | None = None
) -> Path:
    """Store one run (top-k first, then the JSON that points to it); returns the JSON path.

    The first `head` columns of `topk` (all when None) are the metrics' ranking, kept at full
    precision; deeper ranks are stored compactly. A missing ``run_id`` gets a fresh one; an
    existing record of that id raises XMCBenchError.
    """
    head = topk.k if head is None else min(max(int(head), 1), topk.k)
    rec = RunRecord.coerce(record)
    rec = rec.with_files(run_id=rec.run_id or new_run_id(), topk_k=head, ranking_k=topk.k)
    json_path = record_path(results_dir, rec.dataset, rec.method, rec.run_id)
    # serialise first: a record that cannot be written as JSON fails before any file exists
    text = rec.to_json()
    json_path.parent.mkdir(parents=True, exist_ok=True)
    npz_path = json_path.with_name(rec.topk_file)
    if json_path.exists():
        raise XMCBenchError(f"{json_path} already exists; refusing to overwrite it")
    _publish(npz_path, lambda tmp: _save_topk(tmp, topk, head))
    try:
        _publish(json_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except BaseException:
        npz_path.unlink(missing_ok=True)  # ours: _publish above created it exclusively
        raise
    return json_path


def _publish(target: Path, write: Callable[[Path], object]) -> None:
    """Write a temporary file beside `target`, then link it into place unless `target` exists."""
    tmp = temp_file(target)  # the umask's ordinary mode: results are meant to be shared
    try:
        with naming_path(target):  # a failed write() carries no file name
            write(tmp)
        _link_exclusive(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _link_exclusive(tmp: Path, target: Path) -> None:
    """Atomic create-if-absent: link(2) fails on an existing name, like open(O_EXCL)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise XMCBenchError(f"{target} already exists; refusing to overwrite it") from None
    except OSError:  # no hard links on this filesystem: reserve the name, then fill it
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            raise XMCBenchError(f"{target} already exists; refusing to overwrite it") from None
        os.replace(tmp, target)


def _save_topk(path: Path, topk: TopK, head: int) -> None:
    """The metrics' `head` columns as int32/float32; deeper ranks, if any, in compact dtypes."""
    labels = np.asarray(topk.labels)  # (n, K)
    scores = np.asarray(topk.scores)  # (n, K)
    arrays = {
        "labels": labels[:, :head].astype(np.int32),
        "scores": scores[:, :head].astype(np.float32),
    }
    if topk.k > head:
        arrays["tail_labels"] = _compact_labels(labels[:, head:])
        arrays["tail_scores"] = _compact_scores(scores[:, head:])
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def _compact_labels(labels: np.ndarray) -> np.ndarray:
    """int16 when every label id (and -1, "none") fits, else int32."""
    fits = labels.size == 0 or int(labels.max()) <= np.iinfo(np.int16).max
    return labels.astype(np.int16 if fits else np.int32)


def _compact_scores(scores: np.ndarray) -> np.ndarray:
    """float16 (about 3 significant digits, plenty to rank and fuse) unless a value overflows it."""
    half = scores.astype(np.float16)
    same_finite = np.array_equal(np.isfinite(half), np.isfinite(scores))
    return half if same_finite else scores.astype(np.float32)


# --------------------------------------------------------------------------- reading


def load_records(
    results_dir: Path, *, include_reported: bool = True, strict: bool = False
) -> list[RunRecord]:
    """Every record under `results_dir` (each with its file in ``path``), plus the paper's rows.

    An unreadable file is skipped with a one-line RecordWarning naming it, or raises
    XMCBenchError when `strict`; a missing folder simply holds no runs.
    """
    records = []
    for path in record_files(results_dir):
        try:
            record = read_record(path)
        except XMCBenchError as exc:
            if strict:
                raise
            warnings.warn(f"skipping broken result file {exc}", RecordWarning, stacklevel=2)
            continue
        if include_reported or not record.is_reported:
            records.append(record)
    if include_reported:
        records.extend(reported_records())
    return records


def load_topk(record_path: Path | str) -> TopK:
    """The ranked predictions the run's metrics were computed on, to rescore without retraining."""
    return _read_topk(Path(record_path), deep=False)


def load_ranking(record_path: Path | str) -> TopK:
    """The deepest ranking stored beside a record (top 100 for new runs, top 5 for older ones)."""
    return _read_topk(Path(record_path), deep=True)


def _read_topk(path: Path, *, deep: bool) -> TopK:
    record = read_record(path)
    name = Path(record.topk_file or topk_file_name(path.stem)).name  # never leave the folder
    npz = path.parent / name
    if not npz.is_file():
        raise XMCBenchError(f"{path}: its top-k file {npz.name} is missing")
    try:
        with np.load(npz, allow_pickle=False) as data:
            labels, scores = data["labels"].astype(np.int32), data["scores"].astype(np.float32)
            if deep and "tail_labels" in data.files:
                tail = data["tail_scores"].astype(np.float32)  # (n, K - k)
                labels = np.concatenate([labels, data["tail_labels"].astype(np.int32)], axis=1)
                scores = np.concatenate([scores, tail], axis=1)
                # float16 rounding must not lift a deeper rank above the one before it
                scores = np.fmin.accumulate(scores, axis=1)
    except (ValueError, KeyError, OSError, EOFError) as exc:
        raise XMCBenchError(f"{npz}: not a top-k file written by xmcbench ({exc})") from None
    return TopK(labels=labels, scores=scores)


# --------------------------------------------------------------------------- frame


def records_frame(records: Iterable[RunRecord | Mapping[str, Any]]) -> pd.DataFrame:
    """One row per record: identity columns, ``params_key``, ``variant`` and one column per metric.

    ``variant`` is ``method`` or ``method (key=value, ...)`` naming only the params that differ
    among the runs of that method on that dataset (reported and measured runs apart); the
    boolean ``reported`` column marks the paper's numbers. Dicts are checked as records.
    """
    rows = [_frame_row(RunRecord.coerce(r)) for r in records]
    metric_cols = sorted({m for row in rows for m in row["_metrics"]}, key=_metric_sort_key)
    for row in rows:
        row.update(row.pop("_metrics"))
    frame = pd.DataFrame(rows, columns=[c for c in _BASE_COLUMNS if c != "variant"] + metric_cols)
    for col in [*metric_cols, "train_s", "predict_ms_per_doc", "model_bytes"]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["seed"] = _int_column(frame["seed"])
    frame["reported"] = frame["reported"].astype(bool)
    frame.insert(3, "variant", _variant_labels(frame))
    return frame


def runs_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per measured run, metrics as numeric columns: the flat table scripts read."""
    frame = records_frame([r for r in records if not r.is_reported])
    frame["model_bytes"] = _int_column(frame["model_bytes"])
    metric_cols = [c for c in frame.columns if c not in _BASE_COLUMNS]
    return frame[[*_EXPORT_COLUMNS, *metric_cols]].rename(columns={"params_key": "params"})


def _int_column(values: pd.Series) -> pd.Series:
    """Integer seeds stay integers next to missing ones (reported rows have no seed)."""
    try:
        return values.astype("Int64")
    except (TypeError, ValueError):
        return values


def _frame_row(record: RunRecord) -> dict[str, Any]:
    metrics = {k: math.nan if v is None else float(v) for k, v in record.metrics.items()}
    return {
        "run_id": record.run_id,
        "dataset": record.dataset,
        "method": record.method,
        "source": record.source,
        "reported": record.is_reported,
        "citation": record.citation,
        "seed": record.seed,
        "params_key": params_key(record.params),
        "train_s": record.train_s,
        "predict_ms_per_doc": record.predict_ms_per_doc,
        "model_bytes": record.model_bytes,
        "created_at": record.created_at,
        "path": None if record.path is None else str(record.path),
        "_metrics": metrics,
    }


def _metric_sort_key(name: str) -> tuple[int, str, int, str]:
    """Metric columns in table order: the registered families' order, then k."""
    return metric_registry().sort_key(name)


def _variant_labels(frame: pd.DataFrame) -> pd.Series:
    """Label each row by method plus the params that differ within its (dataset, method, source)."""
    labels = pd.Series(frame["method"].astype(str), index=frame.index, dtype=object)
    if frame.empty:
        return labels
    for (_, method, _), group in frame.groupby(["dataset", "method", "source"], sort=False):
        keys = group["params_key"].unique()
        if len(keys) < 2:
            continue
        variants = {key: json.loads(key) for key in keys}
        differing = _differing_params(list(variants.values()))
        for key, params in variants.items():
            shown = describe_params({k: params[k] for k in differing if k in params})
            label = f"{method} ({shown})" if shown else method
            labels[group.index[group["params_key"] == key]] = label
    return labels


def _differing_params(variants: list[dict[str, Any]]) -> list[str]:
    """Sorted names of params whose value (or presence) is not the same in every variant."""
    names = sorted({k for params in variants for k in params})
    return [k for k in names if len({_param_json(p, k) for p in variants}) > 1]


def _param_json(params: dict[str, Any], name: str) -> str | None:
    return json.dumps(params[name], sort_keys=True) if name in params else None


def describe_params(params: Mapping[str, Any]) -> str:
    """``key=value, ...`` in key order; strings bare, anything else as JSON."""
    return ", ".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v, sort_keys=True)}"
        for k, v in sorted(params.items())
    )
