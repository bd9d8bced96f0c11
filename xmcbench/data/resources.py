"""Named pretrained word-vector files (GloVe 840B): where they come from, fetching, where they lie.

Downloads reuse the datasets' machinery (.download: resumable HTTP with Range requests, sha256
recorded on first download and checked after, a mismatch kept aside as <file>.bad; .archives:
safe unpacking), in this layout under $XMCBENCH_HOME/embeddings/<name>/:
  <filename>        the downloaded archive (kept, so it can be verified later)
  <filename>.part   a download in progress; the next `download` resumes it
  CHECKSUMS.json    {filename: {"sha256", "bytes"}}, recorded on first download
  files/<member>    the unpacked vector file, the one `resource_path` returns
  .complete         written last: the archive and the unpacked file with their sizes
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import HTTPCookieProcessor, build_opener

from .. import io, paths
from ..errors import DataFormatError, UnknownNameError, XMCBenchError
from ..registry import DatasetSpec, Source
from . import download as dl

COMPLETE = ".complete"
FILES_DIR = "files"


@dataclass(frozen=True)
class EmbeddingResource:
    """A downloadable word-vector file: mirrors in preference order, the archive and its member."""

    name: str
    title: str
    dims: int
    words: int
    urls: tuple[str, ...]
    filename: str  # the archive as downloaded
    member: str  # the vector text file inside it (the file itself when it is no archive)
    bytes: int | None = None  # the archive's published size, checked after download
    sha256: str | None = None  # None: recorded on first download, then checked
    homepage: str = ""
    description: str = ""


GLOVE_840B_300D = EmbeddingResource(
    name="glove-840b-300d",
    title="GloVe 840B, Common Crawl, cased (Pennington et al. 2014)",
    dims=300,
    words=2_196_017,
    urls=(
        "https://nlp.stanford.edu/data/glove.840B.300d.zip",
        "https://huggingface.co/stanfordnlp/glove/resolve/main/glove.840B.300d.zip",
    ),
    filename="glove.840B.300d.zip",
    member="glove.840B.300d.txt",
    bytes=2_176_768_927,
    sha256=None,  # Stanford publishes none: recorded in CHECKSUMS.json on first download
    homepage="https://nlp.stanford.edu/projects/glove/",
    description="The vectors AttentionXML's authors initialise the word embedding with; "
    "2.0 GB zipped, 5.6 GB unpacked. Public Domain Dedication and License (PDDL).",
)

RESOURCES: dict[str, EmbeddingResource] = {GLOVE_840B_300D.name: GLOVE_840B_300D}


def get_resource(name: str) -> EmbeddingResource:
    """The resource called `name`; an unknown name is one error line with a did-you-mean."""
    resource = RESOURCES.get(name) or RESOURCES.get(name.lower())
    if resource is None:
        raise UnknownNameError("embedding", name, list(RESOURCES))
    return resource


def resource_dir(name: str, home: Path | None = None) -> Path:
    """Folder of one resource's downloads: <home>/embeddings/<name>."""
    root = Path(home) if home is not None else paths.home()
    return root / "embeddings" / get_resource(name).name


def expected_path(name: str, home: Path | None = None) -> Path:
    """Where the vector file lies once downloaded (whether or not it is there now)."""
    return resource_dir(name, home) / FILES_DIR / get_resource(name).member


def resource_path(name: str, home: Path | None = None) -> Path | None:
    """The downloaded vector file of `name`, or None when it is not (completely) downloaded.

    Cheap (sizes, no hashing): the method presets call it to pick GloVe when it is present.
    """
    return _ready(get_resource(name), resource_dir(name, home))


def download_hint(name: str) -> str:
    """The command that downloads `name`, for messages."""
    return f"xmcbench embeddings download {get_resource(name).name}"


def resource_status(name: str, home: Path | None = None) -> dict[str, Any]:
    """State ("complete", "partial", "downloaded" = not unpacked, or "absent") and sizes."""
    resource = get_resource(name)
    folder = resource_dir(name, home)
    archive = folder / resource.filename
    part = folder / f"{resource.filename}.part"
    ready = _ready(resource, folder)
    if ready is not None:
        state = "complete"
    elif archive.is_file():
        state = "downloaded"
    elif part.is_file():
        state = "partial"
    else:
        state = "absent"
    return {
        "name": resource.name,
        "state": state,
        "path": str(ready) if ready else None,
        "folder": str(folder),
        "archive_bytes": archive.stat().st_size if archive.is_file() else None,
        "part_bytes": part.stat().st_size if part.is_file() else None,
        "file_bytes": ready.stat().st_size if ready else None,
    }


def download_resource(
    name: str,
    *,
    source: str | None = None,
    home: Path | None = None,
    progress: bool = True,
    retries: int = 3,
) -> Path:
    """Fetch, check and unpack `name` (its mirrors in order, or only `source`, a URL or a local
    file); return the vector file. Already complete: returned at once, with no network I/O."""
    resource = get_resource(name)
    folder = resource_dir(name, home)
    ready = _ready(resource, folder)
    if ready is not None:
        return ready
    urls = [_as_url(source)] if source else list(resource.urls)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / COMPLETE).unlink(missing_ok=True)
    failures: list[str] = []
    for url in urls:
        src = Source(url=url, filename=resource.filename, sha256=resource.sha256)
        try:
            _fetch(resource, src, folder, progress, max(1, retries))
            break
        except dl.NetworkError as exc:
            failures.append(str(exc))
            if progress and url != urls[-1]:
                _note(f"{exc}; trying the next mirror")
    else:
        raise XMCBenchError(f"could not download {resource.name}: " + "; ".join(failures))
    return _unpack(resource, src, folder, progress)


def _as_url(source: str) -> str:
    """A URL as it is; a local file (an archive fetched by hand) as a file:// URL."""
    if "://" in source:
        return source
    path = Path(source).expanduser()
    if not path.is_file():
        raise XMCBenchError(f"--source {source!r} is neither a URL nor an existing file")
    return path.resolve().as_uri()


def _fetch(
    resource: EmbeddingResource, src: Source, folder: Path, progress: bool, attempts: int
) -> None:
    """Make folder/<filename> the verified archive: download or resume, sha256, then size."""
    opener = build_opener(HTTPCookieProcessor())
    label = DatasetSpec(name=resource.name)  # names the progress bar
    dl._fetch_file(label, src, folder, opener, progress, attempts)
    archive = folder / resource.filename
    size = archive.stat().st_size
    if resource.bytes is not None and size != resource.bytes:
        bad = archive.with_name(f"{archive.name}.bad")
        os.replace(archive, bad)
        checksums = dl._load_checksums(folder)
        checksums.pop(resource.filename, None)
        if checksums:
            io.write_json(folder / dl.CHECKSUMS, checksums)
        else:
            (folder / dl.CHECKSUMS).unlink(missing_ok=True)
        raise dl.IntegrityError(
            f"{resource.filename} from {src.url} has {size:,} bytes, expected {resource.bytes:,}; "
            f"the download was kept aside as {bad}"
        )


def _unpack(resource: EmbeddingResource, src: Source, folder: Path, progress: bool) -> Path:
    """Unpack the archive into folder/files, check the member is there, mark the folder done."""
    if progress:
        _note(f"unpacking {resource.filename} ...")
    dl._unpack([src], folder)
    target = folder / FILES_DIR / resource.member
    if not target.is_file():
        raise DataFormatError(
            folder / resource.filename, None, f"holds no {resource.member}: a different file?"
        )
    marker = {
        "url": src.url,
        "archive": {resource.filename: (folder / resource.filename).stat().st_size},
        "file": {resource.member: target.stat().st_size},
    }
    io.write_json(folder / COMPLETE, marker)
    return target


def _note(text: str) -> None:
    """One line on stderr, beside the progress bars."""
    from rich.console import Console

    Console(stderr=True).print(text, highlight=False, markup=False, soft_wrap=True)


def _ready(resource: EmbeddingResource, folder: Path) -> Path | None:
    """The unpacked file if the folder completed and the file kept its recorded size."""
    try:
        marker = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
        size = marker["file"][resource.member]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    target = folder / FILES_DIR / resource.member
    try:
        return target if target.stat().st_size == size else None
    except OSError:
        return None
