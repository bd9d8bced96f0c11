"""A dataset with a download source, end to end through the CLI: download, prepare, run.

The dataset is registered by a throwaway third-party plugin whose source URL points at a local
HTTP server (there is no internet here), so the path a user takes for EUR-Lex is exercised whole.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import run_cli

TRAIN_TEXTS = "\n".join(f"document {i} about topic{i % 3} and word{i % 5}" for i in range(30))
TRAIN_LABELS = "\n".join(f"t{i % 3} w{i % 5}" for i in range(30))
TEST_TEXTS = "\n".join(f"another document about topic{i % 3}" for i in range(9))
TEST_LABELS = "\n".join(f"t{i % 3}" for i in range(9))

PLUGIN = """
import os
from xmcbench import hookimpl
from xmcbench.registry import DatasetSpec, Source

@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="toy-remote", title="Toy remote", valid_size=3,
        sources=(Source(url=os.environ["TOY_URL"], filename="toy.tar.gz", name="mirror"),),
    ))
"""


def make_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in (
            ("toy/train_texts.txt", TRAIN_TEXTS),
            ("toy/train_labels.txt", TRAIN_LABELS),
            ("toy/test_texts.txt", TEST_TEXTS),
            ("toy/test_labels.txt", TEST_LABELS),
        ):
            data = (text + "\n").encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "toy.tar.gz").write_bytes(make_archive())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/toy.tar.gz"
    server.shutdown()
    server.server_close()


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    path = tmp_path / "plugin"
    dist = path / "xmcbench_toy-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: xmcbench-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[xmcbench]\ntoy = xmcbench_toy\n")
    (path / "xmcbench_toy.py").write_text(PLUGIN)
    return path


def test_download_then_run_on_the_downloaded_dataset(served, plugin_path, tmp_path, monkeypatch):
    monkeypatch.setenv("TOY_URL", served)
    listing = run_cli("datasets", extra_path=plugin_path, check=True)
    assert "toy-remote" in listing.stdout
    fetched = run_cli(
        "datasets", "download", "toy-remote", "--quiet", extra_path=plugin_path, check=True
    )
    assert "toy-remote: files in" in fetched.stdout
    results = tmp_path / "results"
    run_cli(
        "run",
        "popularity",
        "--dataset",
        "toy-remote",
        "--results",
        str(results),
        "--quiet",
        extra_path=plugin_path,
        check=True,
    )
    (record_path,) = results.glob("toy-remote/popularity/*.json")
    record = json.loads(record_path.read_text())
    assert (record["n_train"], record["n_valid"], record["n_test"]) == (27, 3, 9)
    assert record["n_labels"] == 8  # t0..t2 and w0..w4
    # every test doc carries one of t0, t1, t2, each a third of the time: P@1 of popularity is 1/3
    assert record["metrics"]["p@1"] == pytest.approx(1 / 3)


def test_download_of_an_unreachable_source_fails_in_one_line(plugin_path, tmp_path, monkeypatch):
    monkeypatch.setenv("XMCBENCH_HOME", str(tmp_path / "fresh-home"))
    monkeypatch.setenv("TOY_URL", "http://127.0.0.1:9/toy.tar.gz")  # the discard port: refused
    out = run_cli("datasets", "download", "toy-remote", "--quiet", extra_path=plugin_path)
    assert out.returncode == 2
    assert out.stderr.startswith("error: could not download toy-remote")
    assert out.stderr.strip().count("\n") == 0
