"""Unpack downloaded dataset archives (tar, tar.gz/bz2/xz, zip) without trusting them.

Nothing lost, nothing escapes:

- Dataset archives hold regular files and folders, nothing else. Every symlink and hard link is
  refused (even one pointing inside: a chain of innocent-looking links can resolve past PATH_MAX,
  where `os.path.realpath` and hence tarfile's `filter="data"` stop resolving, CVE-2025-4517),
  and so are devices, FIFOs, sparse files, absolute names, drive letters, backslashes, NUL
  bytes, `..` components and duplicate names.
- Members are written by us, by name, into a fresh private temporary folder: every folder is
  created with mkdir (or found to be a real folder, never a link), every file with O_EXCL (and
  O_NOFOLLOW), from `tar.extractfile` / `ZipFile.open`. Neither `extractall` nor `realpath` is
  used. Only when every member is written does the temporary folder's content move into the
  target; on any failure it is removed, so the target is never left half-populated.
- Decompression bombs are refused before anything is written: the sizes the headers declare are
  checked against a compression-ratio limit, a total-size limit and the free disk space, and
  while writing a member that yields more bytes than its header declared is cut off.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, Any

from ..errors import DataFormatError, XMCBenchError

CHUNK_SIZE = 1 << 20

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
# After its last member a tar holds its end marker and padding to a record (10 KiB by default);
# this much of it is read, so the compressed stream's CRC is checked, and no more.
TRAILER = 1 << 20


class UnsafeArchiveError(XMCBenchError):
    """An archive member would land outside the target folder, or is a link or device."""


class ArchiveTooLargeError(UnsafeArchiveError):
    """An archive unpacks to more than is plausible (a decompression bomb) or than fits on disk."""


# ----------------------------------------------------------------------------- public API


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar' (plain or gz/bz2/xz compressed) or None, sniffed from the content."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    return "tar" if tarfile.is_tarfile(path) else None


def extract_tar(archive: Path, target: Path) -> None:
    """Unpack a tar archive into `target`; any unsafe or oversized member refuses the whole."""
    archive, target = Path(archive), Path(target)
    try:
        with tarfile.open(archive, "r:*") as tar:
            limits = _Limits(archive)
            plan = _Plan(archive)
            for member in tar:  # headers only: a member's data is skipped, never written
                problem = _tar_problem(member)
                if problem:
                    raise _refuse(archive, member.name, problem)
                plan.add(member.name, member.isdir())
                if not member.isdir():
                    limits.add(member.name, member.size, None)
            limits.check_disk(target)

            def members() -> Iterator[Member]:
                for member in tar.getmembers():
                    parts = _parts(member.name)
                    if not parts:
                        continue
                    if member.isdir():
                        yield member.name, parts, -1, None
                    else:
                        yield member.name, parts, member.size, lambda m=member: tar.extractfile(m)

            def finish() -> None:
                _drain(archive, tar.fileobj, tar.offset)

            _write_all(archive, target, members(), finish)
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        # only reading can raise these here: _write_all turns write errors into XMCBenchError
        raise DataFormatError(archive, None, f"corrupt tar archive: {_reason(exc)}") from exc


def extract_zip(archive: Path, target: Path) -> None:
    """Unpack a zip archive into `target`; any unsafe or oversized member refuses the whole."""
    archive, target = Path(archive), Path(target)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            limits = _Limits(archive)
            plan = _Plan(archive)
            for info in members:
                problem = _zip_problem(info)
                if problem:
                    raise _refuse(archive, info.filename, problem)
                if info.compress_type not in _ZIP_METHODS:
                    raise DataFormatError(
                        archive,
                        None,
                        f"member {_show(info.filename)} uses compression method "
                        f"{info.compress_type}, which Python's zipfile cannot read",
                    )
                plan.add(info.filename, _zip_is_dir(info))
                if not _zip_is_dir(info):
                    limits.add(info.filename, info.file_size, info.compress_size)
            limits.check_disk(target)

            def entries() -> Iterator[Member]:
                for info in members:
                    parts = _parts(info.filename)
                    if not parts:
                        continue
                    if _zip_is_dir(info):
                        yield info.filename, parts, -1, None
                    else:
                        yield info.filename, parts, info.file_size, lambda i=info: zipped.open(i)

            _write_all(archive, target, entries())
    except (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise DataFormatError(archive, None, f"corrupt zip archive: {_reason(exc)}") from exc


_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__  # one line (tarfile lists its tries)


# ----------------------------------------------------------------------------- member checks


def _unsafe_name(name: str) -> str | None:
    """Why an archive member name is unsafe, or None."""
    if not name or "\x00" in name:
        return "has an empty or invalid name"
    if "\\" in name:
        return "has a backslash in its name (a Windows path?)"
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        return "has an absolute path"
    if PureWindowsPath(name).drive:
        return "has a drive letter"
    if ".." in name.split("/"):
        return "has a '..' path component"
    return None


def _escapes(relative: str) -> bool:
    """Whether a relative path, read lexically, leaves the folder it is relative to."""
    normal = posixpath.normpath(relative)
    return normal == ".." or normal.startswith("../") or normal.startswith("/")


def _link_problem(kind: str, name: str, linkname: str, relative_to_member: bool) -> str:
    target = posixpath.join(posixpath.dirname(name), linkname) if relative_to_member else linkname
    where = (
        f" pointing outside the target folder ({_show(linkname)})"
        if linkname.startswith("/") or "\\" in linkname or _escapes(target)
        else f" (to {_show(linkname)})"
    )
    return f"is a {kind}{where}; dataset archives never need links"


def _tar_problem(member: tarfile.TarInfo) -> str | None:
    """Why a tar member must not be extracted, or None."""
    problem = _unsafe_name(member.name)
    if problem:
        return problem
    if member.issym():
        return _link_problem("symlink", member.name, member.linkname, True)
    if member.islnk():
        return _link_problem("hard link", member.name, member.linkname, False)
    if member.ischr() or member.isblk() or member.isfifo():
        return "is a device or FIFO"
    if member.issparse():
        return "is a sparse file"
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or folder"
    if member.size < 0:
        return "declares a negative size"
    return None


def _zip_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member must not be extracted, or None."""
    problem = _unsafe_name(info.filename)
    if problem:
        return problem
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symlink; dataset archives never need links"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is a device or special file"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None


def _zip_is_dir(info: zipfile.ZipInfo) -> bool:
    return info.is_dir() or stat.S_ISDIR(info.external_attr >> 16)


def _parts(name: str) -> tuple[str, ...]:
    """A checked member name's components, without '.' and empty ones ('./a//b/' -> (a, b))."""
    return tuple(part for part in name.split("/") if part not in ("", "."))


def _show(name: str) -> str:
    """repr(name), shortened in the middle when very long, for one-line messages."""
    if len(name) > 160:
        return repr(name[:100]) + "..." + repr(name[-40:])
    return repr(name)


def _refuse(archive: Path, name: str, problem: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(f"refusing to unpack {archive.name}: member {_show(name)} {problem}")


class _Plan:
    """The tree the members describe: duplicate files and file/folder clashes are refused."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.kinds: dict[tuple[str, ...], str] = {}

    def add(self, name: str, is_dir: bool) -> None:
        parts = _parts(name)
        if not parts:  # the archive's root folder itself ("./")
            if is_dir:
                return
            raise _refuse(self.archive, name, "has an empty or invalid name")
        for depth in range(1, len(parts)):
            if self.kinds.setdefault(parts[:depth], "dir") != "dir":
                raise _refuse(self.archive, name, "lies under a member that is a file")
        kind = "dir" if is_dir else "file"
        earlier = self.kinds.get(parts)
        if earlier is None:
            self.kinds[parts] = kind
        elif earlier == "file" and kind == "file":
            raise _refuse(self.archive, name, "appears twice in the archive")
        elif earlier != kind:
            raise _refuse(self.archive, name, "is both a file and a folder in the archive")


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


# ----------------------------------------------------------------------------- writing


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
