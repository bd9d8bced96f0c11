"""Clear what crashed runs left behind: temporary files, and work folders nobody can use.

An atomic write (`xmcbench.io`, the results store) leaves its ``.<name>.<random>.tmp`` behind
only when its process died mid-write; a work folder outlives its run only when the run failed.
At the start of a run, anything of that kind that no live process owns is removed: temporaries
untouched for `STALE_AFTER_S`, work folders whose lock is free and that hold no checkpoint a
resume could use (the convention in `xmcbench.workdir`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from .results.record import record_temporaries
from .workdir import (
    LOCK_FILE,
    RETIRED_SUFFIX,
    LockUnsupported,
    WorkFolder,
    remove,
    resumable,
    try_lock,
)

STALE_AFTER_S = 15 * 60  # atomic writes take seconds: a temporary this old has no live writer


def sweep(results_dir: Path, models_root: Path, log: Callable[[str], None]) -> None:
    """Remove the leftovers of dead runs from a results folder and the models folder."""
    now = time.time()
    old = [e for e in record_temporaries(results_dir) if _age(e, now) > STALE_AFTER_S]
    models_root = Path(models_root)
    old += [e for e in models_root.glob(".*.tmp") if _age(e, now) > STALE_AFTER_S]
    old += list((models_root / "work").glob(f".*{RETIRED_SUFFIX}"))  # never used again
    for entry in old:
        remove(entry)
    sweep_work_folders(models_root / "work", log)


def sweep_work_folders(work_root: Path, log: Callable[[str], None]) -> list[Path]:
    """Remove the work folders no process holds and no resume can use; returns them."""
    removed: list[Path] = []
    if not Path(work_root).is_dir():
        return removed
    for folder in sorted(Path(work_root).iterdir()):
        if folder.name.startswith(".") or not (folder / LOCK_FILE).is_file():
            continue  # a temporary, or a folder of an older xmcbench (not ours to judge)
        try:
            fd = try_lock(folder)
        except LockUnsupported:
            return removed  # nothing tells a live run's folder from a dead one's
        if fd is None:
            continue  # a live run's
        keep = resumable(folder)
        WorkFolder(folder, fd).release(keep=keep)
        if not keep:
            removed.append(folder)
    if removed:
        log(f"removed {len(removed)} work folder(s) that ended runs left without a checkpoint")
    return removed


def _age(entry: Path, now: float) -> float:
    """Seconds since `entry`, or anything inside it, last changed (0 if it vanished)."""
    try:
        newest = entry.lstat().st_mtime
        if entry.is_dir() and not entry.is_symlink():
            for inner in entry.rglob("*"):
                with contextlib.suppress(FileNotFoundError):
                    newest = max(newest, inner.lstat().st_mtime)
    except FileNotFoundError:
        return 0.0
    return now - newest
