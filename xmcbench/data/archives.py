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

The member checks live in .archive_checks, the size limits in .archive_limits and the
writing in .archive_write; this module reads the archives and drives them.
"""

from __future__ import annotations

import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataFormatError
from .archive_checks import ArchiveTooLargeError as ArchiveTooLargeError  # re-exported
from .archive_checks import UnsafeArchiveError as UnsafeArchiveError  # re-exported
from .archive_checks import (
    _parts,
    _Plan,
    _reason,
    _refuse,
    _show,
    _tar_problem,
    _zip_is_dir,
    _zip_problem,
)
from .archive_checks import _unsafe_name as _unsafe_name  # re-exported
from .archive_limits import BLOCK as BLOCK  # re-exported
from .archive_limits import BYTES_ENV as BYTES_ENV  # re-exported
from .archive_limits import MAX_BYTES as MAX_BYTES  # re-exported
from .archive_limits import MAX_RATIO as MAX_RATIO  # re-exported
from .archive_limits import RATIO_ENV as RATIO_ENV  # re-exported
from .archive_limits import RATIO_FLOOR as RATIO_FLOOR  # re-exported
from .archive_limits import _Limits
from .archive_write import CHUNK_SIZE as CHUNK_SIZE  # re-exported
from .archive_write import TRAILER as TRAILER  # re-exported
from .archive_write import Member, _drain, _write_all
from .archive_write import _copy_limited as _copy_limited  # re-exported

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
