"""Output people can script: results on stdout, notes on stderr, nothing wrapped in a pipe, JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xmcbench.cli import main
from xmcbench.notes import silenced

# a network small enough to train in seconds on synthetic-tiny
TINY_NET = [
    f"--set={key}={value}"
    for key, value in {
        "embedding_dim": 16, "hidden_size": 8, "fc_sizes": 16, "embedding_init": "random",
        "trees": 1, "epochs": 1, "batch_size": 16, "eval_every": 10, "max_len": 32,
    }.items()
]  # fmt: skip
RUN_TINY = ["run", "attentionxml", "--dataset", "synthetic-tiny", "--device", "cpu", *TINY_NET]


@pytest.fixture(autouse=True)
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """A narrow terminal setting, which output into a pipe must ignore."""
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def record_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("record: ")]


def test_a_run_prints_results_on_stdout_and_its_step_log_on_stderr(tmp_path, capsys):
    results = tmp_path / ("a-results-folder-with-a-long-name-" * 3)
    assert main([*RUN_TINY, "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert "attentionxml on synthetic-tiny (seed 0)" in out.splitlines()  # title on one line
    (line,) = record_lines(out)  # the path whole, on one line however long
    assert Path(line.removeprefix("record: ")).is_file()
    for noise in ("step ", "auto preset", "dataset synthetic-tiny:", "epoch"):
        assert noise not in out, noise
    assert "auto preset: " in err and "dataset synthetic-tiny: 270 train" in err
    assert any(line.startswith("step 10 epoch 1: loss ") for line in err.splitlines())
    assert "record: " not in err and "━" not in err  # no bar where no terminal watches


def test_quiet_leaves_results_and_silences_progress_and_step_logs(tmp_path, capsys):
    assert main([*RUN_TINY, "--quiet", "--results", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert len(record_lines(out)) == 1 and "step " not in out
    assert "XMCBENCH_QUIET" not in os.environ  # quiet for the command only


def test_quiet_reaches_processes_started_meanwhile():
    """Parallel trees train in worker processes: they inherit the silence."""
    speak = [sys.executable, "-c", "from xmcbench.notes import note; note('tree 1 level 1/2')"]
    loud = subprocess.run(speak, capture_output=True, text=True, check=True)
    assert loud.stdout == "" and loud.stderr == "tree 1 level 1/2\n"
    with silenced():
        hushed = subprocess.run(speak, capture_output=True, text=True, check=True)
    assert hushed.stdout == hushed.stderr == ""


def test_listings_in_a_pipe_are_not_wrapped_or_cut():
    env = {**os.environ, "COLUMNS": "40"}
    piped = subprocess.run(
        [sys.executable, "-m", "xmcbench.cli", "datasets"],
        env=env,
        capture_output=True,  # a pipe, as in `xmcbench datasets | cat`
        text=True,
        check=True,
    )
    assert "…" not in piped.stdout
    rows = [line for line in piped.stdout.splitlines() if "amazoncat-13k" in line]
    assert len(rows) == 1  # one line per dataset, every column whole
    for cell in ("amazoncat-13k", "AmazonCat-13K", "1,186,239", "306,782", "13,330", "download"):
        assert cell in rows[0], cell


def listing(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(list(argv)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def test_every_listing_prints_json(capsys):
    datasets = listing(capsys, "datasets", "--json")
    assert listing(capsys, "datasets", "list", "--json") == datasets
    eurlex = next(d for d in datasets if d["name"] == "eurlex-4k")
    assert eurlex["n_train"] == 15_449 and eurlex["propensity_a"] == 0.55  # numbers, not "15,449"
    assert "eurlex" in eurlex["aliases"] and eurlex["source"] == "download"
    assert set(datasets[0]) == set(eurlex)  # the same keys for every dataset
    info = listing(capsys, "datasets", "info", "eurlex", "--json")
    assert info == {**eurlex, "description": info["description"], "sources": info["sources"]}
    assert {"name": "pecos", "kind": "http"}.items() <= info["sources"][0].items()

    plugins = listing(capsys, "plugins", "--json")
    builtin = next(p for p in plugins if p["name"] == "builtin")
    assert builtin == {**builtin, "status": "ok", "error": None, "distribution": "xmcbench"}

    metrics = listing(capsys, "metrics", "--json")
    assert [m["name"] for m in metrics][:4] == ["p", "ndcg", "psp", "psndcg"]
    assert metrics[1]["label"] == "N" and metrics[0]["higher_is_better"] is True
    assert metrics[0]["ks"] == [1, 3, 5]

    (glove,) = listing(capsys, "embeddings", "list", "--json")
    assert glove["name"] == "glove-840b-300d" and glove["dims"] == 300
    assert glove["state"] == "absent" and glove["path"] is None  # not downloaded in this home

    methods = listing(capsys, "methods", "--json")
    noswa = next(m for m in methods if m["name"] == "attentionxml-noswa")
    assert noswa["fixed"] == {"swa": False} and noswa["plugin"] == "attentionxml"


def test_one_method_shows_each_parameter_with_its_meaning(capsys):
    info = listing(capsys, "methods", "plt", "--json")
    assert info["method"] == "plt"
    arity = next(p for p in info["params"] if p["name"] == "arity")
    assert arity["default"] == 2 and arity["help"]  # a one-line meaning
    assert all(isinstance(p["help"], str) for p in info["params"])
    assert main(["methods", "plt"]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if " arity " in line)
    assert arity["help"] in row and "meaning" in table


def test_compare_csv_holds_numbers_mean_and_std_apart(tmp_path, capsys):
    for seed in ("0", "1"):
        argv = ["run", "popularity", "--dataset", "synthetic-tiny", "--seed", seed, "--quiet"]
        assert main([*argv, "--results", str(tmp_path)]) == 0
    capsys.readouterr()
    compare = ["compare", "--results", str(tmp_path), "--format", "csv", "--metrics", "p@1,psp@1"]
    assert main([*compare, "--datasets", "synthetic-tiny,eurlex-4k"]) == 0
    out = capsys.readouterr().out
    assert "±" not in out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {"P@1", "P@1_std", "PSP@1", "PSP@1_std", "Runs"} <= set(rows[0])
    for row in rows:
        for column in ("P@1", "P@1_std", "PSP@1", "PSP@1_std"):
            assert row[column] == "" or isinstance(float(row[column]), float), (column, row)
    (popularity,) = [r for r in rows if r["Method"] == "popularity"]
    assert float(popularity["P@1"]) == pytest.approx(31.0)  # percent, as the tables show
    assert float(popularity["P@1_std"]) == 0.0 and popularity["Runs"] == "2"
    xt = next(r for r in rows if r["dataset"] == "eurlex-4k" and r["Method"].startswith("xt "))
    assert xt["PSP@1"] == "" and xt["Runs"] == "" and float(xt["P@1"]) > 0  # missing: empty
