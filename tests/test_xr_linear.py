"""XR-Linear (PECOS) as a baseline: it learns, its settings reach PECOS, its files are checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("pecos", reason="xr-linear needs libpecos")

from test_baselines_linear import N_LABELS, UNSEEN, make_split
from xmcbench_baselines.pecos_compat import compressed_matrix
from xmcbench_baselines.pecos_methods import XRLinear

from xmcbench.cli import main
from xmcbench.errors import XMCBenchError
from xmcbench.methods.popularity import Popularity
from xmcbench.metrics import precision_at_k
from xmcbench.plugins import get_plugins
from xmcbench.runner import build_method
from xmcbench.saved_run import load_run_method
from xmcbench.types import Split

SMALL_TREE = {"nr_splits": 2, "max_leaf_size": 8}  # 60 labels: a tree four levels deep


@pytest.fixture(scope="module")
def data() -> tuple[Split, Split]:
    rng = np.random.default_rng(7)
    return make_split("train", 400, rng), make_split("test", 150, rng)


def build(**params) -> XRLinear:
    spec = get_plugins().methods.get("xr-linear")
    return build_method(spec, {**SMALL_TREE, **params}, seed=0, device="auto")


def fit(train: Split, workdir: Path, **params) -> XRLinear:
    method = build(**params)
    method.fit(train, None, workdir)
    return method


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory) -> XRLinear:
    return fit(data[0], tmp_path_factory.mktemp("work"), n_threads=1)


def levels(method: XRLinear) -> list[tuple[int, int]]:
    """(labels, clusters) of each level of the trained tree, root first."""
    return [m.C.shape for m in method.model_.model.model_chain]


def test_registered_lazily_under_its_name_and_alias():
    plugins = get_plugins()
    assert plugins.methods.get("xrlinear").name == "xr-linear"
    spec = plugins.methods.get("xr-linear")
    assert spec.plugin == "baselines" and "tree-based" in spec.tags
    assert "PECOS" in spec.description and "CPU-only" in spec.description
    code = (
        "import sys; from xmcbench.cli import main; assert main(['methods']) == 0; "
        "print('pecos' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "xr-linear" in out.stdout and out.stdout.strip().endswith("False")


def test_learns_the_signal_and_beats_popularity(data, fitted):
    train, test = data
    popularity = Popularity()
    popularity.fit(train, None)
    floor = precision_at_k(popularity.predict(test, 5).labels, test.labels, 1)
    p1 = precision_at_k(fitted.predict(test, 5).labels, test.labels, 1)
    assert floor < 0.3
    assert p1 > 0.85 and p1 > floor + 0.5, (p1, floor)


def test_predictions_have_the_contract_shape_and_pad_with_minus_one(data, fitted):
    _, test = data
    k = N_LABELS + 10  # more than the 60 labels that ever occur in training
    top = fitted.predict(test, k)
    assert top.labels.shape == top.scores.shape == (len(test), k)
    assert top.labels.dtype == np.int32 and top.scores.dtype == np.float32
    assert (top.labels[:, N_LABELS:] == -1).all()
    assert not np.isin(top.labels, np.arange(UNSEEN)).any()  # compact ids mapped back
    assert np.isneginf(top.scores[top.labels == -1]).all()
    finite = np.where(np.isfinite(top.scores), top.scores, np.finfo(np.float32).min)
    assert (np.diff(finite, axis=1) <= 0).all()  # best first
    for row in top.labels:
        real = row[row >= 0]
        assert len(set(real.tolist())) == len(real)


def test_save_load_round_trip_predicts_identically(data, fitted, tmp_path):
    _, test = data
    fitted.save(tmp_path / "model")
    assert (tmp_path / "model" / "pecos" / "ranker" / "3.model" / "W.npz").is_file()
    restored = XRLinear.load(tmp_path / "model")
    before, after = fitted.predict(test, 10), restored.predict(test, 10)
    np.testing.assert_array_equal(before.labels, after.labels)
    np.testing.assert_array_equal(before.scores, after.scores)
    assert restored.get_params() == fitted.get_params()
    assert levels(restored) == levels(fitted)
    restored.save(tmp_path / "model")  # saving over the folder it was loaded from
    again = XRLinear.load(tmp_path / "model").predict(test, 10)
    np.testing.assert_array_equal(after.scores, again.scores)


def test_same_model_on_any_thread_count(data, fitted, tmp_path):
    train, test = data
    threaded = fit(train, tmp_path, n_threads=2)
    np.testing.assert_array_equal(fitted.predict(test, 5).scores, threaded.predict(test, 5).scores)


def test_tree_settings_reach_the_indexer(data, fitted, tmp_path):
    assert levels(fitted) == [(2, 1), (4, 2), (8, 4), (60, 8)]  # 2-way splits, leaves <= 8
    wide = fit(data[0], tmp_path, nr_splits=4, max_leaf_size=20)
    assert levels(wide) == [(4, 1), (60, 4)]
    flat = fit(data[0], tmp_path, nr_splits=16, max_leaf_size=100)
    assert levels(flat) == [(60, 1)]  # PECOS's defaults: one leaf holds all 60 labels


def test_beam_size_and_post_processor_change_prediction(data, fitted):
    _, test = data
    base = fitted.predict(test, 10)
    fitted.beam_size = 1  # one cluster per level: most documents lose candidates
    narrow = fitted.predict(test, 10)
    fitted.beam_size = 10
    assert (narrow.labels == -1).sum() > (base.labels == -1).sum()
    fitted.post_processor = "sigmoid"
    sigmoid = fitted.predict(test, 10)
    fitted.post_processor = "l3-hinge"
    assert not np.allclose(sigmoid.scores[:, 0], base.scores[:, 0])


def test_solver_settings_reach_the_classifiers(data, fitted, tmp_path):
    dense = fit(data[0], tmp_path, threshold=0.0, n_threads=1)
    pairs = zip(dense.model_.model.model_chain, fitted.model_.model.model_chain, strict=True)
    assert all(d.W.nnz > f.W.nnz for d, f in pairs)  # no weight dropped: more nonzeros
    stronger = fit(data[0], tmp_path, Cp=4.0, n_threads=1)
    leaf = fitted.model_.model.model_chain[-1].W
    assert abs(stronger.model_.model.model_chain[-1].W).sum() > abs(leaf).sum()


def test_default_threads_follow_the_harness(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert build().get_params()["n_threads"] == 3
    assert build(n_threads=2).get_params()["n_threads"] == 2


def test_every_parameter_has_a_meaning():
    described = XRLinear.describe()["params"]
    names = {p["name"] for p in described}
    assert names == set(XRLinear().get_params())
    assert all(p["help"] for p in described)
    defaults = {p["name"]: p["default"] for p in described}
    assert defaults["nr_splits"] == 16 and defaults["negative_sampling"] == "tfn"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("nr_splits=1", "nr_splits must be an integer >= 2, got 1"),
        ("negative_sampling=usn", "negative_sampling must be one of tfn, man, tfn+man"),
        ("Cp=0", "Cp must be a finite number > 0, got 0"),
    ],
)
def test_a_bad_hyperparameter_is_one_line_before_any_work(setting, message, tmp_path, capsys):
    argv = ["run", "xr-linear", "--dataset", "synthetic-tiny", "--set", setting]
    assert main([*argv, "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: method 'xr-linear': ") and message in err
    assert err.count("\n") == 1
    assert not list(tmp_path.glob("**/*.json"))


def test_without_libpecos_a_run_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    from xmcbench_baselines import pecos_methods

    monkeypatch.setattr(pecos_methods, "pecos_installed", lambda: False)
    argv = ["run", "xr-linear", "--dataset", "synthetic-tiny", "--results", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: method 'xr-linear': libpecos is not installed: "
        "pip install --no-deps libpecos==1.2.8\n"
    )
    assert not list(tmp_path.glob("**/*.json"))


def test_an_error_inside_pecos_is_one_line_naming_the_method(data, tmp_path, monkeypatch):
    from pecos.xmc import Indexer

    def broken(*args, **kwargs):
        raise AssertionError("clustering went wrong\n  deep inside the C++ code")

    monkeypatch.setattr(Indexer, "gen", broken)
    with pytest.raises(XMCBenchError) as info:
        fit(data[0], tmp_path)
    assert str(info.value) == (
        "xr-linear: PECOS failed to train (AssertionError: clustering went wrong)"
    )


def rewrite_npz(path: Path, **changes) -> None:
    """Replace arrays of a saved .npz (as a tampered model folder would)."""
    with np.load(path, allow_pickle=True) as saved:
        arrays = {key: saved[key] for key in saved.files}
    arrays.update(changes)
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("index", "inconsistent sparse structure"),
        ("pickle", "not a sparse matrix file without pickles"),
        ("shape", "does not chain with the tree"),
        ("bias", "bias 5.0, the params say 1.0"),
        ("depth", "depth 99"),
    ],
)
def test_a_tampered_model_folder_is_refused_before_pecos_sees_it(fitted, tmp_path, tamper, reason):
    fitted.save(tmp_path)
    level = tmp_path / "pecos" / "ranker" / "2.model"
    if tamper == "index":  # a row index past the end: native code would read out of bounds
        with np.load(level / "W.npz") as saved:
            indices = saved["indices"].copy()
        indices[0] = 10**6
        rewrite_npz(level / "W.npz", indices=indices)
    elif tamper == "pickle":
        rewrite_npz(level / "W.npz", data=np.array([{"a": 1}], dtype=object))
    elif tamper == "shape":
        c = sp.csc_matrix(np.ones((8, 3), np.float32))
        sp.save_npz(level / "C.npz", c, compressed=False)
    elif tamper == "bias":
        info = json.loads((level / "param.json").read_text())
        (level / "param.json").write_text(json.dumps({**info, "bias": 5.0}))
    else:
        ranker = tmp_path / "pecos" / "ranker" / "param.json"
        ranker.write_text(json.dumps({**json.loads(ranker.read_text()), "depth": 99}))
    with pytest.raises(XMCBenchError, match=reason) as info:
        XRLinear.load(tmp_path)
    assert "not a model written by xmcbench" in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_cli_run_records_params_and_predict_reloads_the_model(tmp_path, capsys):
    results = tmp_path / "results"
    argv = ["run", "xrlinear", "--dataset", "synthetic-tiny", "--set", "beam_size=5"]
    assert main([*argv, "--set", "n_threads=1", "--results", str(results), "--quiet"]) == 0
    popularity = ["run", "popularity", "--dataset", "synthetic-tiny", "--results", str(results)]
    assert main([*popularity, "--quiet"]) == 0
    capsys.readouterr()
    (path,) = results.glob("synthetic-tiny/xr-linear/*.json")
    record = json.loads(path.read_text())
    (floor,) = [json.loads(p.read_text()) for p in results.glob("synthetic-tiny/popularity/*.json")]
    assert record["plugin"] == "baselines" and record["env"]["device"] == "cpu"
    assert record["params"]["beam_size"] == 5 and record["params"]["nr_splits"] == 16
    assert record["metrics"]["p@1"] > floor["metrics"]["p@1"] + 0.3
    method = load_run_method(record, get_plugins())
    assert isinstance(method, XRLinear) and method.beam_size == 5


def test_the_compatibility_constructor_keeps_pecos_contract():
    data = np.array([1.0, 2.0, 3.0])
    indices = np.array([0, 2, 1], dtype=np.uint32)  # the types PECOS's C++ code returns
    indptr = np.array([0, 2, 2, 3], dtype=np.uint64)
    matrix = compressed_matrix((data, indices, indptr), sp.csc_matrix, (3, 3), np.float32)
    assert isinstance(matrix, sp.csc_matrix) and matrix.dtype == np.float32
    expected = np.array([[1, 0, 0], [0, 0, 3], [2, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(matrix.toarray(), expected)
