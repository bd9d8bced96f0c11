"""The linear tree baselines (parabel, bonsai via omikuji; plt via napkinXC) as real peers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import run_cli

pytest.importorskip("omikuji", reason="the baselines plugin needs omikuji")
pytest.importorskip("napkinxc", reason="the baselines plugin needs napkinxc")

from xmcbench.errors import XMCBenchError
from xmcbench.methods.popularity import Popularity
from xmcbench.metrics import precision_at_k
from xmcbench.paths import from_home
from xmcbench.plugins import get_plugins
from xmcbench.runner import build_method
from xmcbench.types import Split

METHODS = ("parabel", "bonsai", "plt")
N_LABELS, N_NOISE, UNSEEN = 60, 40, 5
# small trees on 60 labels, so that every method really branches instead of one flat leaf
SMALL_TREES = {
    "parabel": {"min_branch_size": 8},
    "bonsai": {"min_branch_size": 8, "cluster_k": 4},
    "plt": {"max_leaves": 8},
    "xr-linear": {"max_leaf_size": 8},
}
NO_PECOS = importlib.util.find_spec("pecos") is None


def make_split(name: str, n: int, rng: np.random.Generator) -> Split:
    """n docs with 1-3 Zipf-drawn labels; label j shows as feature j among noise features.

    Label j is column UNSEEN + j: columns 0..UNSEEN-1 never occur, like test-only labels, so
    a method that forgets to map its compact label ids back predicts the wrong columns.
    """
    weights = 1.0 / np.arange(1, N_LABELS + 1) ** 0.7
    label_rows = [
        rng.choice(N_LABELS, size=rng.integers(1, 4), replace=False, p=weights / weights.sum())
        for _ in range(n)
    ]
    rows = np.repeat(np.arange(n), [len(r) for r in label_rows])
    cols = np.concatenate(label_rows)
    labels = sp.csr_matrix(
        (np.ones(len(cols), np.float32), (rows, cols + UNSEEN)), shape=(n, N_LABELS + UNSEEN)
    )
    signal = sp.csr_matrix(
        (rng.uniform(0.6, 1.0, len(cols)), (rows, cols)), shape=(n, N_LABELS + N_NOISE)
    )
    noise = sp.random(n, N_LABELS + N_NOISE, density=0.08, random_state=rng) * 0.5
    features = sp.csr_matrix(signal + noise, dtype=np.float32)
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1))).ravel()
    features = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ features, dtype=np.float32)
    return Split(
        name=name,
        tokens=np.zeros(0, np.int32),
        offsets=np.zeros(n + 1, np.int64),
        labels=labels,
        vocab=("<pad>", "<unk>"),
        label_names=tuple(f"l{j}" for j in range(N_LABELS + UNSEEN)),
        features=features,
    )


@pytest.fixture(scope="module")
def data() -> tuple[Split, Split]:
    rng = np.random.default_rng(7)
    return make_split("train", 400, rng), make_split("test", 150, rng)


def build(name: str, **params):
    spec = get_plugins().methods.get(name)
    return build_method(spec, {**SMALL_TREES[name], **params}, seed=0, device="auto")


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory) -> dict:
    train, _ = data
    methods = {}
    for name in METHODS:
        method = build(name, n_threads=1)
        method.fit(train, None, tmp_path_factory.mktemp(f"work-{name}"))
        methods[name] = method
    return methods


def test_plugin_registers_the_three_methods_lazily():
    plugins = get_plugins()
    assert plugins.info["baselines"].error is None
    assert {"parabel", "bonsai", "plt"} <= {spec.name for spec in plugins.methods}
    bonsai = plugins.methods.get("bonsai")
    assert dict(bonsai.params) == {"cluster_k": 100, "cluster_balanced": False, "max_depth": 3}
    assert "CPU-only" in bonsai.description


def test_listing_methods_imports_no_learning_library():
    code = (
        "import sys; from xmcbench.cli import main; assert main(['methods']) == 0; "
        "print(sorted(m for m in ('omikuji', 'napkinxc', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "parabel" in out.stdout and out.stdout.strip().endswith("[]")


@pytest.mark.parametrize("name", METHODS)
def test_learns_the_signal_and_beats_popularity(name, data, fitted):
    train, test = data
    popularity = Popularity()
    popularity.fit(train, None)
    floor = precision_at_k(popularity.predict(test, 5).labels, test.labels, 1)
    p1 = precision_at_k(fitted[name].predict(test, 5).labels, test.labels, 1)
    assert floor < 0.3
    assert p1 > 0.8 and p1 > floor + 0.4, (name, p1, floor)


@pytest.mark.parametrize("name", METHODS)
def test_predictions_have_the_contract_shape_and_pad_with_minus_one(name, data, fitted):
    _, test = data
    k = N_LABELS + 10  # more than the 60 labels that ever occur in training
    top = fitted[name].predict(test, k)
    assert top.labels.shape == top.scores.shape == (len(test), k)
    assert top.labels.dtype == np.int32 and top.scores.dtype == np.float32
    assert (top.labels[:, N_LABELS:] == -1).all()  # no model knows more than 60 labels
    assert not np.isin(top.labels, np.arange(UNSEEN)).any()  # never a label without training docs
    assert np.isneginf(top.scores[top.labels == -1]).all()
    assert np.isfinite(top.scores[top.labels >= 0]).all()
    finite = np.where(np.isfinite(top.scores), top.scores, np.finfo(np.float32).min)
    assert (np.diff(finite, axis=1) <= 0).all()  # best first
    for row in top.labels:
        real = row[row >= 0]
        assert len(set(real.tolist())) == len(real)


def assert_same_ranking(before, after, tol: float = 1e-5) -> None:
    """Same labels in the same order, except that labels whose scores tie within `tol` may swap.

    omikuji keeps the trained model's weights dense in memory but saves them sparse, so a
    reloaded model's scores differ in the last float bits and exact near-ties can reorder.
    """
    np.testing.assert_allclose(before.scores, after.scores, rtol=1e-5, atol=1e-6)
    differ = before.labels != after.labels
    if differ.any():
        rows, cols = np.nonzero(differ)
        scores = before.scores[rows]  # (m, k) the rows where labels moved
        moved = before.scores[rows, cols][:, None]  # (m, 1)
        tied = np.abs(scores - moved) <= tol
        swapped_within_ties = [
            set(before.labels[r][tied[i]]) == set(after.labels[r][tied[i]])
            for i, r in enumerate(rows)
        ]
        assert all(swapped_within_ties), f"rankings differ beyond near-ties at rows {set(rows)}"


@pytest.mark.parametrize("name", METHODS)
def test_save_load_round_trip_predicts_identically(name, data, fitted, tmp_path):
    _, test = data
    method = fitted[name]
    method.save(tmp_path / "model")
    restored = type(method).load(tmp_path / "model")
    before, after = method.predict(test, 5), restored.predict(test, 5)
    assert_same_ranking(before, after)
    assert restored.get_params() == method.get_params()
    restored.n_threads = 3  # omikuji predicts chunks on threads: same answers, same order
    threaded = restored.predict(test, 5)
    np.testing.assert_array_equal(after.labels, threaded.labels)
    restored.save(tmp_path / "model")  # saving over the folder it was loaded from
    again = type(method).load(tmp_path / "model").predict(test, 5)
    np.testing.assert_array_equal(after.labels, again.labels)


@pytest.mark.parametrize(
    ("name", "override"),
    [("parabel", {"linear_c": 2.5}), ("bonsai", {"n_trees": 2}), ("plt", {"liblinear_c": 3.0})],
)
def test_get_params_reflects_overrides_and_registered_presets(name, override):
    params = build(name, **override, n_threads=3).get_params()
    assert params.items() >= {**override, **SMALL_TREES[name], "n_threads": 3}.items()
    if name == "bonsai":
        assert params["cluster_balanced"] is False and params["max_depth"] == 3


def test_hyperparameters_reach_omikuji_and_its_log_stays_out_of_the_console(data, tmp_path, capfd):
    train, _ = data
    method = build("bonsai", n_trees=1, linear_c=2.5, linear_loss="log", n_threads=1)
    method.fit(train, None, tmp_path)
    console = capfd.readouterr()
    assert "omikuji" not in console.out + console.err
    log = (tmp_path / "omikuji.log").read_text()  # omikuji logs the settings it trained with
    assert "n_trees: 1," in log and "max_depth: 3," in log
    assert "loss_type: Log" in log and "c: 2.5," in log
    assert "k: 4, balanced: false" in log


def test_hyperparameters_reach_napkinxc():
    method = build("plt", liblinear_c=3.0, arity=4, n_threads=1)
    model = method._model(Path("unused"))
    assert model.get_params().items() >= {"liblinear_c": 3.0, "arity": 4, "seed": 0}.items()
    assert model.get_params()["max_leaves"] == 8 and model.get_params()["threads"] == 1


def test_default_threads_follow_the_machine():
    import os

    spec = get_plugins().methods.get("parabel")
    assert build_method(spec, {}, seed=0, device="cpu").get_params()["n_threads"] == os.cpu_count()


def test_a_misspelled_parameter_is_a_clear_error():
    with pytest.raises(XMCBenchError, match="did you mean 'linear_c'"):
        build("parabel", linear_cc=1.0)


@pytest.mark.parametrize(
    "name,named",  # the method, and the name its error gives (omikuji's for parabel and bonsai)
    [
        ("parabel", "omikuji"),
        ("plt", "plt"),
        pytest.param(
            "xr-linear", "xr-linear", marks=pytest.mark.skipif(NO_PECOS, reason="needs libpecos")
        ),
    ],
)
def test_missing_tfidf_features_is_a_clear_error(name, named, data, tmp_path):
    train, _ = data
    bare = Split(
        name="train",
        tokens=train.tokens,
        offsets=train.offsets,
        labels=train.labels,
        vocab=train.vocab,
        label_names=train.label_names,
    )
    with pytest.raises(XMCBenchError, match=f"'{named}' needs TF-IDF features"):
        build(name).fit(bare, None, tmp_path)


def test_cli_run_records_the_params(tmp_path: Path):
    if importlib.util.find_spec("xmcbench.data.synthetic") is None:
        pytest.skip("synthetic-tiny cannot be built: xmcbench/data/synthetic.py is missing")
    results = tmp_path / "results"
    run_cli(
        "run",
        "parabel",
        "--dataset",
        "synthetic-tiny",
        "--set",
        "linear_c=2.0",
        "--results",
        str(results),
        "--quiet",
        check=True,
    )
    (record_path,) = results.glob("synthetic-tiny/parabel/*.json")
    record = json.loads(record_path.read_text())
    assert record["plugin"] == "baselines"
    assert record["params"]["linear_c"] == 2.0 and record["params"]["n_trees"] == 3
    assert record["env"]["device"] == "cpu"
    assert record["metrics"]["p@1"] > 0.0
    saved = from_home(record["model_dir"])  # relative to XMCBENCH_HOME
    assert (saved / "omikuji" / "settings.json").is_file() and (saved / "params.json").is_file()
