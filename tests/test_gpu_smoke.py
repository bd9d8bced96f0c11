"""scripts/gpu_smoke.py: its comparison and options on CPU, the whole smoke test on CUDA."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_smoke.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_smoke"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


smoke = _load_script()


def test_matching_scores_pass_even_when_near_ties_swap() -> None:
    gpu_labels = np.array([[3, 1, 2], [0, -1, -1]])
    gpu_scores = np.array([[0.90, 0.500, 0.499], [0.7, -np.inf, -np.inf]])
    cpu_labels = np.array([[3, 2, 1, 7], [0, 5, 6, 8]])  # 2 and 1 swapped: a near-tie
    cpu_scores = np.array([[0.91, 0.501, 0.498, 0.1], [0.69, 0.2, 0.1, 0.05]])
    check = smoke.compare_topk(gpu_labels, gpu_scores, cpu_labels, cpu_scores, atol=0.02)
    assert (check.compared, check.mismatched) == (4, 0) and check.passed  # -1 is not compared
    assert check.max_abs_diff == pytest.approx(0.01)


def test_scores_out_of_tolerance_and_unreachable_labels_are_mismatches() -> None:
    cpu_labels = np.array([[3, 1, 2]])
    cpu_scores = np.array([[0.9, 0.5, 0.3]])
    off = smoke.compare_topk(np.array([[3]]), np.array([[0.8]]), cpu_labels, cpu_scores, 0.05)
    assert off.mismatched == 1 and not off.passed
    # a label the CPU did not rank: fine just below the CPU's cut, not far above it
    low = smoke.compare_topk(np.array([[9]]), np.array([[0.32]]), cpu_labels, cpu_scores, 0.05)
    high = smoke.compare_topk(np.array([[9]]), np.array([[0.6]]), cpu_labels, cpu_scores, 0.05)
    assert low.passed and not high.passed


def test_options_and_their_refusals() -> None:
    args = smoke.parse_args([])
    assert (args.dataset, args.steps, args.nproc, args.precisions) == (
        "synthetic",
        300,
        None,
        ["fp16", "bf16"],
    )
    assert smoke.parse_args(["--nproc", "2", "--precisions", "bf16"]).precisions == ["bf16"]
    for bad in (["--nproc", "0"], ["--precisions", "fp8"], ["--steps", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            smoke.parse_args(bad)
        assert exit_info.value.code == 2


def test_without_cuda_it_says_skipped(monkeypatch, capsys) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert smoke.main([]) == 0
    assert capsys.readouterr().out.startswith("skipped: no CUDA")
    assert smoke.main(["--require-cuda"]) == smoke.EXIT_NO_CUDA


def test_the_script_itself_skips_when_no_gpu_is_visible() -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "skipped: no CUDA" in done.stdout


def test_a_training_section_runs_its_checks_on_cpu(tmp_path: Path) -> None:
    """The section's train/save/reload-on-CPU/compare path, on the CPU (bf16 vs fp32)."""
    from xmcbench.data.resolve import load_dataset
    from xmcbench.plugins import get_plugins

    dataset = load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)
    line = smoke.train_in_process(dataset, False, "bf16", 3, tmp_path, 0.06, device="cpu")
    assert line.startswith("3 steps") and ", 0 out of tolerance" in line


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_smoke_passes_on_the_gpus(capsys) -> None:
    assert smoke.main(["--steps", "60"]) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith("PASS")
