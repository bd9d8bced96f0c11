"""Run records on disk: round trip, atomic and exclusive writes, broken files, the frame."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from xmcbench.errors import XMCBenchError
from xmcbench.results import store
from xmcbench.results.store import (
    RecordWarning,
    load_records,
    load_topk,
    new_run_id,
    params_key,
    records_frame,
    write_run,
)
from xmcbench.types import TopK


def make_topk(n: int = 4, k: int = 3, offset: int = 0) -> TopK:
    labels = (np.arange(n * k).reshape(n, k) + offset).astype(np.int64)  # written as int32
    scores = np.linspace(1.0, 0.0, n * k).reshape(n, k)  # float64, written as float32
    return TopK(labels=labels, scores=scores)


def make_record(**over) -> dict:
    record = {
        "schema_version": 1,
        "source": "measured",
        "citation": None,
        "method": "attentionxml",
        "plugin": "attentionxml",
        "plugin_version": "0.1.0",
        "params": {"lr": 0.001, "trees": 3, "seed": 0, "device": "cpu"},
        "seed": 0,
        "dataset": "eurlex-4k",
        "dataset_hash": "ab" * 32,
        "n_train": 15249,
        "n_valid": 200,
        "n_test": 3865,
        "n_labels": 3956,
        "metrics": {"p@1": 0.85, "p@3": 0.72, "p@5": 0.6, "psp@1": 0.44},
        "propensity": {"a": 0.55, "b": 1.5},
        "timing": {"train_s": 1830.2, "predict_s": 8.0, "predict_ms_per_doc": 2.07},
        "model_bytes": 200_000_000,
        "env": {"python": "3.11.7", "device": "cpu"},
    }
    record.update(over)
    return record


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_new_run_id_is_timestamped_unique_and_sortable():
    ids = [new_run_id() for _ in range(200)]
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", i) for i in ids)
    assert len(set(ids)) == 200
    stamp = datetime.strptime(ids[-1][:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60  # UTC, leading


def test_write_and_load_round_trip(tmp_path):
    topk = make_topk()
    path = write_run(tmp_path, make_record(), topk)
    run_id = path.stem
    assert path == tmp_path / "eurlex-4k" / "attentionxml" / f"{run_id}.json"
    assert files_in(path.parent) == {f"{run_id}.json", f"{run_id}.topk.npz"}  # no tmp files left

    (loaded,) = load_records(tmp_path, include_reported=False)
    assert loaded.run_id == run_id
    assert loaded.topk_file == f"{run_id}.topk.npz"
    assert loaded.path == path
    assert loaded.metrics == make_record()["metrics"]
    assert loaded.params == make_record()["params"]

    back = load_topk(path)
    assert back.labels.dtype == np.int32 and back.scores.dtype == np.float32
    np.testing.assert_array_equal(back.labels, topk.labels)
    np.testing.assert_allclose(back.scores, topk.scores.astype(np.float32))


def test_given_run_id_and_numpy_values_are_kept(tmp_path):
    path = write_run(tmp_path, make_record(run_id="run-1", seed=np.int64(3)), make_topk())
    assert path.name == "run-1.json"
    assert json.loads(path.read_text())["seed"] == 3


def test_refuses_to_overwrite_an_existing_run(tmp_path):
    write_run(tmp_path, make_record(run_id="r1"), make_topk())
    with pytest.raises(XMCBenchError, match="already exists"):
        write_run(tmp_path, make_record(run_id="r1", metrics={"p@1": 0.1}), make_topk(offset=9))
    (kept,) = load_records(tmp_path, include_reported=False)
    assert kept.metrics["p@1"] == 0.85
    assert load_topk(tmp_path / "eurlex-4k" / "attentionxml" / "r1.json").labels[0, 0] == 0


def test_failed_topk_write_leaves_no_files(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        write_run(tmp_path, make_record(), make_topk())
    assert files_in(tmp_path / "eurlex-4k" / "attentionxml") == set()


def test_failed_json_write_leaves_neither_json_nor_npz(tmp_path, monkeypatch):
    real_publish = store._publish

    def flaky(target, write):
        if target.suffix == ".json":
            raise OSError("disk full")
        return real_publish(target, write)

    monkeypatch.setattr(store, "_publish", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_run(tmp_path, make_record(), make_topk())
    assert files_in(tmp_path / "eurlex-4k" / "attentionxml") == set()


def test_record_that_is_not_json_writes_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_run(tmp_path, make_record(params={"callback": object()}), make_topk())
    assert files_in(tmp_path / "eurlex-4k" / "attentionxml") == set()


@pytest.mark.parametrize(
    "field,value", [("dataset", "../etc"), ("method", "a/b"), ("run_id", ".x")]
)
def test_unsafe_names_are_refused(tmp_path, field, value):
    with pytest.raises(XMCBenchError, match="safe file name"):
        write_run(tmp_path, make_record(**{field: value}), make_topk())


def test_concurrent_writers_all_land(tmp_path):
    def job(i: int) -> Path:
        record = make_record(seed=i, metrics={"p@1": i / 100})
        return write_run(tmp_path, record, make_topk(offset=i))

    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(job, range(16)))
    assert len(set(paths)) == 16
    records = load_records(tmp_path, include_reported=False)
    assert sorted(r.seed for r in records) == list(range(16))
    for r in records:  # every json points at its own npz
        assert load_topk(r.path).labels[0, 0] == r.seed
    assert not [p for p in (tmp_path / "eurlex-4k" / "attentionxml").iterdir() if p.name[0] == "."]


def test_two_writers_of_one_run_id_exactly_one_wins(tmp_path):
    barrier = threading.Barrier(2)
    outcome: dict[int, str] = {}

    def job(i: int) -> None:
        barrier.wait()
        try:
            write_run(tmp_path, make_record(run_id="same", seed=i), make_topk(offset=100 * i))
            outcome[i] = "ok"
        except XMCBenchError:
            outcome[i] = "refused"

    threads = [threading.Thread(target=job, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values()) == ["ok", "refused"]
    winner = next(i for i, o in outcome.items() if o == "ok")
    path = tmp_path / "eurlex-4k" / "attentionxml" / "same.json"
    assert json.loads(path.read_text())["seed"] == winner
    assert load_topk(path).labels[0, 0] == 100 * winner  # the npz is the winner's too


def test_broken_json_is_reported_by_name_and_skipped(tmp_path):
    write_run(tmp_path, make_record(), make_topk())
    broken = tmp_path / "eurlex-4k" / "parabel" / "broken-run.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"dataset": "eurlex-4k", ')
    with pytest.warns(RecordWarning, match=r"broken-run\.json: not valid JSON") as caught:
        records = load_records(tmp_path, include_reported=False)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert [r.method for r in records] == ["attentionxml"]
    with pytest.raises(XMCBenchError, match=r"broken-run\.json"):
        load_records(tmp_path, strict=True)


@pytest.mark.parametrize(
    "content,problem",
    [
        ("[1, 2]", "not a JSON object"),
        ('{"dataset": "d", "metrics": {}}', "missing or empty 'method'"),
        ('{"dataset": "d", "method": "m", "metrics": {"p@1": "high"}}', "not a number"),
        ('{"schema_version": 9, "dataset": "d", "method": "m", "metrics": {}}', "schema_version"),
    ],
)
def test_records_missing_fields_are_skipped_with_the_problem(tmp_path, content, problem):
    bad = tmp_path / "d" / "m" / "bad.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(content)
    with pytest.warns(RecordWarning, match=re.escape(problem)):
        assert load_records(tmp_path, include_reported=False) == []


def test_load_records_adds_or_drops_reported_rows(tmp_path):
    write_run(tmp_path, make_record(), make_topk())
    write_run(tmp_path, make_record(source="reported", method="parabel"), make_topk())
    measured = load_records(tmp_path, include_reported=False)
    assert [r.source for r in measured] == ["measured"]
    everything = load_records(tmp_path)
    reported = [r for r in everything if r.is_reported]
    assert len(reported) == 1 + 59  # the file above plus the paper's rows
    assert load_records(tmp_path / "missing", include_reported=False) == []


def test_load_topk_names_a_missing_npz(tmp_path):
    path = write_run(tmp_path, make_record(), make_topk())
    path.with_name(f"{path.stem}.topk.npz").unlink()
    with pytest.raises(XMCBenchError, match=r"top-k file .*\.topk\.npz is missing"):
        load_topk(path)


def test_params_key_ignores_seed_and_device_and_key_order():
    a = params_key({"trees": 3, "lr": 0.001, "seed": 1, "device": "cuda"})
    b = params_key({"lr": 0.001, "trees": 3, "seed": 2})
    assert a == b == '{"lr":0.001,"trees":3}'
    assert params_key(None) == "{}"


def test_records_frame_has_one_row_per_record_and_metric_columns(tmp_path):
    write_run(tmp_path, make_record(seed=0), make_topk())
    write_run(tmp_path, make_record(seed=1, metrics={"ndcg@3": 0.5, "p@1": 0.9}), make_topk())
    frame = records_frame(load_records(tmp_path, include_reported=False))
    assert len(frame) == 2
    for col in ("method", "dataset", "seed", "source", "params_key", "variant", "run_id"):
        assert col in frame.columns
    metric_cols = [c for c in frame.columns if "@" in c]
    assert metric_cols == ["p@1", "p@3", "p@5", "ndcg@3", "psp@1"]
    assert sorted(frame["seed"].tolist()) == [0, 1]
    assert frame["params_key"].nunique() == 1
    assert set(frame["variant"]) == {"attentionxml"}
    assert frame["train_s"].iloc[0] == pytest.approx(1830.2)
