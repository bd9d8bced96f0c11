"""Work folders: identical runs at once, what crashed runs leave, models published with records."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# AttentionXML small enough for seconds on one core, with a checkpoint every 10 steps
TINY_ATTENTIONXML = {
    "embedding_dim": 16, "hidden_size": 8, "fc_sizes": "[16]", "embedding_init": "random",
    "trees": 1, "epochs": 3, "batch_size": 4, "eval_every": 10, "patience": 1000, "max_len": 32,
    "precision": "fp32",
}  # fmt: skip


def user_home(tmp_path: Path) -> Path:
    """A fresh XMCBENCH_HOME whose dataset cache is the test session's (built once)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "datasets").symlink_to(Path(os.environ["XMCBENCH_HOME"]) / "datasets")
    return home


def start(home: Path, results: Path, *args: str) -> subprocess.Popen:
    """`xmcbench run ...` in a fresh process, as a user would type it."""
    env = {**os.environ, "XMCBENCH_HOME": str(home), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "xmcbench.cli", "run", *args, "--results", str(results)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


@pytest.fixture(scope="module", autouse=True)
def datasets_built() -> None:
    """Prepare the datasets once, so that processes started together do not race to build them."""
    from xmcbench.data.resolve import load_dataset
    from xmcbench.plugins import get_plugins

    for name in ("synthetic", "synthetic-tiny"):
        load_dataset(name, get_plugins().datasets, progress=False)


def test_identical_parabel_runs_at_once_both_record_and_a_third_works(tmp_path: Path) -> None:
    pytest.importorskip("omikuji")
    home, results = user_home(tmp_path), tmp_path / "results"
    command = ("parabel", "--dataset", "synthetic", "--quiet")
    both = [start(home, results, *command) for _ in range(2)]
    for rc, _, err in map(finish, both):
        assert rc == 0, err
    rc, _, err = finish(start(home, results, *command))
    assert rc == 0, err
    records = sorted(results.glob("synthetic/parabel/*.json"))
    assert len(records) == 3
    for path in records:  # each record's model is there, and nothing is left in work folders
        assert (home / json.loads(path.read_text())["model_dir"] / "params.json").is_file()
    assert list((home / "models" / "work").iterdir()) == []


def test_identical_attentionxml_runs_at_once_train_apart(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    home, results = user_home(tmp_path), tmp_path / "results"
    sets = [i for key, value in TINY_ATTENTIONXML.items() for i in ("--set", f"{key}={value}")]
    command = ("attentionxml", "--dataset", "synthetic-tiny", "--device", "cpu", *sets)
    work = home / "models" / "work"
    first = start(home, results, *command)
    (summary,) = wait_for(lambda: list(work.glob("*/resume.json")), first)
    first.send_signal(signal.SIGSTOP)  # paused mid-training, its checkpoint on disk
    try:
        step = json.loads(summary.read_text())["step"]
        second = start(home, results, *command)
        wait_for(  # until the second trains: in a folder of its own, or (before) in the first's
            lambda: (
                len(list(work.glob("*/resume.json"))) > 1
                or json.loads(summary.read_text())["step"] != step
            ),
            second,
        )
    finally:
        first.send_signal(signal.SIGCONT)
    (rc1, _, err1), (rc2, out2, err2) = finish(first), finish(second)
    assert rc1 == 0 and rc2 == 0, (err1, err2)
    assert "resuming" not in err2  # it did not take over the live checkpoint of the first
    assert "another run of the same command is using" in err2  # a note: on stderr
    assert "record: " in out2
    rc, out, err = finish(start(home, results, *command))
    assert rc == 0 and "resuming" not in err and "record: " in out, err
    assert len(list(results.glob("synthetic-tiny/attentionxml/*.json"))) == 3
    assert list(work.iterdir()) == []


def wait_for(found, proc: subprocess.Popen, timeout_s: float = 300):
    """Poll `found()` until it is truthy; fails if `proc` ends first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(FileNotFoundError, ValueError):  # a file being replaced
            result = found()
            if result:
                return result
        assert proc.poll() is None, finish(proc)
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_claim_gets_a_sibling_until_the_first_lets_go(tmp_path: Path) -> None:
    from xmcbench.workdir import claim

    base, said = tmp_path / "work" / "abc", []
    first = claim(base, said.append)
    second = claim(base, said.append)
    assert first.path == base and second.path == base.parent / "abc.2"
    assert said == [f"another run of the same command is using {base}; this one works in {base}.2"]
    first.finish(failed=False)
    assert not base.exists()
    third = claim(base, said.append)
    assert third.path == base
    second.finish(failed=False)
    third.finish(failed=False)
    assert list(base.parent.iterdir()) == []


def test_a_failed_run_keeps_its_folder_only_with_a_checkpoint(tmp_path: Path) -> None:
    from xmcbench.workdir import claim

    plain = claim(tmp_path / "plain", print)
    (plain.path / "omikuji-train.txt").write_text("big")
    plain.finish(failed=True)
    assert not plain.path.exists()

    resumable = claim(tmp_path / "resumable", print)
    (resumable.path / "resume.json").write_text("{}")
    (resumable.path / ".resume.pt.x1y2.tmp").write_text("half")  # an atomic write cut short
    resumable.finish(failed=True)
    assert sorted(p.name for p in resumable.path.iterdir()) == [".lock", "resume.json"]
    again = claim(tmp_path / "resumable", print)  # the next identical run takes it up
    assert again.path == resumable.path and (again.path / "resume.json").exists()


def test_without_file_locks_a_run_still_works_and_says_what_is_unprotected(tmp_path, monkeypatch):
    import errno
    import fcntl

    from xmcbench.workdir import claim

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    said: list[str] = []
    work = claim(tmp_path / "abc", said.append)
    assert work.path == tmp_path / "abc"
    assert said == [
        f"cannot lock {tmp_path / 'abc' / '.lock'}: No locks available; "
        f"identical runs started together would share {tmp_path / 'abc'}"
    ]
    work.finish(failed=False)
    assert not work.path.exists()


HOLD_AND_DIE = """
import sys, time
from pathlib import Path
from xmcbench.workdir import claim
work = claim(Path(sys.argv[1]), print)
if sys.argv[2] == "checkpoint":
    (work.path / "resume.json").write_text("{}")
(work.path / "omikuji-train.txt").write_text("x" * 1000)
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("kind", ["checkpoint", "nothing"])
def test_a_killed_run_frees_its_folder_and_the_sweep_keeps_only_checkpoints(tmp_path, kind):
    from xmcbench import leftovers

    base = tmp_path / "models" / "work" / "abc"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_DIE, str(base), kind], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    said: list[str] = []
    assert leftovers.sweep_work_folders(base.parent, said.append) == []  # alive: untouched
    assert (base / "omikuji-train.txt").exists()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    removed = leftovers.sweep_work_folders(base.parent, said.append)
    if kind == "checkpoint":
        assert removed == [] and (base / "resume.json").exists()
    else:
        assert removed == [base] and not base.exists()
        assert said == ["removed 1 work folder(s) that ended runs left without a checkpoint"]


def test_the_sweep_removes_old_temporaries_only(tmp_path: Path) -> None:
    from xmcbench import leftovers

    results, models = tmp_path / "results", tmp_path / "models"
    folder = results / "synthetic" / "parabel"
    folder.mkdir(parents=True)
    old_json = folder / ".20261124T0000Z-1234.json.k3j2.tmp"
    old_npz = folder / ".20261124T0000Z-1234.topk.npz.a8b9.tmp"
    fresh = folder / ".20261124T0001Z-5678.json.q1w2.tmp"  # a live process is writing it
    other = results / ".notes.txt.tmp"  # not a record's: not ours to remove
    old_dir = models / ".20261124T0000Z-1234.x8y9.tmp"
    (old_dir / "sub").mkdir(parents=True)
    (old_dir / "sub" / "weights.pt").write_text("w")
    for path in (old_json, old_npz, fresh, other):
        path.write_text("partial")
    long_ago = time.time() - 2 * leftovers.STALE_AFTER_S
    for path in (
        old_json,
        old_npz,
        other,
        old_dir,
        old_dir / "sub",
        old_dir / "sub" / "weights.pt",
    ):
        os.utime(path, (long_ago, long_ago))
    leftovers.sweep(results, models, print)
    assert not old_json.exists() and not old_npz.exists() and not old_dir.exists()
    assert fresh.exists() and other.exists()


def test_no_model_folder_without_its_record(tmp_path: Path, monkeypatch) -> None:
    from xmcbench.errors import XMCBenchError
    from xmcbench.paths import models_dir
    from xmcbench.plugins import get_plugins
    from xmcbench.results import store
    from xmcbench.runner import RunRequest, run

    monkeypatch.setenv("XMCBENCH_HOME", str(user_home(tmp_path)))

    def full_disk(*args, **kwargs):
        raise XMCBenchError("results: no space left on device")

    monkeypatch.setattr(store, "write_run", full_disk)
    request = RunRequest("popularity", "synthetic-tiny", results_dir=tmp_path / "results")
    with pytest.raises(XMCBenchError, match="no space left"):
        run(request, get_plugins(), log=lambda *_: None)
    assert [p.name for p in models_dir().iterdir()] == ["work"]  # no model without a record
    assert list((models_dir() / "work").iterdir()) == []


def test_training_time_adds_earlier_processes_of_the_same_code_only(tmp_path: Path) -> None:
    from xmcbench.train_clock import TrainClock

    # an earlier process of this code trained 100 s before it was interrupted
    (tmp_path / "elapsed.json").write_text('{"train_s": 100.0, "sessions": 1, "code": "abc v1"}')
    resumed = TrainClock(tmp_path, code="abc v1")
    assert (resumed.before_s, resumed.sessions) == (100.0, 1)
    resumed.start()
    resumed.stop()
    assert resumed.resumes == 1 and resumed.total_s >= 100.0
    # the code changed in between: the run starts afresh, and so does its clock
    other = TrainClock(tmp_path, code="def v1")
    other.start()
    other.stop()
    assert other.resumes == 0 and other.total_s < 100.0
