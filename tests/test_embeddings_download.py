"""GloVe as a named download: resume, checksums, sizes, mirrors, the CLI verbs, the matrix it makes.

A tiny fake GloVe zip is served by the local HTTP server of test_download (there is no internet
here); the registered resource is swapped for one whose mirrors point at that server.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import random
import threading
import zipfile
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from test_download import Handler, ServerState

from xmcbench.cli import main
from xmcbench.data import download as dl
from xmcbench.data import resources
from xmcbench.data.embeddings import load_word_vectors, resource_path
from xmcbench.errors import DataFormatError, XMCBenchError

NAME = resources.GLOVE_840B_300D.name
DIM = 8
WORDS = ["the", "Paris", "cat", ".", "<unk>", "x y", *(f"w{i}" for i in range(60))]


def fake_glove() -> tuple[bytes, dict[str, list[float]]]:
    """A zip holding glove.840B.300d.txt: DIM random values per word, a word with a space."""
    rng = random.Random(0)
    vectors = {word: [round(rng.uniform(-0.9, 0.9), 5) for _ in range(DIM)] for word in WORDS}
    text = "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(resources.GLOVE_840B_300D.member, text)
    return buffer.getvalue(), vectors


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerState]:
    root = tmp_path / "served"
    root.mkdir()
    state = ServerState(root=root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Bound", (Handler,), {"state": state}))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    monkeypatch.setattr(dl, "RETRY_DELAY", 0.0)
    monkeypatch.setattr(dl, "TIMEOUT", 5.0)
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("XMCBENCH_HOME", str(path))
    return path


@pytest.fixture
def served(server: ServerState, monkeypatch: pytest.MonkeyPatch) -> tuple[ServerState, bytes]:
    """The fake zip on the server, and the GloVe resource pointed at it (its size, no sha256)."""
    data, _ = fake_glove()
    (server.root / "glove.zip").write_bytes(data)
    point(monkeypatch, urls=(server.url("glove.zip"),), bytes=len(data))
    return server, data


def point(monkeypatch: pytest.MonkeyPatch, **changes: object) -> resources.EmbeddingResource:
    resource = dataclasses.replace(resources.RESOURCES[NAME], **changes)
    monkeypatch.setitem(resources.RESOURCES, NAME, resource)
    return resource


def folder(home: Path) -> Path:
    return home / "embeddings" / NAME


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_path_is_none_before_and_the_text_file_after_download(served, home):
    server, data = served
    assert resource_path(NAME) is None
    path = resources.download_resource(NAME, progress=False)
    assert path == folder(home) / "files" / "glove.840B.300d.txt" == resource_path(NAME)
    assert path.read_text().startswith("the ")
    assert json.loads((folder(home) / "CHECKSUMS.json").read_text()) == {
        "glove.840B.300d.zip": {"sha256": sha(data), "bytes": len(data)}
    }
    server.requests.clear()
    assert resources.download_resource(NAME, progress=False) == path
    assert server.requests == []  # complete: no network I/O
    path.write_text("damaged")  # the unpacked file changed size: not ready any more
    assert resource_path(NAME) is None
    assert resources.download_resource(NAME, progress=False) == path  # unpacked again
    assert server.requests == []  # from the kept, re-verified archive


def test_dropped_download_resumes_with_a_range_request(served, home):
    server, data = served
    server.cuts = [len(data) // 2]
    with pytest.raises(XMCBenchError, match="run again to resume"):
        resources.download_resource(NAME, progress=False, retries=1)
    assert resources.resource_status(NAME)["state"] == "partial"
    assert resource_path(NAME) is None
    server.requests.clear()
    path = resources.download_resource(NAME, progress=False)
    (resumed,) = server.bodies()
    assert resumed["range"] == f"bytes={len(data) // 2}-"
    assert resumed["sent"] == len(data) - len(data) // 2
    assert (folder(home) / "glove.840B.300d.zip").read_bytes() == data
    assert resource_path(NAME) == path


def test_published_sha256_mismatch_is_one_error_line_and_the_file_is_kept_aside(
    served, home, monkeypatch, capsys
):
    point(monkeypatch, sha256="0" * 64)
    assert main(["embeddings", "download", NAME, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: sha256 mismatch for glove.840B.300d.zip")
    assert "\n" not in err and "0" * 64 in err and sha(served[1]) in err
    assert (folder(home) / "glove.840B.300d.zip.bad").is_file()
    assert resource_path(NAME) is None


def test_recorded_sha256_catches_a_changed_upstream_file(served, home):
    server, data = served
    resources.download_resource(NAME, progress=False)
    for leftover in ("glove.840B.300d.zip", ".complete"):
        (folder(home) / leftover).unlink()  # lost locally; upstream now serves other bytes
    other = data[:-1] + bytes([data[-1] ^ 1])
    (server.root / "glove.zip").write_bytes(other)
    with pytest.raises(dl.IntegrityError, match="recorded on first download"):
        resources.download_resource(NAME, progress=False)


def test_wrong_size_is_refused_even_without_a_sha256(served, home, monkeypatch):
    point(monkeypatch, bytes=len(served[1]) + 1)
    with pytest.raises(dl.IntegrityError, match="bytes, expected"):
        resources.download_resource(NAME, progress=False)
    assert (folder(home) / "glove.840B.300d.zip.bad").is_file()
    assert not (folder(home) / "glove.840B.300d.zip").exists()
    assert not (folder(home) / "CHECKSUMS.json").exists()  # no record of the refused file


def test_next_mirror_is_tried_and_source_replaces_the_mirrors(served, home, monkeypatch, tmp_path):
    server, data = served
    point(monkeypatch, urls=(server.url("gone.zip"), server.url("glove.zip")))
    assert resources.download_resource(NAME, progress=False).is_file()
    other_home = tmp_path / "other"
    with pytest.raises(XMCBenchError, match=r"could not download .*HTTP 404"):
        resources.download_resource(
            NAME, source=server.url("gone.zip"), home=other_home, progress=False
        )
    local = tmp_path / "by-hand.zip"  # an archive fetched by hand: --source takes the file
    local.write_bytes(data)
    path = resources.download_resource(NAME, source=str(local), home=other_home, progress=False)
    assert path == other_home / "embeddings" / NAME / "files" / "glove.840B.300d.txt"


def test_an_archive_without_the_text_file_is_refused(server, home, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not the vectors")
    (server.root / "other.zip").write_bytes(buffer.getvalue())
    point(monkeypatch, urls=(server.url("other.zip"),), bytes=None)
    with pytest.raises(DataFormatError, match=r"holds no glove\.840B\.300d\.txt"):
        resources.download_resource(NAME, progress=False)
    assert resource_path(NAME) is None


def test_cli_list_download_and_path(served, home, capsys):
    assert main(["embeddings", "path", NAME]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {NAME} is not downloaded") and "\n" not in err
    assert f"run `xmcbench embeddings download {NAME}`" in err
    assert main(["embeddings", "list"]) == 0
    listing = capsys.readouterr().out
    assert NAME in listing and "2,196,017" in listing and "300" in listing
    assert main(["embeddings", "download", NAME, "--quiet"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(folder(home) / "files" / "glove.840B.300d.txt")
    assert main(["embeddings", "path", NAME]) == 0
    assert capsys.readouterr().out.strip() == printed
    assert main(["embeddings"]) == 0  # list by default
    assert "yes" in capsys.readouterr().out
    assert main(["embeddings", "path", "glove"]) == 2
    assert "did you mean 'glove-840b-300d'" in capsys.readouterr().err


def test_downloaded_glove_initialises_a_vocabulary_like_the_authors(served, home):
    _, vectors = fake_glove()
    path = resources.download_resource(NAME, progress=False)
    vocab = ["<pad>", "<unk>", "the", "paris", "cat", "/SEP/", "x y", "unseen"]
    matrix, found = load_word_vectors(path, vocab, seed=0)
    assert matrix.shape == (len(vocab), DIM) and found == 5
    np.testing.assert_allclose(matrix[2], vectors["the"], rtol=1e-6)
    np.testing.assert_allclose(matrix[3], vectors["Paris"], rtol=1e-6)  # cased file form
    np.testing.assert_allclose(matrix[5], vectors["."], rtol=1e-6)  # /SEP/ takes "."
    np.testing.assert_allclose(matrix[6], vectors["x y"], rtol=1e-6)  # a word with a space
    assert not matrix[0].any()  # padding
    assert not np.allclose(matrix[1], vectors["<unk>"])  # <unk> is never looked up
    for row in (1, 7):
        assert np.all(np.abs(matrix[row]) <= 1.0)
