"""Atomic writes and their permissions: published files and folders get the umask's modes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from xmcbench import io
from xmcbench.results.leaderboard import write_leaderboard
from xmcbench.results.store import write_run
from xmcbench.types import TopK


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_current_umask_reads_the_process_umask_without_changing_it() -> None:
    old = os.umask(0o027)
    try:
        assert io.current_umask() == 0o027
        assert io.current_umask() == 0o027
        assert io.file_mode() == 0o640 and io.dir_mode() == 0o750
        assert io.file_mode(private=True) == 0o600 and io.dir_mode(private=True) == 0o700
    finally:
        os.umask(old)


def test_atomic_files_get_ordinary_modes_unless_private(tmp_path: Path, umask_022) -> None:
    io.write_text(tmp_path / "public.txt", "x")
    io.write_json(tmp_path / "secret.json", {"token": 1}, private=True)
    io.write_npz(tmp_path / "arrays.npz", a=np.arange(3))
    assert mode(tmp_path / "public.txt") == 0o644
    assert mode(tmp_path / "arrays.npz") == 0o644
    assert mode(tmp_path / "secret.json") == 0o600


def test_atomic_dir_is_enterable_by_others_unless_private(tmp_path: Path, umask_022) -> None:
    with io.atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("a")
    with io.atomic_dir(tmp_path / "cache", private=True) as tmp:
        (tmp / "b.txt").write_text("b")
    assert mode(tmp_path / "out") == 0o755 and mode(tmp_path / "out" / "a.txt") == 0o644
    assert mode(tmp_path / "cache") == 0o700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out"]  # no temporaries


def test_leaderboard_site_is_servable_under_umask_022(tmp_path: Path, umask_022) -> None:
    record = {"run_id": "r1", "method": "m", "dataset": "ds", "metrics": {"p@1": 0.5}}
    out = tmp_path / "site"
    write_leaderboard([record], out)
    assert mode(out) == 0o755
    for path in out.rglob("*"):
        assert mode(path) == (0o755 if path.is_dir() else 0o644), path


def test_a_record_and_its_predictions_are_readable_by_all(tmp_path: Path, umask_022) -> None:
    record = {"run_id": "r1", "method": "m", "dataset": "ds", "metrics": {"p@1": 0.5}}
    topk = TopK(np.zeros((2, 5), dtype=np.int32), np.zeros((2, 5), dtype=np.float32))
    path = write_run(tmp_path, record, topk)
    assert mode(path) == 0o644
    (predictions,) = path.parent.glob("*.npz")
    assert mode(predictions) == 0o644
