"""Fetch dataset files: resumable HTTP, Google Drive confirm pages, checksums, safe unpacking.

Unpacking itself (links, escapes and decompression bombs refused) lives in .archives.
Checksum records live in .download_checksums, Google Drive's confirm pages in .gdrive_pages,
unpacking a source in .download_unpack and the progress bars in .download_progress.

Layout under $XMCBENCH_HOME/datasets/<name>/raw/<source>/:
  <filename>        a downloaded file (kept; its recorded size is checked before reuse)
  <filename>.part   a download in progress; the next call resumes it with an HTTP Range request
  <filename>.bad    a download whose sha256 did not match, kept aside for inspection
  CHECKSUMS.json    {filename: {"sha256", "bytes"}} recorded on first download, checked after
  files/            the unpacked archives (plain files are linked in as they are)
  .complete         written last; with it present `download` does no network I/O
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import time
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, OpenerDirector, Request, build_opener

from .. import io, paths
from ..errors import XMCBenchError
from ..registry import DatasetSpec, Source
from .archives import ArchiveTooLargeError as ArchiveTooLargeError  # re-exported
from .archives import UnsafeArchiveError as UnsafeArchiveError  # re-exported
from .archives import archive_kind as archive_kind  # re-exported
from .archives import extract_tar as extract_tar  # re-exported
from .archives import extract_zip as extract_zip  # re-exported
from .cards import is_plain_filename
from .download_checksums import CHECKSUMS as CHECKSUMS  # re-exported
from .download_checksums import IntegrityError as IntegrityError  # re-exported
from .download_checksums import _check_digest, _check_size, _expected_sha, _record
from .download_checksums import _load_checksums as _load_checksums  # re-exported
from .download_progress import _Bar as _Bar  # re-exported
from .download_progress import _progress_bar
from .download_progress import bytes_progress as bytes_progress  # re-exported
from .download_unpack import FILES_DIR as FILES_DIR  # re-exported
from .download_unpack import _unpack as _unpack  # re-exported
from .gdrive_pages import _confirm_url, _cookie_jar, _is_html

GDRIVE_URL = "https://drive.google.com/uc"  # tests point this at a local server
USER_AGENT = "xmcbench/0.1 (dataset download)"
CHUNK_SIZE = 1 << 20
TIMEOUT = 60.0  # seconds without data before a transfer counts as failed
RETRY_DELAY = 2.0  # seconds before resuming a dropped transfer (times the attempt number)
MAX_PAGE = 1 << 20  # read at most this much of an HTML page from Google Drive

COMPLETE = ".complete"
_RESERVED = {CHECKSUMS, COMPLETE, FILES_DIR}


class NetworkError(XMCBenchError):
    """A transfer failed (unreachable, HTTP error, dropped connection): try the next source."""


# ----------------------------------------------------------------------------- public API


def download(
    spec: DatasetSpec,
    *,
    source: str | None = None,
    home: Path | None = None,
    progress: bool = True,
    retries: int = 3,
) -> Path:
    """Fetch and unpack `spec`'s files (sources in order, or only `source`); return their folder.

    A source already complete is returned at once after a size check, with no network I/O.
    `retries` is how many times one file's transfer is attempted while each attempt makes progress.
    """
    groups = _selected(spec, source)
    for name, files in groups.items():
        root = _ready_root(source_dir(spec, name, home), files)
        if root is not None:
            return root
    failures: list[str] = []
    for name, files in groups.items():
        try:
            return _fetch_source(spec, name, files, home, progress, max(1, retries))
        except NetworkError as exc:
            failures.append(f"{name}: {exc}")
    raise XMCBenchError(f"could not download {spec.name}: " + "; ".join(failures))


def mirrors(spec: DatasetSpec) -> dict[str, list[Source]]:
    """Sources grouped by name, in preference order; the files of one name make one mirror."""
    groups: dict[str, list[Source]] = {}
    for index, src in enumerate(spec.sources, 1):
        _check_filename(spec, src)
        groups.setdefault(src.name or f"source{index}", []).append(src)
    return groups


def source_dir(spec: DatasetSpec, source: str, home: Path | None = None) -> Path:
    """Folder of one source's downloads: <home>/datasets/<name>/raw/<source>."""
    root = Path(home) / "datasets" / spec.name if home is not None else paths.dataset_dir(spec.name)
    return root / "raw" / source


# ----------------------------------------------------------------------------- one source


def _selected(spec: DatasetSpec, source: str | None) -> dict[str, list[Source]]:
    groups = mirrors(spec)
    if not groups:
        raise XMCBenchError(f"dataset {spec.name!r} has no download sources")
    if source is None:
        return groups
    if source not in groups:
        raise XMCBenchError(
            f"dataset {spec.name!r} has no source {source!r} (sources: {', '.join(groups)})"
        )
    return {source: groups[source]}


def _check_filename(spec: DatasetSpec, src: Source) -> None:
    name = src.filename
    if not is_plain_filename(name) or name in _RESERVED or name.endswith((".part", ".bad")):
        raise XMCBenchError(f"dataset {spec.name!r}: unusable source filename {name!r}")


def _fetch_source(
    spec: DatasetSpec,
    name: str,
    files: list[Source],
    home: Path | None,
    progress: bool,
    attempts: int,
) -> Path:
    folder = source_dir(spec, name, home)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / COMPLETE).unlink(missing_ok=True)
    opener = build_opener(HTTPCookieProcessor(CookieJar()))
    for src in files:
        _fetch_file(spec, src, folder, opener, progress, attempts)
    root = _unpack(files, folder)
    marker = {
        "source": name,
        "root": root.relative_to(folder).as_posix(),
        "files": {src.filename: (folder / src.filename).stat().st_size for src in files},
    }
    io.write_json(folder / COMPLETE, marker)
    return root


def _ready_root(folder: Path, files: list[Source]) -> Path | None:
    """The unpacked folder if this source completed before and its files kept their sizes."""
    try:
        marker = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
        root = folder / marker["root"]
        listed = set(marker["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if listed != {src.filename for src in files} or not root.is_dir():
        return None
    for src in files:
        _check_size(folder, src)
    return root


def _fetch_file(
    spec: DatasetSpec,
    src: Source,
    folder: Path,
    opener: OpenerDirector,
    progress: bool,
    attempts: int,
) -> None:
    """Make `folder/src.filename` hold the verified file, downloading or resuming as needed."""
    target = folder / src.filename
    expected, origin = _expected_sha(folder, src)
    if target.is_file():
        digest = _hash_file(target).hexdigest()
        _check_digest(target, digest, expected, origin, keep_aside=False)
        _record(folder, src.filename, digest, target.stat().st_size)
        return
    part = folder / f"{src.filename}.part"
    with _progress_bar(progress, f"{spec.name}: {src.filename}") as bar:
        digest = _transfer_with_retries(src, part, opener, bar, attempts)
    _check_digest(part, digest, expected, origin, keep_aside=True, final=target)
    _record(folder, src.filename, digest, part.stat().st_size)
    os.replace(part, target)


def _transfer_with_retries(
    src: Source, part: Path, opener: OpenerDirector, bar: _Bar, attempts: int
) -> str:
    """Transfer into `part`, resuming after a dropped connection while attempts make progress."""
    for attempt in range(1, attempts + 1):
        before = _size(part)
        try:
            return _transfer(src, part, opener, bar)
        except NetworkError:
            if attempt == attempts or _size(part) <= before:
                raise
        time.sleep(RETRY_DELAY * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


# ----------------------------------------------------------------------------- transfer


class _RangeNotSatisfiable(Exception):
    """HTTP 416 on a resume: the .part may already be complete, or the file changed."""

    def __init__(self, total: int | None) -> None:
        super().__init__(total)
        self.total = total


def _transfer(src: Source, part: Path, opener: OpenerDirector, bar: _Bar) -> str:
    """Stream one file into `part` (appending on HTTP 206); return its sha256 hex digest."""
    offset = _size(part)
    try:
        response = _open_source(src, offset, opener)
    except _RangeNotSatisfiable as exc:
        if exc.total == offset:
            return _hash_file(part).hexdigest()
        part.unlink()
        return _transfer(src, part, opener, bar)
    with response:
        offset, total = _resume_point(response, offset)
        hasher = _hash_file(part) if offset else hashlib.sha256()
        bar.start(total, offset)
        with open(part, "ab" if offset else "wb") as handle:
            _copy(response, handle, hasher, bar, src)
    size = _size(part)
    if total is not None and size != total:
        raise NetworkError(
            f"connection dropped after {size} of {total} bytes of {src.filename}; "
            "run again to resume"
        )
    return hasher.hexdigest()


def _resume_point(response: http.client.HTTPResponse, offset: int) -> tuple[int, int | None]:
    """Where the body starts and the file's total size, from the status and headers."""
    if response.status == 206:
        start, total = _content_range(response.headers.get("Content-Range"))
        if start != offset:
            raise NetworkError(f"server resumed at byte {start}, expected {offset}")
        return offset, total
    length = response.headers.get("Content-Length")
    return 0, int(length) if length and length.isdigit() else None


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total != "*" else None)


def _copy(response: Any, handle: Any, hasher: Any, bar: _Bar, src: Source) -> None:
    try:
        while chunk := response.read(CHUNK_SIZE):
            handle.write(chunk)
            hasher.update(chunk)
            bar.advance(len(chunk))
    except (OSError, http.client.HTTPException) as exc:
        handle.flush()
        raise NetworkError(f"transfer of {src.filename} failed: {_reason(exc)}") from exc


def _open_source(src: Source, offset: int, opener: OpenerDirector) -> Any:
    if src.kind == "gdrive":
        return _open_gdrive(src, offset, opener)
    if src.kind != "http":
        raise XMCBenchError(f"unknown source kind {src.kind!r} for {src.url}")
    return _request(opener, src.url, offset)


def _request(opener: OpenerDirector, url: str, offset: int) -> Any:
    """GET `url` (from byte `offset` when resuming); failures become NetworkError."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return opener.open(Request(url, headers=headers), timeout=TIMEOUT)
    except HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            raise _RangeNotSatisfiable(_content_range(exc.headers.get("Content-Range"))[1]) from exc
        raise NetworkError(f"HTTP {exc.code} {exc.reason} from {url}") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise NetworkError(f"{_reason(exc)} ({url})") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, URLError) and not isinstance(exc, HTTPError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


# ----------------------------------------------------------------------------- Google Drive


def _open_gdrive(src: Source, offset: int, opener: OpenerDirector) -> Any:
    """Open a Drive file by id; large files first answer with a confirm page, which we follow."""
    url = f"{GDRIVE_URL}?{urlencode({'export': 'download', 'id': src.url})}"
    response = _request(opener, url, offset)
    if not _is_html(response):
        return response
    with response:
        page = response.read(MAX_PAGE).decode("utf-8", "replace")
    confirm = _confirm_url(url, page, _cookie_jar(opener))
    if confirm is None:
        raise NetworkError(
            f"Google Drive sent a page without a download link for file id {src.url} "
            "(quota exceeded, or the file is not shared)"
        )
    response = _request(opener, confirm, offset)
    if _is_html(response):
        response.close()
        raise NetworkError(f"Google Drive still sends a page instead of file id {src.url}")
    return response


# ----------------------------------------------------------------------------- checksums


def _hash_file(path: Path) -> Any:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher
