"""Run work folders: one process at a time each, a sibling for a second identical run.

A run trains in ``models/work/<hash>`` so that the same command, run again after an interruption,
finds its checkpoint. While a process uses a work folder it holds an exclusive flock on the
folder's ``.lock`` file; the kernel drops the lock when the process dies, however it dies. A
second identical run that finds the folder locked does not wait (the first may train for hours)
but takes the next free sibling, ``<hash>.2``, ``<hash>.3``, ..., so both end with a record.

A folder is retired by renaming it away while its lock is still held: a process that locked the
old lock file in the meantime sees that the path no longer leads to it, and tries again.

The convention with method plugins: a method that can resume writes a file named
``resume.json`` (`RESUME_MARKER`) beside its checkpoints. A folder holding one is kept after a
failed or interrupted run; any other folder is removed once no process holds it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

LOCK_FILE = ".lock"
RESUME_MARKER = "resume.json"  # written by resumable methods beside each resume checkpoint
TMP_GLOB = ".*.tmp"  # temporary files and folders of xmcbench.io's atomic writes
RETIRED_SUFFIX = ".retired.tmp"  # a released folder on its way out: renamed, then deleted
Log = Callable[[str], None]


class LockUnsupported(OSError):
    """The file system holding the work folders has no flock (some network file systems)."""


def try_lock(folder: Path) -> int | None:
    """A file descriptor holding `folder`'s lock (creating both if needed), or None if taken.

    Raises LockUnsupported where the file system cannot lock files.
    """
    folder = Path(folder)
    while True:
        folder.mkdir(parents=True, exist_ok=True)
        lock = folder / LOCK_FILE
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the folder was retired between mkdir and open
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError as exc:
            os.close(fd)
            raise LockUnsupported(exc.errno, f"cannot lock {lock}: {exc.strerror}") from exc
        if _same_file(lock, fd):
            return fd
        os.close(fd)  # we locked a retired folder's lock file: look again


def _same_file(path: Path, fd: int) -> bool:
    try:
        here, held = path.stat(), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def resumable(folder: Path) -> bool:
    """Whether `folder` holds a checkpoint that a method can resume from."""
    return any(Path(folder).rglob(RESUME_MARKER))


def remove(entry: Path) -> None:
    """Delete a file or a folder tree, whichever `entry` is; gone already is fine."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


class WorkFolder:
    """A work folder whose lock this process holds, from `claim` until `release`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = Path(path), fd

    def release(self, keep: bool) -> None:
        """Give the folder up: kept for a later resume, or removed. Safe to call twice."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if keep:
            for entry in list(self.path.rglob(TMP_GLOB)):  # half-written: of no use to a resume
                remove(entry)
            os.close(fd)
            return
        retired = self.path.with_name(f".{self.path.name}.{os.getpid()}{RETIRED_SUFFIX}")
        try:
            os.replace(self.path, retired)  # still locked: nobody can claim it in between
        except OSError:
            retired = self.path
        os.close(fd)
        shutil.rmtree(retired, ignore_errors=True)

    def finish(self, failed: bool) -> None:
        """Release after the run: removed when done, kept after a failure only if resumable."""
        self.release(keep=failed and resumable(self.path))


def _siblings(base: Path) -> list[tuple[int, Path]]:
    """`base` (number 1) and its numbered siblings `<name>.2`, `<name>.3`, ..., in order."""
    pattern = re.compile(re.escape(base.name) + r"\.(\d+)")
    numbered = [(1, base)]
    if base.parent.is_dir():
        for entry in base.parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match and entry.is_dir():
                numbered.append((int(match.group(1)), entry))
    return sorted(numbered)


def claim(base: Path, log: Log) -> WorkFolder:
    """Lock `base`, or a sibling if another process holds it; a resumable one is preferred.

    An unlocked folder holding an interrupted run's checkpoint is taken up again; otherwise
    the first free folder is emptied of a dead run's leftovers, or a new sibling is made.
    """
    base = Path(base)
    try:
        return _claim(base, log)
    except LockUnsupported as exc:  # no protection possible: work as before, and say so
        log(f"{exc.strerror}; identical runs started together would share {base}")
        base.mkdir(parents=True, exist_ok=True)
        return WorkFolder(base, os.open(base / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644))


def _claim(base: Path, log: Log) -> WorkFolder:
    candidates = _siblings(base)
    spare: WorkFolder | None = None
    base_busy = False
    for _, folder in candidates:
        fd = try_lock(folder)
        if fd is None:
            base_busy = base_busy or folder == base
            continue
        held = WorkFolder(folder, fd)
        if resumable(folder):
            if spare is not None:
                spare.release(keep=True)
            for entry in list(folder.rglob(TMP_GLOB)):  # a dead process's half-written files
                remove(entry)
            if folder != base:
                log(f"resuming the interrupted run in {folder}")
            return held
        if spare is None:
            spare = held
        else:
            held.release(keep=True)
    if spare is None:
        number = candidates[-1][0] + 1
        while spare is None:
            folder = base.with_name(f"{base.name}.{number}")
            fd = try_lock(folder)
            spare = None if fd is None else WorkFolder(folder, fd)
            number += 1
    for entry in list(spare.path.iterdir()):  # a dead run's files, of no use without a checkpoint
        if entry.name != LOCK_FILE:
            remove(entry)
    if spare.path != base and base_busy:
        log(f"another run of the same command is using {base}; this one works in {spare.path}")
    return spare
