"""`xmcbench sweep`: grids crossed or zipped, seeds, finished points skipped, failures reported
while the sweep goes on. Real runs: the third-party kNN plugin and a tiny AttentionXML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import THIRD_PARTY, run_cli

from xmcbench.errors import XMCBenchError
from xmcbench.plugins import get_plugins, load_plugins
from xmcbench.sweep import parse_grid, plan_points, run_sweep

DATASET = "synthetic-tiny"


def recorded(results: Path, method: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.glob(f"*/{method}/*.json"))]


# --------------------------------------------------------------------------- planning


def test_grid_values_parse_like_set_and_take_json_lists():
    grid = parse_grid(["tree_k=8,16", "fc_sizes=[[512,256],[256]]", "impl=fast,reference"])
    assert grid == {
        "tree_k": [8, 16],
        "fc_sizes": [[512, 256], [256]],
        "impl": ["fast", "reference"],
    }
    assert parse_grid(["lr=1e-3"]) == {"lr": [0.001]} and parse_grid(["swa=true,false"]) == {
        "swa": [True, False]
    }
    for bad, message in (
        ("tree_k", "expects key=v1,v2"),
        ("tree_k=", "expects key=v1,v2"),
        ("tree_k=8,,16", "an empty value between commas"),
    ):
        with pytest.raises(XMCBenchError, match=message):
            parse_grid([bad])
    with pytest.raises(XMCBenchError, match="tree_k is given twice"):
        parse_grid(["tree_k=8", "tree_k=16"])


def test_points_cross_the_grids_or_zip_them_with_seeds_fastest():
    grid = {"tree_k": [8, 16], "candidates": [160, 80]}
    crossed = plan_points(grid, seeds=[0, 1], fixed={"epochs": 2})
    assert [(p.grid["tree_k"], p.grid["candidates"], p.seed) for p in crossed] == [
        (8, 160, 0), (8, 160, 1), (8, 80, 0), (8, 80, 1),
        (16, 160, 0), (16, 160, 1), (16, 80, 0), (16, 80, 1),
    ]  # fmt: skip
    assert crossed[0].params == {"epochs": 2, "tree_k": 8, "candidates": 160}
    zipped = plan_points(grid, zipped=True)
    assert [p.grid for p in zipped] == [
        {"tree_k": 8, "candidates": 160},
        {"tree_k": 16, "candidates": 80},
    ]
    assert zipped[1].label() == "tree_k=16, candidates=80"
    with pytest.raises(
        XMCBenchError, match="--zip needs lists of one length: tree_k has 2, C has 3"
    ):
        plan_points({"tree_k": [8, 16], "C": [1, 2, 3]}, zipped=True)
    with pytest.raises(XMCBenchError, match="tree_k given both in --set and in --grid"):
        plan_points(grid, fixed={"tree_k": 4})
    with pytest.raises(XMCBenchError, match="at least one --grid"):
        plan_points({})


# --------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def knn_plugins():
    """The plugins of this process plus the third-party kNN plugin (found by its entry point)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(THIRD_PARTY))
        plugins = load_plugins()
        assert "knn" in plugins.methods
        yield plugins


def test_sweep_runs_every_point_skips_finished_ones_and_survives_failures(knn_plugins, tmp_path):
    points = plan_points({"neighbours": [1, 5, 0]}, seeds=[0, 1])
    lines: list[str] = []
    outcomes = run_sweep(
        "knn", DATASET, points, knn_plugins, results_dir=tmp_path, progress=False, log=lines.append
    )
    assert [o.status for o in outcomes] == ["done"] * 4 + ["failed"] * 2
    assert "neighbours must be a positive integer, got 0" in outcomes[-1].detail
    runs = recorded(tmp_path, "knn")
    assert sorted((r["params"]["neighbours"], r["seed"]) for r in runs) == [
        (1, 0), (1, 1), (5, 0), (5, 1),
    ]  # fmt: skip
    assert lines[0] == "[1/6] knn on synthetic-tiny: neighbours=1 (seed 0)"
    assert lines[-1].startswith("  failed: method 'knn': neighbours must be a positive integer")

    again = run_sweep(
        "knn", DATASET, points, knn_plugins, results_dir=tmp_path, progress=False, log=lambda _: 0
    )
    assert [o.status for o in again] == ["skipped"] * 4 + ["failed"] * 2
    assert [o.detail for o in again[:4]] == [o.detail for o in outcomes[:4]]
    assert len(recorded(tmp_path, "knn")) == 4  # nothing ran twice

    other_prep = run_sweep(
        "knn", DATASET, points[:1], knn_plugins, results_dir=tmp_path, prep={"max_vocab": 300},
        progress=False, log=lambda _: 0,
    )  # fmt: skip
    assert [o.status for o in other_prep] == ["done"]  # other preprocessing: another run


TINY = {
    "embedding_dim": 16,
    "hidden_size": 8,
    "fc_sizes": [16],
    "embedding_init": "random",
    "max_steps": 2,
    "eval_every": 2,
    "valid_size": 30,
    "epochs": 1,
    "tree_height": 1,
    "progress": False,
}


def test_zipped_attentionxml_sweep_and_what_counts_as_the_same_point(tmp_path):
    plugins = get_plugins()
    grid = {"tree_k": [4, 8], "candidates": [8, 4]}

    def sweep(**fixed):
        points = plan_points(grid, zipped=True, fixed={**TINY, **fixed})
        outcomes = run_sweep(
            "attentionxml", DATASET, points, plugins, results_dir=tmp_path, device="cpu",
            progress=False, log=lambda _: 0,
        )  # fmt: skip
        return [o.status for o in outcomes]

    assert sweep() == ["done", "done"]
    runs = recorded(tmp_path, "attentionxml")
    assert sorted((r["params"]["tree_k"], r["params"]["candidates"]) for r in runs) == [
        (4, 8),
        (8, 4),
    ]  # fmt: skip  (zipped: no (4, 4) or (8, 8))
    assert all(r["params"]["tree_height"] == 1 and r["params"]["hidden_size"] == 8 for r in runs)
    assert sweep() == ["skipped", "skipped"]
    # a point is the same only if every resolved parameter is: another lr is another run
    assert sweep(lr=0.02) == ["done", "done"]
    assert len(recorded(tmp_path, "attentionxml")) == 4


def test_command_line_exit_status_and_summary(tmp_path):
    results = tmp_path / "results"
    first = run_cli(
        "sweep", "knn", "--dataset", DATASET, "--grid", "neighbours=2,0", "--seeds", "0",
        "--results", str(results), extra_path=THIRD_PARTY,
    )  # fmt: skip
    assert first.returncode == 1, first.stderr
    assert "sweep: 2 point(s) of knn on synthetic-tiny" in first.stderr  # a note
    assert "1 done, 0 skipped, 1 failed" in first.stdout
    second = run_cli(
        "sweep", "knn", "--dataset", DATASET, "--grid", "neighbours=2", "--results",
        str(results), extra_path=THIRD_PARTY,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "0 done, 1 skipped, 0 failed" in second.stdout
    bad = run_cli(
        "sweep", "knn", "--dataset", DATASET, "--grid", "neighbours", extra_path=THIRD_PARTY
    )
    assert bad.returncode == 2 and "--grid expects key=v1,v2" in bad.stderr


def test_a_point_whose_preset_settles_values_in_fit_is_still_found_again(tmp_path):
    """The auto preset picks the tree and max_len from the data: the record keeps both what
    was used and what the command resolved to, and a second sweep finds the run."""
    plugins = get_plugins()
    flat_auto = {k: v for k, v in TINY.items() if k != "tree_height"}  # auto chooses it

    def sweep():
        points = plan_points({"lr": [0.01]}, fixed=flat_auto)
        outcomes = run_sweep(
            "attentionxml", DATASET, points, plugins, results_dir=tmp_path, device="cpu",
            progress=False, log=lambda _: 0,
        )  # fmt: skip
        return [o.status for o in outcomes]

    assert sweep() == ["done"]
    (record,) = recorded(tmp_path, "attentionxml")
    assert record["params"]["tree_height"] == 0 and "max_len" in record["params"]
    assert "max_len" not in record["params_before_fit"]
    assert sweep() == ["skipped"]
