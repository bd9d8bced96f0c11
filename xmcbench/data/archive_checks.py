"""Archive member checks: unsafe names, links, special files and clashing members are refused."""

from __future__ import annotations

import posixpath
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..errors import XMCBenchError


class UnsafeArchiveError(XMCBenchError):
    """An archive member would land outside the target folder, or is a link or device."""


class ArchiveTooLargeError(UnsafeArchiveError):
    """An archive unpacks to more than is plausible (a decompression bomb) or than fits on disk."""


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
