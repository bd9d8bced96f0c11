"""The Python API as users call it: `xmcbench.load_dataset`, `run`, `evaluate`."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import run_cli

import xmcbench
from xmcbench.errors import XMCBenchError
from xmcbench.metrics import inverse_propensity
from xmcbench.registry import MetricSpec
from xmcbench.results.store import load_topk
from xmcbench.types import TopK

# three documents, four labels: the hand-computed case of the evaluate tests
TRUTH_LISTS = [[0, 2], [1], [3]]
TRUTH = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float32))
RANKED = np.array([[2, 1, 0], [0, 1, 3], [3, 0, 1]])  # best first
SCORES = np.array(  # the same ranking as scores; the unranked label scores lowest
    [[0.4, 0.5, 0.9, 0.1], [0.8, 0.6, 0.0, 0.3], [0.2, 0.1, 0.05, 0.7]]
)
WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0])  # inverse propensity of labels 0..3


def dcg(hits: list[int]) -> float:
    return sum(hit / math.log2(rank + 2) for rank, hit in enumerate(hits))


@pytest.fixture(scope="module")
def tiny():
    return xmcbench.load_dataset("synthetic-tiny")


# ------------------------------------------------------------------ import and load_dataset


def test_import_stays_light_and_the_api_loads_on_first_use():
    code = (
        "import sys, xmcbench\n"
        "heavy = ('xmcbench.api', 'xmcbench.runner', 'xmcbench.plugins', 'pandas', 'torch')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert callable(xmcbench.evaluate) and callable(xmcbench.run)\n"
        "assert 'xmcbench.api' not in sys.modules or xmcbench.run.__module__ == 'xmcbench.api'\n"
        "from xmcbench import load_dataset, inv_propensity\n"
        "print(sorted(set(xmcbench.__all__) - set(dir(xmcbench))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (out.returncode, out.stdout.strip()) == (0, "[]"), out.stderr


def test_load_dataset_gives_splits_labels_and_propensities(tiny, capfd):
    again = xmcbench.load_dataset("synthetic-tiny")
    assert capfd.readouterr() == ("", "")  # quiet unless progress=True
    assert again.content_hash == tiny.content_hash
    assert (len(tiny.train), len(tiny.valid), len(tiny.test), tiny.n_labels) == (270, 30, 100, 48)
    assert len(tiny.train.label_names) == tiny.n_labels == tiny.test.labels.shape[1]
    assert tiny.info["prep"] == {}
    w = xmcbench.inv_propensity(tiny)
    expected = inverse_propensity(tiny.propensity_labels, tiny.propensity_a, tiny.propensity_b)
    np.testing.assert_array_equal(w, expected)
    assert w.shape == (tiny.n_labels,) and (w > 1).all()


def test_load_dataset_takes_prep_options_as_keywords():
    short = xmcbench.load_dataset("synthetic-tiny", max_len=5, valid_size=0)
    assert short.valid is None and short.train.lengths.max() <= 5
    assert short.info["prep"] == {"max_len": 5, "valid_size": 0}
    with pytest.raises(XMCBenchError, match=r"unknown preprocessing option.*max_lenn"):
        xmcbench.load_dataset("synthetic-tiny", max_lenn=5)
    with pytest.raises(XMCBenchError, match="max_len='5': not int"):
        xmcbench.load_dataset("synthetic-tiny", max_len="5")
    with pytest.raises(XMCBenchError, match="did you mean 'synthetic-tiny'"):
        xmcbench.load_dataset("synthetic-tiyn")


def test_inv_propensity_of_a_label_matrix_by_hand():
    labels = sp.csr_matrix(np.array([[1, 1], [1, 0], [1, 0], [0, 0]]))  # N = 4; counts 3, 1
    c = (math.log(4) - 1) * (1.5 + 1) ** 0.55
    expected = [1 + c * (3 + 1.5) ** -0.55, 1 + c * (1 + 1.5) ** -0.55]
    np.testing.assert_allclose(xmcbench.inv_propensity(labels), expected)
    # A and B are the caller's: with B = 2.6 the rare label's term is (ln 4 - 1) (3.6/3.6)^0.6
    rare = xmcbench.inv_propensity(labels, a=0.6, b=2.6)[1]
    assert rare == pytest.approx(1 + (math.log(4) - 1))


# ------------------------------------------------------------------ evaluate


def test_evaluate_top_k_ids_by_hand():
    got = xmcbench.evaluate(RANKED, TRUTH, ks=(1, 3))
    assert list(got) == ["p@1", "p@3", "ndcg@1", "ndcg@3"]  # no inv_prop: no PS metrics
    assert got["p@1"] == pytest.approx(2 / 3)  # rows 0 and 2 hit at rank 1
    assert got["p@3"] == pytest.approx(4 / 9)
    ndcg3 = (
        dcg([1, 0, 1]) / dcg([1, 1]) + dcg([0, 1, 0]) / dcg([1]) + dcg([1, 0, 0]) / dcg([1])
    ) / 3
    assert got["ndcg@3"] == pytest.approx(ndcg3)
    assert got["ndcg@1"] == pytest.approx(2 / 3)


def test_ids_dense_scores_sparse_scores_and_label_lists_score_alike():
    top3_only = np.where(np.sort(SCORES, axis=1)[:, [1]] <= SCORES, SCORES, 0.0)
    inputs = [
        RANKED,
        RANKED.tolist(),
        TopK(labels=RANKED.astype(np.int32), scores=-np.ones((3, 3), np.float32)),
        SCORES,
        SCORES.astype(np.float32),
        sp.csr_matrix(top3_only),  # only the stored entries are candidates
    ]
    expected = xmcbench.evaluate(RANKED, TRUTH, inv_prop=WEIGHTS, ks=(1, 2, 3))
    for predictions in inputs:
        for truth in (TRUTH, TRUTH.toarray(), TRUTH_LISTS):
            got = xmcbench.evaluate(predictions, truth, inv_prop=WEIGHTS, ks=(1, 2, 3))
            assert got == pytest.approx(expected), (type(predictions), type(truth))


def test_psp_against_a_hand_computation():
    got = xmcbench.evaluate(RANKED, TRUTH_LISTS, inv_prop=WEIGHTS, ks=(1, 3))
    # rank 1: hits label 2 (w 3) and label 3 (w 4); the ideal picks 3, 2 and 4 (each row's best)
    assert got["psp@1"] == pytest.approx(7 / 9)
    # top 3: hits 2+0 (3+1), 1 (2), 3 (4) = 10; the ideal: 3+1, 2, 4 = 10
    assert got["psp@3"] == pytest.approx(1.0)
    # PSnDCG@1: sum of w-weighted DCG/IDCG over rows, over the same for the ideal ranking
    assert got["psndcg@1"] == pytest.approx((3 + 0 + 4) / (3 + 2 + 4))


def test_a_score_matrix_ranks_ties_by_label_id_and_pads_past_its_columns():
    scores = np.array([[0.5, 0.5, 0.9, 0.5]])
    np.testing.assert_array_equal(xmcbench.scores_to_topk(scores, 3), [[2, 0, 1]])
    sparse = sp.csr_matrix((np.array([0.5, 0.9, 0.5]), ([0, 0, 0], [3, 2, 1])), shape=(1, 4))
    np.testing.assert_array_equal(xmcbench.scores_to_topk(sparse, 5), [[2, 1, 3, -1, -1]])
    narrow = np.array([[0.1, 0.9], [0.8, 0.2]])  # two labels, k up to 5: padded, not refused
    got = xmcbench.evaluate(narrow, [[1], [1]], ks=(1, 5))
    assert got["p@1"] == pytest.approx(0.5) and got["p@5"] == pytest.approx(2 / 10)


def test_named_metrics_and_a_plugin_style_spec():
    got = xmcbench.evaluate(RANKED, TRUTH, ks=(1,), metrics=["p", "n"])
    assert list(got) == ["p@1", "ndcg@1"]
    seen = []

    def depth(pred, truth, k):
        seen.append(pred.shape)
        return float((pred[:, :k] >= 0).mean())

    spec = MetricSpec("depth", depth)
    assert xmcbench.evaluate(SCORES, TRUTH, ks=(2, 3), metrics=[spec]) == {
        "depth@2": 1.0,
        "depth@3": 1.0,
    }
    assert seen == [(3, 3), (3, 3)]  # every metric reads the (n, max k) ids


@pytest.mark.parametrize(
    ("predictions", "truth", "options", "message"),
    [
        (RANKED[:2], TRUTH, {}, "predictions have 2 rows but true_labels has 3"),
        (SCORES[:, :3], TRUTH, {}, "score matrix has 3 columns but true_labels has 4 labels"),
        (np.array([[0, -2, 1]] * 3), TRUTH, {}, "label ids must be >= 0, or -1"),
        (np.array([[0, 7, 1]] * 3), TRUTH, {}, "label id 7 but true_labels has 4 labels"),
        (np.full((3, 4), np.nan), TRUTH, {}, "row 0 hold NaN"),
        (RANKED, TRUTH, {"metrics": ["psp"]}, "metric 'psp' needs inv_prop"),
        (RANKED, TRUTH, {"metrics": ["pp"]}, "unknown metric 'pp'; did you mean"),
        (RANKED, TRUTH, {"metrics": ["p@3"]}, "family names"),
        (RANKED, TRUTH, {"ks": (0, 1)}, "ks must be >= 1"),
        (RANKED, TRUTH, {"ks": 1.5}, "non-empty sequence of integers"),
        (RANKED, TRUTH, {"inv_prop": [1.0, 2.0]}, "inv_prop has 2 entries but true_labels has 4"),
        (RANKED, [[0], [1], [9]], {"inv_prop": WEIGHTS}, "label id 9 is beyond inv_prop"),
        (RANKED, [[0], [-1], [2]], {}, "true_labels holds label id -1"),
        (RANKED[0], TRUTH, {}, "predictions must be 2-D"),
        ("2 1 0", TRUTH, {}, "predictions must be a TopK"),
        (RANKED, "labels", {}, "true_labels must be a scipy.sparse"),
    ],
)
def test_bad_inputs_are_one_clear_value_error(predictions, truth, options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        xmcbench.evaluate(predictions, truth, **options)


# ------------------------------------------------------------------ run


@pytest.fixture(scope="module")
def api_run(tiny, tmp_path_factory):
    results = tmp_path_factory.mktemp("api") / "results"
    return results, xmcbench.run("popularity", "synthetic-tiny", results=results)


def test_run_returns_the_record_it_wrote_scored_by_evaluate(tiny, api_run):
    results, record = api_run
    assert isinstance(record, xmcbench.RunRecord)
    assert record.path.parent == results / "synthetic-tiny" / "popularity"
    assert json.loads(record.path.read_text())["metrics"] == record.metrics
    assert record.method == "popularity" and record.seed == 0 and record.prep == {}
    assert record.dataset_hash == tiny.content_hash
    rescored = xmcbench.evaluate(
        load_topk(record.path), tiny.test.labels, inv_prop=xmcbench.inv_propensity(tiny)
    )
    assert rescored == record.metrics  # the same function, the same numbers, to the bit
    assert {"p@1", "ndcg@5", "psp@3", "psndcg@5"} <= set(record.metrics)


def test_run_accepts_a_loaded_dataset_and_records_its_preparation(tiny, api_run, tmp_path):
    _, by_name = api_run
    record = xmcbench.run("popularity", tiny, results=tmp_path)
    assert record.metrics == by_name.metrics and record.dataset_hash == by_name.dataset_hash
    short = xmcbench.load_dataset("synthetic-tiny", max_len=5)
    record = xmcbench.run("popularity", short, results=tmp_path)
    assert record.prep == {"max_len": 5} and record.dataset_hash == short.content_hash
    with pytest.raises(XMCBenchError, match="prep applies when a dataset is prepared"):
        xmcbench.run("popularity", tiny, results=tmp_path, prep={"max_len": 5})


def test_run_is_quiet_by_default_and_scores_through_the_public_evaluate(
    tiny, tmp_path, capfd, monkeypatch
):
    import xmcbench.runner

    calls = []

    def spy(*args, **kwargs):
        calls.append((args, xmcbench.evaluate(*args, **kwargs)))
        return calls[-1][1]

    monkeypatch.setattr(xmcbench.runner, "evaluate", spy)
    record = xmcbench.run("popularity", tiny, results=tmp_path)
    assert capfd.readouterr() == ("", "")
    ((args, returned),) = calls
    assert args[1] is tiny.test.labels and record.metrics == returned


def test_run_with_progress_notes_its_steps_on_stderr_only(tiny, tmp_path, capfd):
    xmcbench.run("popularity", tiny, results=tmp_path, progress=True)
    out, err = capfd.readouterr()
    assert out == "" and "dataset synthetic-tiny: 270 train, 30 valid, 100 test" in err


def test_run_errors_name_the_problem_before_any_work(tmp_path):
    with pytest.raises(XMCBenchError, match="did you mean 'popularity'"):
        xmcbench.run("popularty", "synthetic-tiny", results=tmp_path)
    with pytest.raises(XMCBenchError, match="device must be one of auto, cpu, cuda"):
        xmcbench.run("popularity", "synthetic-tiny", results=tmp_path, device="gpu")
    with pytest.raises(XMCBenchError, match="--seed must be an integer >= 0"):
        xmcbench.run("popularity", "synthetic-tiny", results=tmp_path, seed=-1)
    with pytest.raises(XMCBenchError, match="has no parameter 'depth'"):
        xmcbench.run("popularity", "synthetic-tiny", results=tmp_path, params={"depth": 3})
    with pytest.raises(XMCBenchError, match="dataset must be a name, a folder or a Dataset"):
        xmcbench.run("popularity", 3, results=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_cli_run_and_the_python_run_agree_for_one_seed(tmp_path):
    # napkinXC's PLT is bit-identical for a seed when it trains on one thread (deterministic)
    params = {"deterministic": True}
    record = xmcbench.run("plt", "synthetic-tiny", params, seed=3, results=tmp_path / "py")
    cli = run_cli(
        "run", "plt", "--dataset", "synthetic-tiny", "--seed", "3", "--set", "deterministic=true",
        "--results", str(tmp_path / "cli"), "--quiet", check=True,
    )  # fmt: skip
    (path,) = (tmp_path / "cli").glob("synthetic-tiny/plt/*.json")
    from_cli = json.loads(path.read_text())
    assert from_cli["metrics"] == record.metrics and from_cli["params"] == dict(record.params)
    assert f"{100 * record.metrics['p@1']:.2f}" in cli.stdout
