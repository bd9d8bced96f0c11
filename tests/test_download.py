"""Downloads against a local HTTP server: resume, dropped connections, checksums, Drive, safety."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from xmcbench.data import download as dl
from xmcbench.errors import XMCBenchError
from xmcbench.registry import DatasetSpec, Source

# ----------------------------------------------------------------------------- local server


@dataclass
class ServerState:
    """What the test server serves and what it saw."""

    root: Path
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)  # per request: stop after this many body bytes
    ignore_range: bool = False
    drive_files: dict[str, str] = field(default_factory=dict)  # Drive id -> file under root
    drive_mode: str = "cookie"  # "cookie", "form", "direct" or "broken"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def bodies(self) -> list[dict[str, Any]]:
        """The requests that were answered with file bytes (not pages, not errors)."""
        return [r for r in self.requests if r["status"] in (200, 206) and not r["page"]]


class Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, format: str, *args: Any) -> None:  # silence the test output
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        entry = {
            "path": parts.path,
            "query": query,
            "range": self.headers.get("Range"),
            "cookie": self.headers.get("Cookie"),
            "status": None,
            "sent": 0,
            "page": False,
        }
        with self.state.lock:
            self.state.requests.append(entry)
        if parts.path == "/uc":
            self._drive(entry, query)
        elif parts.path == "/usercontent/download":
            if {"id", "confirm", "uuid"} <= set(query):
                self._file(entry, self.state.drive_files[query["id"]])
            else:
                self._status(entry, 400)
        else:
            self._file(entry, parts.path.lstrip("/"))

    def _drive(self, entry: dict[str, Any], query: dict[str, str]) -> None:
        name = self.state.drive_files.get(query.get("id", ""))
        if name is None:
            self._status(entry, 404)
        elif self.state.drive_mode == "direct" or (
            self.state.drive_mode == "cookie" and query.get("confirm") == "tok3n"
        ):
            self._file(entry, name)
        elif self.state.drive_mode == "cookie":
            self._page(
                entry,
                "<html><body>too large to scan</body></html>",
                cookie="download_warning_12345=tok3n; Path=/",
            )
        elif self.state.drive_mode == "form":
            action = self.state.url("usercontent/download")
            self._page(
                entry,
                (
                    f'<html><form id="download-form" action="{action}" method="get">'
                    '<input type="submit" value="Download anyway"/>'
                    f'<input type="hidden" name="id" value="{query["id"]}">'
                    '<input type="hidden" name="export" value="download">'
                    '<input type="hidden" name="confirm" value="t">'
                    '<input type="hidden" name="uuid" value="abc-123"></form></html>'
                ),
            )
        else:
            self._page(entry, "<html><body>Quota exceeded</body></html>")

    def _page(self, entry: dict[str, Any], html: str, cookie: str | None = None) -> None:
        body = html.encode()
        entry.update(status=200, page=True)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)

    def _status(self, entry: dict[str, Any], code: int, headers: dict[str, str] | None = None):
        entry["status"] = code
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _file(self, entry: dict[str, Any], name: str) -> None:
        path = self.state.root / name
        if not path.is_file():
            self._status(entry, 404)
            return
        data = path.read_bytes()
        start = self._range_start()
        if start is not None and start >= len(data):
            self._status(entry, 416, {"Content-Range": f"bytes */{len(data)}"})
            return
        if start is None:
            entry["status"] = 200
            self.send_response(200)
            body = data
        else:
            entry["status"] = 206
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with self.state.lock:
            cut = self.state.cuts.pop(0) if self.state.cuts else None
        if cut is not None:
            body = body[:cut]  # then the connection closes: a dropped transfer
        # recorded before writing: the client may finish reading, and the test look at this,
        # before this thread runs another line after the write
        entry["sent"] = len(body)
        self.wfile.write(body)

    def _range_start(self) -> int | None:
        header = self.headers.get("Range")
        if not header or self.state.ignore_range:
            return None
        return int(header.removeprefix("bytes=").split("-")[0])


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerState]:
    root = tmp_path / "served"
    root.mkdir()
    state = ServerState(root=root)
    handler = type("BoundHandler", (Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setattr(dl, "GDRIVE_URL", state.url("uc"))
    monkeypatch.setattr(dl, "RETRY_DELAY", 0.0)
    monkeypatch.setattr(dl, "TIMEOUT", 5.0)
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XMCBENCH_HOME, so the real one is never touched."""
    path = tmp_path / "home"
    monkeypatch.setenv("XMCBENCH_HOME", str(path))
    return path


# ----------------------------------------------------------------------------- helpers

FILES = {
    "xmc-base/toy/X.trn.txt": b"first train document\nsecond train document\n" * 300,
    "xmc-base/toy/X.tst.txt": b"a test document\n" * 200,
    "xmc-base/toy/tfidf-attnxml/X.trn.npz": random.Random(0).randbytes(6000),  # incompressible
}


def make_targz(path: Path, files: dict[str, bytes] = FILES) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def http_spec(server: ServerState, *names: str, sha256: str | None = None) -> DatasetSpec:
    sources = tuple(
        Source(url=server.url(name), filename="toy.tar.gz", sha256=sha256, name=f"m{index}")
        for index, name in enumerate(names)
    )
    return DatasetSpec(name="toy", sources=sources)


def raw_dir(home: Path, source: str = "m0") -> Path:
    return home / "datasets" / "toy" / "raw" / source


# ----------------------------------------------------------------------------- tests


def test_full_download_extracts_records_and_returns_the_data_folder(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    root = dl.download(http_spec(server, "toy.tar.gz"), progress=True)
    folder = raw_dir(home)
    assert root == folder / "files" / "xmc-base" / "toy"
    for name, content in FILES.items():
        assert (folder / "files" / name).read_bytes() == content
    assert json.loads((folder / "CHECKSUMS.json").read_text()) == {
        "toy.tar.gz": {"sha256": sha(data), "bytes": len(data)}
    }
    assert (folder / ".complete").is_file()
    assert not (folder / "toy.tar.gz.part").exists()
    assert [r["status"] for r in server.requests] == [200]


def test_second_call_does_no_network_io(server, home):
    make_targz(server.root / "toy.tar.gz")
    spec = http_spec(server, "toy.tar.gz")
    first = dl.download(spec, progress=False)
    server.requests.clear()
    assert dl.download(spec, progress=False) == first
    assert server.requests == []


def test_home_argument_wins_over_environment(server, home, tmp_path):
    make_targz(server.root / "toy.tar.gz")
    other = tmp_path / "other-home"
    root = dl.download(http_spec(server, "toy.tar.gz"), home=other, progress=False)
    assert root.is_relative_to(other)
    assert not home.exists()


def test_resume_requests_only_the_missing_bytes(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    part = raw_dir(home) / "toy.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])
    dl.download(http_spec(server, "toy.tar.gz"), progress=False)
    (only,) = server.bodies()
    assert only["range"] == "bytes=1000-"
    assert only["status"] == 206
    assert only["sent"] == len(data) - 1000
    assert (raw_dir(home) / "toy.tar.gz").read_bytes() == data


def test_resume_restarts_from_zero_when_the_server_ignores_range(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    part = raw_dir(home) / "toy.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"garbage that must not stay at the front")
    server.ignore_range = True
    dl.download(http_spec(server, "toy.tar.gz"), progress=False)
    assert server.bodies()[0]["status"] == 200
    assert (raw_dir(home) / "toy.tar.gz").read_bytes() == data


def test_complete_part_file_is_accepted_on_416(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    part = raw_dir(home) / "toy.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data)
    dl.download(http_spec(server, "toy.tar.gz"), progress=False)
    assert [r["status"] for r in server.requests] == [416]
    assert (raw_dir(home) / "toy.tar.gz").read_bytes() == data


def test_dropped_connection_keeps_part_and_next_call_resumes(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    assert len(data) > 2000
    spec = http_spec(server, "toy.tar.gz")
    server.cuts = [700]
    with pytest.raises(XMCBenchError, match="connection dropped after 700 of"):
        dl.download(spec, progress=False, retries=1)
    assert (raw_dir(home) / "toy.tar.gz.part").stat().st_size == 700
    server.requests.clear()
    dl.download(spec, progress=False)
    (resumed,) = server.bodies()
    assert resumed["range"] == "bytes=700-" and resumed["sent"] == len(data) - 700
    recorded = json.loads((raw_dir(home) / "CHECKSUMS.json").read_text())
    assert recorded["toy.tar.gz"]["sha256"] == sha(data)


def test_dropped_connection_is_resumed_within_one_call(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    server.cuts = [500, 400]
    dl.download(http_spec(server, "toy.tar.gz"), progress=False, retries=3)
    assert [r["range"] for r in server.bodies()] == [None, "bytes=500-", "bytes=900-"]
    assert sum(r["sent"] for r in server.bodies()) == len(data)
    assert sha((raw_dir(home) / "toy.tar.gz").read_bytes()) == sha(data)


def test_ctrl_c_keeps_the_part_file_for_the_next_call(server, home, monkeypatch):
    data = make_targz(server.root / "toy.tar.gz")
    spec = http_spec(server, "toy.tar.gz")
    monkeypatch.setattr(dl, "CHUNK_SIZE", 256)

    def interrupt(self: Any, amount: int) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(dl._Bar, "advance", interrupt)
        with pytest.raises(KeyboardInterrupt):
            dl.download(spec, progress=False)
    assert (raw_dir(home) / "toy.tar.gz.part").stat().st_size == 256
    server.requests.clear()
    dl.download(spec, progress=False)
    assert server.bodies()[0]["range"] == "bytes=256-"
    assert (raw_dir(home) / "toy.tar.gz").read_bytes() == data


def test_sha_mismatch_with_card_raises_names_both_digests_and_keeps_file_aside(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    wrong = "0" * 64
    with pytest.raises(dl.IntegrityError) as caught:
        dl.download(http_spec(server, "toy.tar.gz", sha256=wrong), progress=False)
    message = str(caught.value)
    assert sha(data) in message and wrong in message and "toy.tar.gz" in message
    assert "\n" not in message
    assert (raw_dir(home) / "toy.tar.gz.bad").read_bytes() == data
    assert not (raw_dir(home) / "toy.tar.gz").exists()
    assert not (raw_dir(home) / ".complete").exists()


def test_matching_card_sha_is_accepted(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    root = dl.download(http_spec(server, "toy.tar.gz", sha256=sha(data)), progress=False)
    assert (root / "X.tst.txt").is_file()


def test_recorded_checksum_detects_later_corruption(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    spec = http_spec(server, "toy.tar.gz")
    dl.download(spec, progress=False)
    recorded = json.loads((raw_dir(home) / dl.CHECKSUMS).read_text(encoding="utf-8"))
    assert recorded["toy.tar.gz"] == {"sha256": sha(data), "bytes": len(data)}
    archive = raw_dir(home) / "toy.tar.gz"
    archive.write_bytes(data + b"tail")  # a size change is caught before reuse
    server.requests.clear()
    with pytest.raises(dl.IntegrityError, match="changed since download") as caught:
        dl.download(spec, progress=False)
    assert sha(data) in str(caught.value) and "\n" not in str(caught.value)
    assert server.requests == []


def test_recorded_checksum_detects_a_silently_changed_upstream_file(server, home):
    make_targz(server.root / "toy.tar.gz")
    spec = http_spec(server, "toy.tar.gz")
    folder = raw_dir(home)
    dl.download(spec, progress=False)
    for name in ("toy.tar.gz", ".complete"):
        (folder / name).unlink()
    changed = make_targz(server.root / "toy.tar.gz", {"other.txt": b"different content"})
    with pytest.raises(dl.IntegrityError, match=r"CHECKSUMS\.json") as caught:
        dl.download(spec, progress=False)
    assert sha(changed) in str(caught.value)


def test_falls_back_to_the_next_source_when_the_first_404s(server, home):
    make_targz(server.root / "toy.tar.gz")
    root = dl.download(http_spec(server, "missing.tar.gz", "toy.tar.gz"), progress=False)
    assert root == raw_dir(home, "m1") / "files" / "xmc-base" / "toy"
    assert not (raw_dir(home, "m0") / ".complete").exists()
    assert [r["status"] for r in server.requests] == [404, 200]


def test_all_sources_failing_lists_each_reason_on_one_line(server, home):
    spec = DatasetSpec(
        name="toy",
        sources=(
            Source(url=server.url("nope.tar.gz"), filename="a.tar.gz", name="first"),
            Source(url="http://127.0.0.1:9/closed.tar.gz", filename="b.tar.gz", name="second"),
        ),
    )
    with pytest.raises(XMCBenchError) as caught:
        dl.download(spec, progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert "first: HTTP 404" in message and "second: " in message


def test_named_source_is_the_only_one_tried(server, home):
    make_targz(server.root / "toy.tar.gz")
    spec = http_spec(server, "missing.tar.gz", "toy.tar.gz")
    with pytest.raises(XMCBenchError, match="m0: HTTP 404"):
        dl.download(spec, source="m0", progress=False)
    assert len(server.requests) == 1
    with pytest.raises(XMCBenchError, match="no source 'nope'"):
        dl.download(spec, source="nope", progress=False)


@pytest.mark.parametrize("mode", ["cookie", "form", "direct"])
def test_google_drive_confirm_flow(server, home, mode):
    data = make_targz(server.root / "drive.tar.gz")
    server.drive_files["FILEID"] = "drive.tar.gz"
    server.drive_mode = mode
    spec = DatasetSpec(
        name="toy",
        sources=(Source(url="FILEID", filename="Toy.tar.gz", kind="gdrive", name="attentionxml"),),
    )
    root = dl.download(spec, progress=False)
    assert (root / "X.trn.txt").read_bytes() == FILES["xmc-base/toy/X.trn.txt"]
    assert (raw_dir(home, "attentionxml") / "Toy.tar.gz").read_bytes() == data
    first, *rest = server.requests
    assert first["path"] == "/uc" and first["query"] == {"export": "download", "id": "FILEID"}
    if mode == "cookie":
        assert rest[0]["query"]["confirm"] == "tok3n"
        assert "download_warning_12345=tok3n" in rest[0]["cookie"]
    elif mode == "form":
        assert rest[0]["path"] == "/usercontent/download"
        assert rest[0]["query"] == {
            "id": "FILEID",
            "export": "download",
            "confirm": "t",
            "uuid": "abc-123",
        }
    else:
        assert rest == []


def test_google_drive_page_without_link_is_a_network_error(server, home):
    server.drive_files["FILEID"] = "drive.tar.gz"
    server.drive_mode = "broken"
    spec = DatasetSpec(name="toy", sources=(Source(url="FILEID", filename="t.tgz", kind="gdrive"),))
    with pytest.raises(XMCBenchError, match="without a download link for file id FILEID"):
        dl.download(spec, progress=False)


def test_plain_file_source_is_linked_into_files(server, home):
    (server.root / "labels.txt").write_bytes(b"1 2\n3\n")
    spec = DatasetSpec(
        name="toy",
        sources=(
            Source(url=server.url("labels.txt"), filename="labels.txt", extract=False, name="m0"),
        ),
    )
    root = dl.download(spec, progress=False)
    assert (root / "labels.txt").read_bytes() == b"1 2\n3\n"


def test_a_partial_download_resumes_and_a_complete_one_is_reused_offline(server, home):
    data = make_targz(server.root / "toy.tar.gz")
    spec = http_spec(server, "toy.tar.gz")
    part = raw_dir(home) / "toy.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:10])
    root = dl.download(spec, progress=False)
    assert root == raw_dir(home) / "files" / "xmc-base" / "toy"
    assert [r["status"] for r in server.bodies()] == [206]  # only the missing bytes were fetched
    assert (raw_dir(home) / "toy.tar.gz").read_bytes() == data and not part.exists()
    server.requests.clear()
    assert dl.download(spec, progress=False) == root
    assert server.requests == []


# ----------------------------------------------------------------------------- unsafe archives


def _tar_with(path: Path, member: tarfile.TarInfo, data: bytes = b"evil") -> None:
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)


def _symlink(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    return info


UNSAFE_TARS = {
    "dotdot": (lambda tmp: tarfile.TarInfo("../evil"), "'..'"),
    "absolute": (lambda tmp: tarfile.TarInfo(str(tmp / "abs-evil")), "absolute path"),
    "symlink": (lambda tmp: _symlink("data/link", "../../../outside"), "symlink pointing outside"),
    "abs-symlink": (lambda tmp: _symlink("link", str(tmp)), "symlink pointing outside"),
    "hardlink": (lambda tmp: _symlink("hl", "../x", tarfile.LNKTYPE), "hard link pointing"),
    "device": (lambda tmp: _device("dev"), "device"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE_TARS))
def test_unsafe_tar_members_are_rejected_and_nothing_is_written(server, home, tmp_path, case):
    make_member, reason = UNSAFE_TARS[case]
    member = make_member(tmp_path)
    _tar_with(server.root / "toy.tar.gz", member)
    before = set(tmp_path.rglob("*"))
    with pytest.raises(dl.UnsafeArchiveError) as caught:
        dl.download(http_spec(server, "toy.tar.gz"), progress=False)
    message = str(caught.value)
    assert "toy.tar.gz" in message and repr(member.name) in message and reason in message
    folder = raw_dir(home)
    written = {path for path in set(tmp_path.rglob("*")) - before if not path.is_dir()}
    assert written <= {folder / "toy.tar.gz", folder / "CHECKSUMS.json"}
    assert not (folder / "files").exists() and not (folder / ".complete").exists()


# a symlink pointing inside the archive is refused too: see tests/test_archives.py


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/abs/evil.txt"])
def test_unsafe_zip_members_are_rejected(server, home, tmp_path, name):
    with zipfile.ZipFile(server.root / "toy.zip", "w") as zipped:
        zipped.writestr("ok.txt", b"ok")
        zipped.writestr(zipfile.ZipInfo(name), b"evil")
    spec = DatasetSpec(
        name="toy", sources=(Source(url=server.url("toy.zip"), filename="toy.zip", name="m0"),)
    )
    with pytest.raises(dl.UnsafeArchiveError, match=r"unpack toy\.zip: member") as caught:
        dl.download(spec, progress=False)
    assert repr(name) in str(caught.value)
    assert not (tmp_path / "evil.txt").exists() and not (raw_dir(home) / "files").exists()
    assert not list(tmp_path.rglob("evil.txt"))


def test_zip_archive_is_unpacked(server, home):
    with zipfile.ZipFile(server.root / "toy.zip", "w") as zipped:
        zipped.writestr("Toy/train_texts.txt", b"hello world\n")
    spec = DatasetSpec(
        name="toy", sources=(Source(url=server.url("toy.zip"), filename="toy.zip", name="m0"),)
    )
    root = dl.download(spec, progress=False)
    assert root.name == "Toy" and (root / "train_texts.txt").read_bytes() == b"hello world\n"


def test_filenames_that_could_escape_are_refused():
    spec = DatasetSpec(name="toy", sources=(Source(url="http://x/y", filename="../y"),))
    with pytest.raises(XMCBenchError, match="unusable source filename"):
        dl.download(spec, progress=False)
