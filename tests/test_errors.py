"""Every user mistake fails early with one `error:` line: before data is loaded, no traceback.

The CLI runs in-process (`main([...])`); loading the dataset is patched to fail the test, so a
check that only happens after loading (or after training) is caught as a failure here.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import xmcbench.data.resolve
import xmcbench.preflight
import xmcbench.results.store
from xmcbench.cli import main
from xmcbench.errors import ParamError
from xmcbench.methods.popularity import Popularity
from xmcbench.paramspec import check_params, fraction, integer, integers, number
from xmcbench.paths import from_home

TINY = ["--dataset", "synthetic-tiny", "--quiet"]
TINY_AXML = [
    "embedding_dim=16", "hidden_size=8", "fc_sizes=[16]", "embedding_init=random", "epochs=1",
    "trees=1", "max_len=64", "batch_size=32", "valid_size=20", "eval_every=5", "max_steps=5",
    "precision=fp32", "progress=false",
]  # fmt: skip
TORCH_METHODS = {"attentionxml", "attentionxml-noswa", "xml-cnn", "bilstm-maxpool"}
LIBRARY = {"parabel": "omikuji", "bonsai": "omikuji", "plt": "napkinxc"}


def one_error_line(capsys: pytest.CaptureFixture[str], code: int, *expected: str) -> str:
    """Assert a failed command printed one `error:` line holding `expected` and nothing else."""
    out, err = capsys.readouterr()
    assert code != 0, "the command succeeded"
    assert not out.strip(), f"output before the error: {out}"
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for text in expected:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a dataset fails the test: the error must come before any data work."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the dataset was loaded before the mistake was reported")

    monkeypatch.setattr(xmcbench.data.resolve, "load_dataset", refuse)


def needs_library(method: str) -> None:
    if method in TORCH_METHODS:
        pytest.importorskip("torch")
    if method in LIBRARY:
        pytest.importorskip(LIBRARY[method])


# ---------------------------------------------------------------- outputs, checked first


def test_results_that_is_a_file_fails_before_any_data_or_training(tmp_path, capsys, no_data):
    results = tmp_path / "results.txt"
    results.write_text("not a folder\n")
    code = main(["run", "popularity", *TINY, "--results", str(results)])
    one_error_line(capsys, code, "--results", str(results), "not a folder")
    assert results.read_text() == "not a folder\n"


def test_results_under_a_file_fails_before_any_data(tmp_path, capsys, no_data):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code = main(["run", "popularity", *TINY, "--results", str(blocker / "sub")])
    one_error_line(capsys, code, str(blocker / "sub"), f"{blocker} is a file")


def test_results_folder_not_writable_fails_before_any_data(tmp_path, capsys, monkeypatch, no_data):
    results = tmp_path / "results"
    results.mkdir()
    real_mkstemp = tempfile.mkstemp

    def denied(*args, **kwargs):  # what a read-only folder answers (root ignores chmod)
        if Path(kwargs.get("dir", "")) == results:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(results))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    code = main(["run", "popularity", *TINY, "--results", str(results)])
    one_error_line(capsys, code, str(results), "cannot write", os.strerror(errno.EACCES))


def test_a_missing_results_folder_is_checked_and_left_absent_on_failure(tmp_path, capsys, no_data):
    results = tmp_path / "new" / "results"
    code = main(["run", "attentionxml", *TINY, "--set", "lr=-1", "--results", str(results)])
    one_error_line(capsys, code)
    assert not (tmp_path / "new").exists()


def test_models_folder_not_writable_fails_before_any_data(tmp_path, capsys, monkeypatch, no_data):
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    monkeypatch.setenv("XMCBENCH_HOME", str(home))
    code = main(["run", "popularity", *TINY, "--results", str(tmp_path / "results")])
    one_error_line(capsys, code, "models folder", str(home))


# ---------------------------------------------------------------- hyperparameters


BAD_VALUES = [
    ("attentionxml", "lr={", ["lr must be a finite number > 0", "'{'"]),
    ("attentionxml", "lr=-1", ["lr must be a finite number > 0", "got -1"]),
    ("attentionxml", "lr=NaN", ["lr must be a finite number > 0", "got nan"]),
    ("attentionxml", "embedding_dropout=2", ["embedding_dropout must be a number in [0, 1)"]),
    ("attentionxml", "epochs=2.5", ["epochs must be an integer >= 1", "got 2.5"]),
    ("attentionxml", "swa=1", ["swa must be true or false", "got 1"]),
    ("attentionxml", "tree_k=6", ["tree_k must be a power of two", "got 6"]),
    ("attentionxml", "preset=5", ["preset must be one of", "got 5"]),
    ("attentionxml", "embedding_init=/no/such/vectors.txt", ["embedding_init", "vectors.txt"]),
    ("attentionxml-noswa", "fc_sizes=abc", ["fc_sizes must be a list of integers", "'abc'"]),
    ("xml-cnn", "filter_sizes=abc", ["filter_sizes must be a list of integers", "'abc'"]),
    ("xml-cnn", "dropout=1", ["dropout must be a number in [0, 1)", "got 1"]),
    ("bilstm-maxpool", "encoder_dropout=-0.1", ["encoder_dropout", "got -0.1"]),
    ("bilstm-maxpool", "hidden_size=0", ["hidden_size must be an integer >= 1", "got 0"]),
    ("parabel", "n_trees=abc", ["n_trees must be an integer >= 1", "'abc'"]),
    ("bonsai", "cluster_k=1", ["cluster_k must be an integer >= 2", "got 1"]),
    ("plt", "arity=abc", ["arity must be an integer >= 2", "'abc'"]),
    ("plt", "loss=foo", ["loss must be one of", "'foo'"]),
    ("popularity", "seed=3", ["use --seed"]),
]


@pytest.mark.parametrize(("method", "assignment", "expected"), BAD_VALUES)
def test_a_bad_value_is_one_line_naming_it_before_any_data(
    method, assignment, expected, tmp_path, capsys, no_data
):
    needs_library(method)
    argv = ["run", method, *TINY, "--set", assignment, "--results", str(tmp_path / "results")]
    line = one_error_line(capsys, main(argv), f"method '{method}'", *expected)
    assert "weights_only" not in line and not (tmp_path / "results").exists()


def test_param_types_are_checked_and_normalised():
    specs = {"epochs": integer(1), "lr": number(0, low_open=True), "sizes": integers(1)}
    assert check_params({"epochs": 3.0, "lr": 1, "sizes": 512}, specs) == {
        "epochs": 3,
        "lr": 1.0,
        "sizes": (512,),
    }
    assert check_params({"other": "kept"}, specs) == {"other": "kept"}
    for bad in ({"epochs": True}, {"lr": float("inf")}, {"sizes": [3, 0]}, {"sizes": []}):
        with pytest.raises(ParamError, match=next(iter(bad))):
            check_params(bad, specs)
    with pytest.raises(ParamError, match=r"dropout must be a number in \[0, 1\), got 1.0"):
        check_params({"dropout": 1.0}, {"dropout": fraction()})


def test_bad_seed_is_refused_before_any_data(tmp_path, capsys, no_data):
    code = main(["run", "popularity", *TINY, "--seed", "-1", "--results", str(tmp_path)])
    one_error_line(capsys, code, "--seed", "-1")


def test_config_whose_prep_is_not_a_table_is_one_line(tmp_path, capsys, no_data):
    config = tmp_path / "run.toml"
    config.write_text("prep = 5\n")
    code = main(["run", "popularity", *TINY, "--config", str(config), "--results", str(tmp_path)])
    one_error_line(capsys, code, str(config), "prep")


# ---------------------------------------------------------------- device


@pytest.mark.parametrize("method", ["popularity", "attentionxml", "parabel"])
def test_cuda_without_a_gpu_is_refused_before_any_data(
    method, tmp_path, capsys, monkeypatch, no_data
):
    needs_library(method)
    monkeypatch.setattr(xmcbench.preflight, "cuda_available", lambda: False)
    argv = ["run", method, *TINY, "--device", "cuda", "--results", str(tmp_path / "r")]
    one_error_line(capsys, main(argv), "--device cuda", "no CUDA")


def test_popularity_records_the_device_it_ran_on(tmp_path, capsys):
    assert main(["run", "popularity", *TINY, "--results", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("synthetic-tiny/popularity/*.json")
    assert json.loads(path.read_text())["env"]["device"] == "cpu"


# ---------------------------------------------------------------- write errors


def test_a_full_disk_while_saving_the_model_names_the_file(tmp_path, capsys, monkeypatch):
    original = Popularity.save

    def save_on_a_full_disk(self, path):
        def too_large(*args, **kwargs):  # what write() raises: no file name attached
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))

        with monkeypatch.context() as patch:
            patch.setattr(np, "save", too_large)
            original(self, path)

    monkeypatch.setattr(Popularity, "save", save_on_a_full_disk)
    code = main(["run", "popularity", *TINY, "--results", str(tmp_path)])
    one_error_line(capsys, code, "frequency.npy", os.strerror(errno.EFBIG))


def test_a_failed_record_write_names_the_record_not_its_temporary(tmp_path, capsys, monkeypatch):
    def no_space(results_dir, record, topk, **kwargs):
        target = Path(results_dir) / f".{record.run_id}.json.k3x9q2ab.tmp"
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(xmcbench.results.store, "write_run", no_space)
    code = main(["run", "popularity", *TINY, "--results", str(tmp_path)])
    line = one_error_line(capsys, code, str(tmp_path), os.strerror(errno.ENOSPC))
    assert ".tmp" not in line and line.split(":")[1].strip().endswith(".json")


# ---------------------------------------------------------------- saved models


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Record paths of a tiny AttentionXML run and a popularity run."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    results = tmp_path_factory.mktemp("results")
    sets = [arg for value in TINY_AXML for arg in ("--set", value)]
    assert main(["run", "attentionxml", *TINY, "--results", str(results), *sets]) == 0
    assert main(["run", "popularity", *TINY, "--results", str(results)]) == 0
    return {m.name: next(m.glob("*.json")) for m in (results / "synthetic-tiny").iterdir()}


def damaged_copy(record_path: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the run's record and model folder to damage; (record path, model folder)."""
    record = json.loads(record_path.read_text())
    model_dir = tmp_path / "model"
    shutil.copytree(from_home(record["model_dir"]), model_dir)
    record["model_dir"] = str(model_dir)
    copy = tmp_path / record_path.name
    copy.write_text(json.dumps(record))
    return copy, model_dir


class Payload:
    """What a crafted checkpoint would carry: code to run when unpickled (never run here)."""

    def __reduce__(self):
        return (print, ("this must never print",))


@pytest.mark.parametrize("command", ["predict", "explain"])
def test_a_crafted_weights_file_is_not_a_model(command, saved_runs, tmp_path, capsys, recwarn):
    record, model_dir = damaged_copy(saved_runs["attentionxml"], tmp_path)
    (model_dir / "weights.pt").write_bytes(pickle.dumps({"weights": Payload()}))
    args = ["--text", "some words"] if command == "predict" else ["--doc", "0", "--label", "0"]
    code = main([command, "--run", str(record), *args])
    line = one_error_line(capsys, code, f"{model_dir / 'weights.pt'}: not a model written by")
    assert "weights_only" not in line
    assert not [w for w in recwarn if "pickle" in str(w.message)]  # would print above the line


def test_an_unknown_key_in_a_saved_params_file_is_named(saved_runs, tmp_path, capsys):
    record, model_dir = damaged_copy(saved_runs["attentionxml"], tmp_path)
    saved = json.loads((model_dir / "params.json").read_text())
    saved["params"]["dropout_rate"] = 0.1
    (model_dir / "params.json").write_text(json.dumps(saved))
    code = main(["predict", "--run", str(record), "--text", "some words"])
    one_error_line(capsys, code, str(model_dir / "params.json"), "'dropout_rate'")


def test_a_damaged_popularity_model_is_one_line(saved_runs, tmp_path, capsys):
    record, model_dir = damaged_copy(saved_runs["popularity"], tmp_path)
    (model_dir / "frequency.npy").write_bytes(pickle.dumps([1, 2, 3]))
    code = main(["predict", "--run", str(record), "--text", "some words"])
    one_error_line(capsys, code, f"{model_dir / 'frequency.npy'}: not a model written by")


# ---------------------------------------------------------------- unexpected errors, --debug


class LibraryPanic(BaseException):
    """What a Rust library's panic looks like from Python (pyo3's PanicException)."""


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (RuntimeError("CUDA out of memory.\nTried to allocate 2 GiB"), "RuntimeError: CUDA out"),
        (LibraryPanic("index out of bounds"), "LibraryPanic: index out of bounds"),
    ],
)
def test_an_unexpected_error_inside_a_method_is_one_line(
    raised, expected, tmp_path, capsys, monkeypatch
):
    def broken_fit(self, train, valid, workdir=None):
        raise raised

    monkeypatch.setattr(Popularity, "fit", broken_fit)
    code = main(["run", "popularity", *TINY, "--results", str(tmp_path)])
    line = one_error_line(capsys, code, expected, "--debug")
    assert code == 1 and "Tried to allocate" not in line


@pytest.mark.parametrize("how", ["before", "after", "env"])
def test_debug_shows_the_traceback(how, tmp_path, capsys, monkeypatch, no_data):
    results = tmp_path / "file"
    results.write_text("")
    argv = ["run", "popularity", *TINY, "--results", str(results)]
    if how == "env":
        monkeypatch.setenv("XMCBENCH_DEBUG", "1")
    argv = ["--debug", *argv] if how == "before" else [*argv, "--debug"] if how == "after" else argv
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "check_writable_dir" in err
    assert err.strip().splitlines()[-1].startswith("error: --results")


def test_a_sweep_into_a_file_is_refused_before_the_first_run(tmp_path, capsys, no_data):
    results = tmp_path / "results.txt"
    results.write_text("")
    argv = ["sweep", "popularity", *TINY, "--grid", "x=1,2", "--results", str(results)]
    one_error_line(capsys, main(argv), "--results", "not a folder")


def test_explain_output_under_a_file_fails_before_the_work(saved_runs, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    page = blocker / "fig3.html"
    argv = ["explain", "--run", str(saved_runs["attentionxml"]), "--doc", "0", "--label", "0"]
    code = main([*argv, "--output", str(page)])
    one_error_line(capsys, code, str(page), f"{blocker}: is a file")  # and nothing explained


@pytest.mark.parametrize(
    "command", [["compare"], ["leaderboard", "--output", "site"], ["report", "table5"]]
)
def test_reading_results_from_a_file_is_one_line(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results.json"
    results.write_text("{}")
    code = main([*command, "--results", str(results)])
    one_error_line(capsys, code, str(results), "not a folder")


@pytest.mark.parametrize("by", [[], ["--by", "K"]])
def test_compare_ks_that_is_not_integers_is_a_usage_error(by, tmp_path, capsys, monkeypatch):
    """With or without --by: exit 2, one line naming --ks, before any record is read."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("records were read before --ks was checked")

    monkeypatch.setattr(xmcbench.results.store, "load_records", refuse)
    code = main(["compare", *by, "--ks", "1,x", "--results", str(tmp_path)])
    assert code == 2
    one_error_line(capsys, code, "--ks expects comma-separated integers, got '1,x'")


@pytest.mark.parametrize("method", ["parabel", "bonsai", "plt"])
def test_a_linear_method_on_data_without_tfidf_fails_before_training_naming_it(
    method, tmp_path, capsys, monkeypatch
):
    """The error names the method as the user called it (not its library), before any fit."""
    needs_library(method)
    from xmcbench.plugins import get_plugins

    cls = get_plugins().methods.get(method).load()  # the class the runner will build

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started on a dataset without TF-IDF features")

    monkeypatch.setattr(cls, "fit", refuse)
    results = tmp_path / "results"
    code = main(["run", method, *TINY, "--prep", "tfidf=false", "--results", str(results)])
    line = one_error_line(capsys, code, f"method {method!r} needs TF-IDF features", "tfidf")
    assert "omikuji" not in line and "napkin" not in line
    assert not results.exists() or not any(results.rglob("*.json"))
