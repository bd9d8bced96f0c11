"""Write checked archive members into a fresh private folder, then move them into the target."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from ..errors import DataFormatError, XMCBenchError
from .archive_checks import ArchiveTooLargeError, UnsafeArchiveError, _reason, _refuse, _show
from .archive_limits import _human

CHUNK_SIZE = 1 << 20

# After its last member a tar holds its end marker and padding to a record (10 KiB by default);
# this much of it is read, so the compressed stream's CRC is checked, and no more.
TRAILER = 1 << 20


# (name, parts, declared size or -1 for a folder, opener of the member's data stream)
Member = tuple[str, tuple[str, ...], int, Callable[[], Any] | None]


def _write_all(
    archive: Path,
    target: Path,
    members: Iterable[Member],
    finish: Callable[[], None] | None = None,
) -> None:
    """Write members into a fresh private folder, then move its content into `target`.

    `finish` runs after the last member, before anything moves: a last check of the archive.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise _cannot(archive, target, exc) from exc
    try:
        for name, parts, size, opener in members:
            try:
                if size < 0:
                    _make_dirs(fresh, parts)
                else:
                    folder = _make_dirs(fresh, parts[:-1])
                    _write_file(archive, name, folder / parts[-1], size, opener)
            except (_Clash, FileExistsError):
                raise _refuse(
                    archive, name, "clashes with an earlier member on this disk"
                ) from None
            except OSError as exc:  # writing (a full disk, a name too long), or reading the data
                raise XMCBenchError(
                    f"cannot unpack {archive.name}: member {_show(name)}: {_reason(exc)}"
                ) from exc
        if finish is not None:
            finish()  # its read errors are the caller's to name
        try:
            _move_into(archive, fresh, target)
        except OSError as exc:
            raise _cannot(archive, target, exc) from exc
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def _cannot(archive: Path, target: Path, exc: OSError) -> XMCBenchError:
    return XMCBenchError(f"cannot unpack {archive.name} into {target}: {_reason(exc)}")


class _Clash(Exception):
    """A path we meant to create exists as something else (case-folding disks, say)."""


def _make_dirs(root: Path, parts: tuple[str, ...]) -> Path:
    """Create root/parts one folder at a time; an existing one must be a real folder, no link.

    `root` is a fresh folder of ours and we never create links, so by induction no component
    of any path we write through is a link.
    """
    current = root
    for part in parts:
        current = current / part
        try:
            os.mkdir(current)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                raise _Clash from None
    return current


_CREATE = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)


def _write_file(
    archive: Path, name: str, path: Path, size: int, opener: Callable[[], Any] | None
) -> None:
    fd = os.open(path, _CREATE, 0o644)  # O_EXCL: never through an existing file or link
    with os.fdopen(fd, "wb") as out:
        source = opener() if opener is not None else None
        if source is None:
            raise _refuse(archive, name, "has no data")
        with source:
            _copy_limited(archive, name, source, out, size)


def _copy_limited(archive: Path, name: str, source: IO[bytes], out: IO[bytes], size: int) -> None:
    """Copy exactly `size` bytes; a stream that yields more (a lying header) is cut off."""
    written = 0
    while True:
        chunk = source.read(min(CHUNK_SIZE, size - written + 1))
        if not chunk:
            break
        if written + len(chunk) > size:
            raise ArchiveTooLargeError(
                f"refusing to unpack {archive.name}: member {_show(name)} holds more than the "
                f"{_human(size)} its header declares; the archive is corrupt or crafted"
            )
        out.write(chunk)
        written += len(chunk)
    if written != size:
        raise DataFormatError(
            archive, None, f"member {_show(name)} ends after {written} of its {size} bytes"
        )


def _drain(archive: Path, stream: Any, end: int) -> None:
    """Read from the end-of-archive marker at `end` to the end of the (compressed) stream.

    Only then does gzip/bzip2/xz check its CRC, which reading the members' data never reaches.
    Past TRAILER bytes the rest is left unread (tar ignores it too): no data after the end, however
    well it compresses, costs more than that.
    """
    if stream.tell() < end:
        stream.seek(end)  # forward only: no rewind of a compressed stream
    left = TRAILER
    while left > 0 and (chunk := stream.read(min(CHUNK_SIZE, left))):
        left -= len(chunk)


def _move_into(archive: Path, fresh: Path, target: Path) -> None:
    """Move fresh's content into target (merging folders); clashes are found before any move."""
    target.mkdir(parents=True, exist_ok=True)
    clash = _first_clash(fresh, target)
    if clash is not None:
        raise UnsafeArchiveError(
            f"refusing to unpack {archive.name}: {clash.relative_to(target).as_posix()!r} "
            "was already unpacked from another file"
        )
    _merge(fresh, target)


def _first_clash(source: Path, target: Path) -> Path | None:
    for entry in sorted(source.iterdir()):
        dest = target / entry.name
        if not os.path.lexists(dest):
            continue
        if entry.is_dir() and not dest.is_symlink() and dest.is_dir():
            found = _first_clash(entry, dest)
            if found is not None:
                return found
        else:
            return dest
    return None


def _merge(source: Path, target: Path) -> None:
    for entry in sorted(source.iterdir()):
        dest = target / entry.name
        if os.path.lexists(dest):
            _merge(entry, dest)  # both real folders: _first_clash checked
        else:
            os.rename(entry, dest)
