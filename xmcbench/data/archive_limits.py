"""Decompression-bomb limits: declared sizes against a ratio, a total size and free disk space."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ..errors import XMCBenchError
from .archive_checks import ArchiveTooLargeError, _show

RATIO_ENV = "XMCBENCH_MAX_EXTRACT_RATIO"
BYTES_ENV = "XMCBENCH_MAX_EXTRACT_BYTES"

# Real dataset files (text, sparse BOW, npz) compress 3-20:1 with gzip, rarely 50:1 with xz; a
# deflate bomb reaches ~1000:1 and bzip2/xz bombs millions to one. 200:1 leaves a 10x margin for
# real data while every bomb format is far above it.
MAX_RATIO = 200.0
# The ratio only matters for sizes that can hurt: a few-MB file of blank lines may compress
# 1000:1 and is harmless, so members (and totals) up to 16 MiB are exempt from the ratio check.
RATIO_FLOOR = 16 << 20
# The largest benchmark here (Amazon-3M) unpacks to tens of GB; 256 GiB is far beyond any of them
# yet stops a bomb that keeps under the ratio limit before it meets the disk-space check.
MAX_BYTES = 256 << 30
# Files take whole blocks on disk and every member an inode/directory entry: the disk-space
# check counts each member as its size rounded up to this, plus this.
BLOCK = 4096


# ----------------------------------------------------------------------------- size limits


class _Limits:
    """Declared sizes against the ratio and total limits, checked member by member."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.packed = max(archive.stat().st_size, 1)
        self.ratio = _env_number(RATIO_ENV, MAX_RATIO)
        self.max_bytes = _env_bytes(BYTES_ENV, MAX_BYTES)
        self.total = 0
        self.on_disk = 0

    def add(self, name: str, size: int, packed: int | None) -> None:
        """Count one file member; `packed` is its own compressed size when the format says."""
        self.total += size
        self.on_disk += -(-size // BLOCK) * BLOCK + BLOCK
        if packed is not None:
            self._ratio(name, size, max(packed, 1), "its compressed size")
        self._ratio(name, self.total, self.packed, "the archive's size")
        if self.total > self.max_bytes:
            raise ArchiveTooLargeError(
                f"refusing to unpack {self.archive.name}: up to member {_show(name)} it declares "
                f"{_human(self.total)}, over the {_human(self.max_bytes)} limit; for a real "
                f"dataset this large set {BYTES_ENV} (bytes, or e.g. 500G) and run again"
            )

    def _ratio(self, name: str, size: int, packed: int, of: str) -> None:
        if size <= RATIO_FLOOR or size <= self.ratio * packed:
            return
        ratio = size / packed
        raise ArchiveTooLargeError(
            f"refusing to unpack {self.archive.name}: member {_show(name)} makes it unpack to "
            f"{_human(size)}, {ratio:.0f} times {of} ({_human(packed)}; limit {self.ratio:g}:1), "
            f"a likely decompression bomb; if it is a real dataset set "
            f"{RATIO_ENV}={_suggest(ratio)} and run again"
        )

    def check_disk(self, target: Path) -> None:
        """Refuse before writing anything when the declared sizes do not fit on the disk."""
        place = target
        while not place.exists() and place != place.parent:
            place = place.parent
        try:
            free = shutil.disk_usage(place).free
        except OSError:  # nothing to measure (unusual mounts): the write itself will fail
            return
        if self.on_disk > free:
            raise ArchiveTooLargeError(
                f"refusing to unpack {self.archive.name}: it unpacks to "
                f"{_human(self.total)} but only {_human(free)} is free on the disk of {place}; "
                "free some space, or set XMCBENCH_HOME to a folder on a bigger disk"
            )


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise XMCBenchError(f"{name} must be a positive number (or inf), got {text!r}")
    return value


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def _env_bytes(name: str, default: int) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if text.lower() == "inf":
        return float("inf")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?", text, re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise XMCBenchError(f"{name} must be a size in bytes (e.g. 500G, or inf), got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def _human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _suggest(ratio: float) -> str:
    """A round value above `ratio` for the override hint."""
    step = 10 ** max(len(str(int(ratio))) - 1, 1)
    return str((int(ratio) // step + 1) * step)
