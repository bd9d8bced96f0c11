"""Seeded linear runs: plt can be made bit-identical; parabel/bonsai say they cannot, and why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("omikuji", reason="the baselines plugin needs omikuji")
pytest.importorskip("napkinxc", reason="the baselines plugin needs napkinxc")

from xmcbench.cli import main
from xmcbench.errors import XMCBenchError
from xmcbench.plugins import get_plugins
from xmcbench.runner import build_method


def run(results: Path, method: str, *options: str) -> tuple[dict, dict[str, np.ndarray]]:
    """One in-process `xmcbench run` on synthetic-tiny: its record and its saved top-k."""
    argv = ["run", method, "--dataset", "synthetic-tiny", "--seed", "3", *options]
    assert main([*argv, "--results", str(results), "--quiet"]) == 0
    (path,) = results.glob(f"synthetic-tiny/{method}/*.json")
    record = json.loads(path.read_text())
    with np.load(path.with_name(f"{record['run_id']}.topk.npz")) as topk:
        return record, {name: topk[name] for name in topk.files}


def test_deterministic_plt_runs_give_identical_topk(tmp_path: Path) -> None:
    # two threads, and both runs in one process: the C rand() napkinXC's liblinear draws from
    # is shared between threads and carries over from run to run unless it is seeded
    options = ("--set", "deterministic=true", "--set", "n_threads=2")
    first, first_topk = run(tmp_path / "a", "plt", *options)
    second, second_topk = run(tmp_path / "b", "plt", *options)
    assert first["params"]["deterministic"] is True and first["params"]["n_threads"] == 2
    assert first["seed"] == second["seed"] == 3
    np.testing.assert_array_equal(first_topk["labels"], second_topk["labels"])
    np.testing.assert_array_equal(first_topk["scores"], second_topk["scores"])
    assert first["metrics"] == second["metrics"]


@pytest.mark.parametrize("method", ["parabel", "bonsai"])
def test_omikuji_methods_refuse_determinism_in_one_line_saying_why(
    method: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", method, "--dataset", "synthetic-tiny", "--set", "deterministic=true"]
    assert main([*argv, "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: method {method!r}: deterministic=True is impossible: ")
    assert "omikuji 0.5.2 takes no seed" in err and "OS entropy" in err
    assert err.count("\n") == 1
    assert not list(tmp_path.glob("**/*.json"))


def test_a_parabel_record_says_the_run_was_not_deterministic(tmp_path: Path) -> None:
    record, _ = run(tmp_path, "parabel")
    assert record["params"]["deterministic"] is False


def test_plt_deterministic_must_be_a_boolean() -> None:
    spec = get_plugins().methods.get("plt")
    with pytest.raises(XMCBenchError, match="deterministic must be true or false, got 'yes'"):
        build_method(spec, {"deterministic": "yes"}, seed=0, device="cpu")
    assert build_method(spec, {}, seed=0, device="cpu").get_params()["deterministic"] is False
