"""`xmcbench fuse`: fused rankings by hand, weights, refusals, and the fused run in `compare`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xmcbench.cli import main
from xmcbench.data.resolve import load_dataset
from xmcbench.errors import XMCBenchError
from xmcbench.fusion import fuse_rankings, parse_weights
from xmcbench.plugins import get_plugins
from xmcbench.results.store import load_ranking, load_topk, read_record, write_run
from xmcbench.runner import evaluate_topk
from xmcbench.types import TopK


@pytest.fixture(scope="module")
def tiny():
    return load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)


def rows(n: int, labels: list[int], scores: list[float]) -> TopK:
    """The same ranking for each of `n` documents."""
    return TopK(
        labels=np.tile(np.array(labels, dtype=np.int32), (n, 1)),
        scores=np.tile(np.array(scores, dtype=np.float32), (n, 1)),
    )


def save(results: Path, dataset, method: str, topk: TopK, **extra) -> Path:
    """A hand-made record of `method` on `dataset` (as a run would write it) and its top-k."""
    record = {
        "run_id": f"20260101T000000Z-{method}",
        "method": method,
        "dataset": dataset.name,
        "dataset_hash": dataset.content_hash,
        "n_test": len(dataset.test),
        "seed": 0,
        "metrics": {"p@1": 0.0},
        "timing": {"train_s": 2.0, "predict_s": 1.0, "predict_ms_per_doc": 10.0},
        "model_bytes": 100,
        **extra,
    }
    return write_run(results, record, topk, head=min(5, topk.k))


def test_weighted_mean_of_probabilities_by_hand(tiny, tmp_path: Path, capsys) -> None:
    n = len(tiny.test)
    a = save(tmp_path, tiny, "deep", rows(n, [0, 1, 2], [0.9, 0.5, 0.2]))
    save(tmp_path, tiny, "linear", rows(n, [2, 3], [0.8, 0.6]))
    assert main(["fuse", str(a), "20260101T000000Z-lin", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().err  # a note, not a result
    assert "saved only its top 2" in out  # b is shallow: labels below its 2nd count as 0
    (path,) = tmp_path.glob("synthetic-tiny/fusion/*.json")
    fused = load_ranking(path)
    # label 2: (0.2 + 0.8) / 2 = 0.5; 0: 0.9 / 2; 3: 0.6 / 2; 1: 0.5 / 2; then no label
    assert fused.labels[0].tolist() == [2, 0, 3, 1, -1]
    np.testing.assert_allclose(fused.scores[0, :4], [0.5, 0.45, 0.3, 0.25], atol=1e-6)
    assert np.isneginf(fused.scores[0, 4]) and (fused.labels == fused.labels[0]).all()
    record = read_record(path)
    assert record.params == {
        "combine": "score",
        "runs": ["20260101T000000Z-deep", "20260101T000000Z-linear"],
        "methods": ["deep", "linear"],
        "weights": [0.5, 0.5],
    }
    assert record.dataset_hash == tiny.content_hash and record.model_bytes == 200
    assert record.train_s == 4.0  # both sources must train
    assert [s["method"] for s in record.extra["fusion"]["sources"]] == ["deep", "linear"]
    expected = evaluate_topk(fused, tiny, list(get_plugins().metrics), (1, 3, 5))
    assert record.metrics == pytest.approx(expected)
    assert record.metrics["p@1"] == pytest.approx(float(tiny.test.labels[:, 2].mean()))


def test_weights_scores_off_scale_and_rank_fusion() -> None:
    probs = rows(1, [0, 1, 2], [0.9, 0.5, 0.2])
    logits = rows(1, [3, 0, 1], [10.0, 4.0, 2.0])  # outside [0, 1]: min-max to 1, 0.25, 0
    fused = fuse_rankings([probs, logits], [3.0, 1.0], n_labels=4)
    # 0: (3 * 0.9 + 0.25) / 4; 1: 3 * 0.5 / 4; 2: 3 * 0.2 / 4; 3: 1 / 4
    assert fused.labels[0].tolist() == [0, 1, 3]
    np.testing.assert_allclose(fused.scores[0], [0.7375, 0.375, 0.25], atol=1e-6)
    ranked = fuse_rankings([probs, logits], [1.0, 1.0], n_labels=4, combine="rank", depth=5)
    # reciprocal ranks: 0 gets 1/61 + 1/62, 1 gets 1/62 + 1/63, 3 gets 1/61, 2 gets 1/63
    assert ranked.labels[0].tolist() == [0, 1, 3, 2, -1]
    np.testing.assert_allclose(ranked.scores[0, 0], (1 / 61 + 1 / 62) / 2, rtol=1e-6)
    alone = fuse_rankings([probs, logits], [1.0, 0.0], n_labels=4)  # weight 0 adds no labels
    assert alone.labels[0].tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1", "has 1 value(s) for 2 runs"),
        ("0.5,-0.5", "non-negative"),
        ("0,0", "sum to 0"),
        ("a,1", "'a' is not a number"),
        ("nan,1", "non-negative"),
    ],
)
def test_bad_weights_are_refused(text: str, message: str) -> None:
    with pytest.raises(XMCBenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_weights(text, 2)
    assert parse_weights("1,3", 2) == [1.0, 3.0] and parse_weights(None, 4) == [0.25] * 4


def test_runs_on_different_data_are_refused_in_one_line(tiny, tmp_path: Path, capsys) -> None:
    n = len(tiny.test)
    a = save(tmp_path, tiny, "deep", rows(n, [0, 1], [0.9, 0.5]))
    b = save(tmp_path, tiny, "other", rows(n, [0, 1], [0.9, 0.5]), dataset_hash="f" * 64)
    assert main(["fuse", str(a), str(b), "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: runs 20260101T000000Z-deep")
    assert "20260101T000000Z-other" in err and "different data" in err
    assert main(["fuse", str(a), str(a), "--results", str(tmp_path)]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["fuse", str(a), str(b), "--name", "popularity"]) == 2
    assert "registered method" in capsys.readouterr().err
    assert not list(tmp_path.glob("*/fusion"))


def test_real_runs_save_deep_rankings_and_their_fusion_shows_in_compare(
    tiny, tmp_path: Path, capsys
) -> None:
    for method in ("popularity", "plt"):
        argv = ["run", method, "--dataset", "synthetic-tiny", "--results", str(tmp_path)]
        assert main([*argv, "--quiet"]) == 0
    (plt,) = tmp_path.glob("synthetic-tiny/plt/*.json")
    record = read_record(plt)
    assert (record.topk_k, record.ranking_k) == (5, tiny.n_labels)  # top 100, 48 labels
    top, deep = load_topk(plt), load_ranking(plt)
    assert top.k == 5 and deep.k == tiny.n_labels
    assert np.array_equal(deep.labels[:, :5], top.labels)
    assert (np.diff(deep.scores, axis=1) <= 0).all()  # float16 tail still ranked
    assert record.metrics == pytest.approx(
        evaluate_topk(top, tiny, list(get_plugins().metrics), (1, 3, 5))
    )
    capsys.readouterr()
    plt_id = plt.stem
    pop_id = next(tmp_path.glob("synthetic-tiny/popularity/*.json")).stem
    argv = ["fuse", plt_id[:-2], pop_id, "--weights", "0.8,0.2", "--name", "plt+pop"]
    assert main([*argv, "--results", str(tmp_path)]) == 0
    assert "record:" in capsys.readouterr().out
    (fused_path,) = tmp_path.glob("synthetic-tiny/plt+pop/*.json")
    fused = json.loads(fused_path.read_text())
    assert fused["params"]["methods"] == ["plt", "popularity"]
    assert fused["params"]["weights"] == [0.8, 0.2]
    expected = fuse_rankings(
        [deep, load_ranking(next(tmp_path.glob("synthetic-tiny/popularity/*.json")))],
        [0.8, 0.2],
        tiny.n_labels,
    )
    assert np.array_equal(load_ranking(fused_path).labels, expected.labels)
    assert main(["compare", "--results", str(tmp_path), "--no-reported", "--format", "csv"]) == 0
    table = capsys.readouterr().out
    assert {"plt+pop", "plt", "popularity"} <= {line.split(",")[1] for line in table.splitlines()}
