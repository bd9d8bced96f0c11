"""Resuming safely: SIGTERM saves like Ctrl-C, other code or damaged files mean a fresh start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from xmcbench_attentionxml.method import AttentionXML  # noqa: E402

from xmcbench.deep import checkpoint  # noqa: E402

# one validation per epoch (135 steps), SWA from step 27 on: a SIGTERM soon after its log line
# falls between two validations
TERMINABLE = {
    "embedding_dim": 16, "hidden_size": 8, "fc_sizes": "[16]", "embedding_init": "random",
    "trees": 1, "epochs": 1, "batch_size": 2, "eval_every": 1000, "swa_warmup": 0.2,
    "patience": 1000, "max_len": 32, "precision": "fp32",
}  # fmt: skip
FLAT = {
    "embedding_dim": 16, "hidden_size": 8, "fc_sizes": [16], "embedding_init": "random", "trees": 1,
    "epochs": 2, "batch_size": 16, "eval_every": 10, "patience": 100, "max_len": 32,
    "progress": False, "device": "cpu",
}  # fmt: skip
TREE = {
    "embedding_dim": 16, "hidden_size": 8, "fc_sizes": (8,), "embedding_init": "random", "trees": 1,
    "swa": False, "eval_every": 50, "batch_size": 16, "progress": False, "device": "cpu",
    "tree_k": 4, "candidates": 4, "tree_height": 1, "epochs": 1,
}  # fmt: skip


@pytest.fixture(scope="module")
def dataset():
    from xmcbench.data.resolve import load_dataset
    from xmcbench.plugins import get_plugins

    torch.set_num_threads(1)
    return load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)


# ----------------------------------------------------------------------------- real processes


def xmcbench_run(home: Path, results: Path, **extra: object) -> subprocess.Popen:
    """`xmcbench run attentionxml ...` in a fresh process, its log lines on stderr."""
    params = {**TERMINABLE, **extra}
    sets = [i for key, value in params.items() for i in ("--set", f"{key}={value}")]
    argv = ["run", "attentionxml", "--dataset", "synthetic-tiny", "--device", "cpu", *sets]
    env = {**os.environ, "XMCBENCH_HOME": str(home), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "xmcbench.cli", *argv, "--results", str(results)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def terminated_run(
    tmp_path: Path, delay: float = 0.0, **extra: object
) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """Start a run, SIGTERM it between two validations (`delay` s after SWA starts); (home, work
    folder, what it gave)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "datasets").symlink_to(Path(os.environ["XMCBENCH_HOME"]) / "datasets")
    proc = xmcbench_run(home, tmp_path / "results", **extra)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # the step log: stdout holds only the results
        lines.append(line)
        if line.startswith("SWA starts at step"):
            time.sleep(delay)
            proc.send_signal(signal.SIGTERM)
            break
    out, err = proc.communicate(timeout=300)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(lines) + err)
    (work,) = (home / "models" / "work").iterdir()
    return home, work, result


@pytest.fixture(scope="module", autouse=True)
def tiny_built(dataset) -> None:
    """synthetic-tiny is prepared in the session's home before any process needs it."""


def test_sigterm_saves_a_checkpoint_and_the_rerun_resumes_counting_all_training(tmp_path):
    home, work, stopped = terminated_run(tmp_path)
    assert "stopped by SIGTERM at step" in stopped.stderr
    assert "interrupted: run the same command again to resume" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    saved = torch.load(work / "resume.pt", weights_only=True)
    step = saved["state"]["step"]
    assert step >= 27 and saved["state"]["last_eval_step"] < step  # no validation since
    assert json.loads((work / "resume.json").read_text())["step"] == step

    again = xmcbench_run(home, tmp_path / "results")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"resuming from step {step} (epoch 1)" in err
    assert "record: " in out and "resuming" not in out  # stdout: the results alone
    (record_path,) = (tmp_path / "results").glob("synthetic-tiny/attentionxml/*.json")
    timing = json.loads(record_path.read_text())["timing"]
    assert timing["resumes"] == 1
    assert timing["train_s"] > timing["train_s_this_process"] > 0  # both processes' training
    assert not work.exists()  # finished: nothing left for the next identical command
    assert stopped.returncode == 143  # SIGTERM's own exit status, not Ctrl-C's 130


def test_sigterm_reaches_trees_training_in_parallel_processes_and_all_resume(tmp_path):
    both = {"trees": 2, "parallel_trees": "true", "epochs": 50, "max_steps": 3000}
    home, work, stopped = terminated_run(tmp_path, delay=2.0, **both)
    assert stopped.returncode == 143, stopped.stderr
    assert "training 2 models in 2 processes, 1 thread each" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    saved = [torch.load(work / f"tree-{i}/level-1/resume.pt", weights_only=True) for i in (0, 1)]
    assert all(state["state"]["step"] > 0 for state in saved)  # both models saved their step

    again = xmcbench_run(home, tmp_path / "results", **both)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert err.count("resuming from step") >= 1  # tree 0 shows its log; tree 1 resumes quietly
    assert "resuming" not in out
    (record_path,) = (tmp_path / "results").glob("synthetic-tiny/attentionxml/*.json")
    record = json.loads(record_path.read_text())
    assert record["training"]["tree_workers"] == 2


def test_a_truncated_checkpoint_is_set_aside_and_the_run_starts_afresh(tmp_path):
    home, work, _ = terminated_run(tmp_path)
    resume = work / "resume.pt"
    resume.write_bytes(resume.read_bytes()[: resume.stat().st_size // 2])  # a crash mid-copy

    again = xmcbench_run(home, tmp_path / "results")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"checkpoint {resume} is damaged" in err
    assert "moved it aside to resume.pt.damaged, starting afresh" in err
    assert "resuming" not in err
    assert "damaged" not in out
    assert len(list((tmp_path / "results").glob("synthetic-tiny/attentionxml/*.json"))) == 1


# ----------------------------------------------------------------------------- in one process


def fit(dataset, workdir: Path, params: dict, stop_at: int | None = None) -> AttentionXML:
    method = AttentionXML("demo", seed=3, **params)

    def stop(step: int) -> None:
        if step == stop_at:
            raise KeyboardInterrupt

    method.step_callback = stop
    method.fit(dataset.train, dataset.valid, workdir)
    return method


def test_a_checkpoint_of_other_code_is_not_resumed(dataset, tmp_path, monkeypatch, capsys):
    with pytest.raises(KeyboardInterrupt):
        fit(dataset, tmp_path, FLAT, stop_at=15)
    written = json.loads((tmp_path / "resume.json").read_text())["code"]["source"]
    capsys.readouterr()
    monkeypatch.setattr(checkpoint, "source_hash", lambda package: "edited" + package)
    now = checkpoint.code_version(["xmcbench_attentionxml"])["source"]  # engine + network
    fit(dataset, tmp_path, FLAT)
    out = capsys.readouterr().err
    assert (
        f"checkpoint {tmp_path / 'resume.pt'} was written by other code "
        f"(source hash {written}, now {now}); starting afresh"
    ) in out
    assert "resuming" not in out


def test_a_finished_level_of_other_code_is_trained_again(dataset, tmp_path, monkeypatch):
    fit(dataset, tmp_path, TREE)
    monkeypatch.setattr(checkpoint, "source_hash", lambda package: "edited" + package)
    trained: list[tuple[int, int]] = []
    method = AttentionXML("demo", seed=3, **TREE)
    method.step_callback = lambda step: trained.append(method.level_)
    method.fit(dataset.train, dataset.valid, tmp_path)
    assert {level for _, level in trained} == {1, 2}  # nothing taken from the old code's files


def test_a_lost_best_checkpoint_is_chosen_again(dataset, tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        fit(dataset, tmp_path, FLAT, stop_at=15)  # validated at step 10: best.pt written
    (tmp_path / "best.pt").unlink()
    capsys.readouterr()
    method = fit(dataset, tmp_path, FLAT)
    out = capsys.readouterr().err
    assert "resuming from step 15" in out
    assert f"checkpoint {tmp_path / 'best.pt'} is missing; choosing the best weights again" in out
    assert (tmp_path / "best.pt").exists()
    assert method.predict(dataset.test, 5).labels.shape == (len(dataset.test), 5)


def test_files_of_a_finished_tree_cut_short_are_rebuilt(dataset, tmp_path):
    reference = fit(dataset, tmp_path / "ref", TREE).predict(dataset.test, 5)
    fit(dataset, tmp_path / "run", TREE)
    tree_dir = tmp_path / "run" / "tree-0"
    for name in ("tree.npz", "level-1/level.pt", "level-2/parents.npy", "level-2/resume.json"):
        path = tree_dir / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = fit(dataset, tmp_path / "run", TREE).predict(dataset.test, 5)
    assert (tree_dir / "level-1" / "level.pt.damaged").exists()
    assert (again.labels == reference.labels).all()  # rebuilt: the same model as a fresh run


def test_sigterm_waits_for_the_update_in_progress_then_stops_like_ctrl_c() -> None:
    from xmcbench.interrupts import Terminated, deferred, exit_code, sigterm_as_interrupt

    done = []
    with pytest.raises(Terminated) as stop, sigterm_as_interrupt():
        with deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the signal arrives here, and waits
            done.append("update")
        done.append("next step")
    assert done == ["update"]
    assert isinstance(stop.value, KeyboardInterrupt) and exit_code(stop.value) == 143
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored afterwards
