"""`runtime.configure`: thread and OpenMP defaults that a user's own values override, and malloc."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xmcbench import runtime


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The mallopt calls made, instead of changing this test process's allocator."""
    made: list[tuple[int, int]] = []

    def mallopt(param: int, value: int) -> int:
        made.append((param, value))
        return 1

    monkeypatch.setattr(runtime, "glibc_mallopt", lambda: mallopt)
    monkeypatch.setattr(runtime, "available_cpus", lambda: 3)
    return made


def test_configure_sets_defaults(calls: list[tuple[int, int]]) -> None:
    env: dict[str, str] = {}
    settings = runtime.configure(env)
    assert env == {"OMP_NUM_THREADS": "3", "OMP_WAIT_POLICY": "PASSIVE"}
    assert settings == runtime.RuntimeSettings(threads=3, wait_policy="PASSIVE", malloc_tuned=True)
    assert calls == [(-4, 0), (-1, -1), (-2, 64 << 20)]  # M_MMAP_MAX, M_TRIM_THRESHOLD, M_TOP_PAD


def test_user_values_win(calls: list[tuple[int, int]]) -> None:
    env = {"OMP_NUM_THREADS": "5", "OMP_WAIT_POLICY": "ACTIVE", runtime.MALLOC_ENV: "System"}
    settings = runtime.configure(env)
    assert env == {"OMP_NUM_THREADS": "5", "OMP_WAIT_POLICY": "ACTIVE", "XMCBENCH_MALLOC": "System"}
    assert (settings.threads, settings.wait_policy, settings.malloc_tuned) == (5, "ACTIVE", False)
    assert calls == []  # opted out: malloc untouched


def test_not_glibc_is_skipped_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "glibc_mallopt", lambda: None)
    assert runtime.tune_malloc({}) is False


@pytest.mark.parametrize(
    ("value", "threads"), [("4", 4), ("4,2", 4), (" 2 ", 2), ("0", 3), ("many", 3), ("", 3)]
)
def test_thread_count_follows_omp_num_threads(
    calls: list[tuple[int, int]], value: str, threads: int
) -> None:
    assert runtime.thread_count({"OMP_NUM_THREADS": value}) == threads


def test_available_cpus_follow_affinity_and_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 5, 7}, raising=False)
    monkeypatch.setattr(runtime, "cgroup_cpu_quota", lambda: None)
    assert runtime.available_cpus() == 3
    monkeypatch.setattr(runtime, "cgroup_cpu_quota", lambda: 2)
    assert runtime.available_cpus() == 2


def test_cgroup_quota(tmp_path: Path) -> None:
    assert runtime.cgroup_cpu_quota(tmp_path) is None  # no cgroup files: no quota
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert runtime.cgroup_cpu_quota(tmp_path) is None  # v1, unlimited
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("250000\n")
    assert runtime.cgroup_cpu_quota(tmp_path) == 3  # v1, 2.5 CPUs
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert runtime.cgroup_cpu_quota(tmp_path) is None  # v2, unlimited
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert runtime.cgroup_cpu_quota(tmp_path) == 2  # v2, 1.5 CPUs


def run_python(code: str, **env: str) -> str:
    """stdout of `code` in a fresh interpreter without OpenMP or malloc settings of its own."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "XMCBENCH_MALLOC"))}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_cli_configures_before_torch_is_imported() -> None:
    code = (
        "import os, sys\nfrom xmcbench.cli import main\nmain(['metrics'])\nenv = os.environ\n"
        "print(env['OMP_WAIT_POLICY'], env['OMP_NUM_THREADS'], 'torch' in sys.modules)"
    )
    assert run_python(code) == f"PASSIVE {runtime.available_cpus()} False"
    assert run_python(code, OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1") == "ACTIVE 1 False"


FAULTS = """
import resource
from xmcbench import runtime
runtime.configure()
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = b"x" * 50_000_000  # above glibc's largest mmap threshold (32 MiB)
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
print(faults())
"""


@pytest.mark.skipif(runtime.glibc_mallopt() is None, reason="needs glibc")
def test_freed_large_blocks_are_reused() -> None:
    # 50 MB is 12,207 pages of 4 KiB: glibc's default maps and faults them in every time
    assert int(run_python(FAULTS)) < 1000
    assert int(run_python(FAULTS, XMCBENCH_MALLOC="system")) > 6000
