"""Atomic writes and their permissions: a reader never sees a half-written file, a crash never
leaves one behind, and what is published gets the modes an ordinary file or folder would get.

`tempfile.mkstemp`/`mkdtemp` create 0600/0700 temporaries; every write here sets the final mode
from the process umask (0644/0755 under umask 022) unless ``private=True`` keeps it to the user.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import naming_path

PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700  # what mkstemp/mkdtemp make: owner only


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc: the classic set-and-restore
    os.umask(mask)
    return mask


def file_mode(*, private: bool = False) -> int:
    """Mode of a new file: what open() would give under the umask (0644 for 022), or 0600."""
    return PRIVATE_FILE if private else 0o666 & ~current_umask()


def dir_mode(*, private: bool = False) -> int:
    """Mode of a new folder: what mkdir() would give under the umask (0755 for 022), or 0700."""
    return PRIVATE_DIR if private else 0o777 & ~current_umask()


def temp_file(target: str | Path, *, private: bool = False) -> Path:
    """An empty temporary beside `target` (``.<name>.<random>.tmp``) with the final mode set."""
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, file_mode(private=private))
    finally:
        os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_path(target: str | Path, *, private: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it replaces `target` only if the block succeeds.

    The file gets the umask's ordinary mode (``private``: owner only), even if the block
    replaced the temporary (as some savers do) rather than writing into it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_file(target, private=private)
    try:
        with naming_path(target):  # a failed write() carries no file name
            yield tmp
            os.chmod(tmp, file_mode(private=private))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: str | Path, *, private: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside `target`; it becomes `target` only if the block succeeds.

    Unless ``private``, the folder gets the umask's ordinary mode: mkdtemp makes 0700, which a
    web server or another user could not enter. What the block writes inside keeps its own modes.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        with naming_path(target):  # a write that fails inside names the folder being made
            yield tmp
            os.chmod(tmp, dir_mode(private=private))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(target: str | Path, text: str, *, private: bool = False) -> None:
    """Write UTF-8 text to `target` atomically."""
    with atomic_path(target, private=private) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, data: Any, *, private: bool = False) -> None:
    """Write `data` as indented JSON (numpy values and paths included) atomically."""
    text = json.dumps(data, indent=2, sort_keys=False, default=jsonable) + "\n"
    write_text(target, text, private=private)


def write_npz(target: str | Path, **arrays: np.ndarray) -> None:
    """Write arrays as a compressed .npz atomically."""
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def jsonable(value: Any) -> Any:
    """numpy scalars and arrays, and paths, as JSON values (json.dumps' `default`); anything else
    is refused."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
