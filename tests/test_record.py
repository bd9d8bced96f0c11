"""`RunRecord`: the schema of a run's JSON, its checks, its round trip and where it lives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from xmcbench.errors import XMCBenchError
from xmcbench.results.record import (
    SCHEMA_VERSION,
    RunRecord,
    read_record,
    record_files,
    record_path,
    record_temporaries,
)
from xmcbench.results.reported import reported_records
from xmcbench.results.store import load_records, records_frame, write_run
from xmcbench.types import TopK

# a record exactly as `xmcbench run popularity --dataset synthetic-tiny` wrote it before
# RunRecord existed: the same text must come back out, byte for byte
WRITTEN = """{
  "schema_version": 1,
  "run_id": "20261124T025350Z-5988a182",
  "created_at": "2026-11-24T02:53:50Z",
  "source": "measured",
  "citation": null,
  "method": "popularity",
  "plugin": "baselines",
  "plugin_version": "0.1.0",
  "params": {},
  "training": null,
  "seed": 0,
  "dataset": "synthetic-tiny",
  "dataset_hash": "3f1c",
  "n_train": 270,
  "n_valid": 30,
  "n_test": 100,
  "n_labels": 48,
  "metrics": {
    "p@1": 0.65,
    "psp@5": null
  },
  "propensity": {
    "a": 0.55,
    "b": 1.5
  },
  "timing": {
    "train_s": 0.002,
    "train_s_this_process": 0.002,
    "resumes": 0,
    "predict_s": 0.001,
    "predict_ms_per_doc": 0.0101,
    "peak_rss_mb": 180.2
  },
  "model_bytes": 512,
  "model_dir": "/home/u/.xmcbench/models/20261124T025350Z-5988a182",
  "prep": {},
  "env": {
    "python": "3.11.7",
    "device": "cpu"
  },
  "params_before_fit": {
    "preset": "auto"
  },
  "topk_k": 5,
  "ranking_k": 48,
  "topk_file": "20261124T025350Z-5988a182.topk.npz"
}
"""


def topk(n: int = 2, k: int = 3) -> TopK:
    return TopK(labels=np.zeros((n, k), dtype=np.int32), scores=np.ones((n, k), dtype=np.float32))


def test_a_written_record_reads_as_typed_fields_and_writes_back_unchanged() -> None:
    record = RunRecord.from_json(WRITTEN)
    assert (record.method, record.dataset, record.seed) == ("popularity", "synthetic-tiny", 0)
    assert record.split_sizes == {"n_train": 270, "n_valid": 30, "n_test": 100, "n_labels": 48}
    assert record.train_s == 0.002 and record.predict_ms_per_doc == 0.0101
    assert record.params_before_fit == {"preset": "auto"} and not record.is_reported
    assert record.to_json() == WRITTEN


def test_older_and_newer_keys_load_and_unknown_ones_survive() -> None:
    old = {"dataset": "d", "method": "m", "metrics": {"p@1": 0.5}}  # no version, no source
    record = RunRecord.from_dict(old)
    assert record.schema_version == SCHEMA_VERSION and record.source == "measured"
    assert record.params == {} and record.prep == {} and not record.is_reported
    assert "topk_k" not in record.to_dict()  # unset optional keys are not written
    fused = RunRecord.from_dict({**old, "fusion": {"sources": [1, 2]}, "notes": ["x"]})
    assert fused.extra == {"fusion": {"sources": [1, 2]}, "notes": ["x"]}
    assert json.loads(fused.to_json())["fusion"] == {"sources": [1, 2]}


def test_a_record_is_read_by_attribute_and_its_dict_is_the_json_it_was_read_from() -> None:
    record = RunRecord.from_json(WRITTEN)
    assert record.method == "popularity" and record.seed == 0
    assert record.to_dict() == json.loads(WRITTEN)
    with pytest.raises(TypeError):
        record["method"]  # no string-keyed reads: the schema is the class's attributes


@pytest.mark.parametrize(
    "content,problem",
    [
        ("{", "not valid JSON (Expecting property name enclosed in double quotes, line 1)"),
        ("[1, 2]", "not a JSON object"),
        ('{"method": "m", "metrics": {}}', "missing or empty 'dataset'"),
        ('{"dataset": "d", "method": "", "metrics": {}}', "missing or empty 'method'"),
        ('{"dataset": "d", "method": "m"}', "missing 'metrics' object"),
        ('{"dataset": "d", "method": "m", "metrics": {"p@1": true}}', "not a number"),
        ('{"dataset": "d", "method": "m", "metrics": {}, "params": [1]}', "'params' is [1]"),
        ('{"schema_version": 2, "dataset": "d", "method": "m", "metrics": {}}', "is newer"),
    ],
)
def test_a_bad_file_is_named_with_its_problem_in_one_line(
    tmp_path: Path, content: str, problem: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(XMCBenchError) as caught:
        read_record(bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}: ") and problem in message and "\n" not in message


def test_the_layout_is_dataset_method_run_id(tmp_path: Path) -> None:
    path = record_path(tmp_path, "eurlex-4k", "attentionxml", "r1")
    assert path == tmp_path / "eurlex-4k" / "attentionxml" / "r1.json"
    record = RunRecord(method="attentionxml", dataset="eurlex-4k", metrics={}, run_id="r1")
    assert write_run(tmp_path, record, topk()) == path
    (path.parent / ".r2.json.abcd1234.tmp").write_text("{}")  # a write in progress
    (tmp_path / "eurlex-4k" / "stray.json").write_text("{}")  # not at record depth
    assert record_files(tmp_path) == [path]
    assert record_files(tmp_path / "missing") == []
    (loaded,) = load_records(tmp_path, include_reported=False)
    assert loaded.path == path and loaded.topk_file == "r1.topk.npz" and loaded.ranking_k == 3


def test_the_temporaries_of_a_cut_short_write_are_found_and_are_not_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a crash mid-write leaves is what leftovers.sweep removes (by record.py's layout)."""
    import xmcbench.results.store as store

    made: list[Path] = []

    def crash(tmp: Path, target: Path) -> None:  # killed just before the file is published
        made.append(tmp)
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_link_exclusive", crash)
    record = RunRecord(method="m", dataset="d", metrics={}, run_id="r1")
    with pytest.raises(KeyboardInterrupt):
        write_run(tmp_path, record, topk())
    (npz_tmp,) = made  # the ranking is written first; the crash came before the record
    npz_tmp.write_bytes(b"half")  # as a killed process would have left it
    json_tmp = npz_tmp.parent / ".r2.json.q1w2e3r4.tmp"
    json_tmp.write_text("{")
    (tmp_path / "d" / ".notes.txt.tmp").write_text("x")  # not a record's temporary
    assert record_temporaries(tmp_path) == sorted([npz_tmp, json_tmp])
    assert record_files(tmp_path) == []


@pytest.mark.parametrize("part", ["dataset", "method", "run_id"])
def test_names_that_would_leave_the_results_folder_are_refused(tmp_path: Path, part: str) -> None:
    names = {"dataset": "d", "method": "m", "run_id": "r", part: "../x"}
    with pytest.raises(XMCBenchError, match=re.escape(f"record {part} '../x' is not a safe")):
        record_path(tmp_path, **names)


def test_reported_numbers_are_reported_records_and_marked_in_the_frame() -> None:
    reported = reported_records(datasets=["eurlex-4k"], methods=["parabel"])
    assert [r.is_reported for r in reported] == [True]
    measured = RunRecord(method="parabel", dataset="eurlex-4k", metrics={"p@1": 0.8})
    frame = records_frame([*reported, measured])
    assert frame["reported"].tolist() == [True, False]
    assert frame["source"].tolist() == ["reported", "measured"]
