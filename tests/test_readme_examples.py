"""The README's example outputs are what the current code prints.

Every ```console block preceded by ``<!-- example -->`` in README.md and docs/*.md is replayed:
its ``$ xmcbench ...`` commands run in order, in one scratch folder with its own
XMCBENCH_HOME, and each command's stdout must equal the lines shown under it once run ids,
dates and machine-dependent timings are masked.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- example -->"

# what differs between machines and runs, masked on both sides before comparing
MASKS = [
    (re.compile(r"\d{8}T\d{6}Z(-[0-9a-f]{8})?"), "<run>"),
    (re.compile(r"\d+(\.\d+)? (s|ms/doc|MB)\b"), "<n> \\2"),
]


@dataclass
class Example:
    """One command of a marked block and the stdout the document shows for it."""

    source: str
    line: int
    command: str
    expected: list[str]


def examples_in(path: Path) -> list[Example]:
    """The commands of every marked console block of `path`, in document order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != MARKER:
            i += 1
            continue
        assert lines[i + 1].startswith("```console"), f"{path.name}:{i + 2}: marker without block"
        i += 2
        while i < len(lines) and not lines[i].startswith("```"):
            if lines[i].startswith("$ "):
                found.append(Example(path.name, i + 1, lines[i][2:], []))
            elif found:
                found[-1].expected.append(lines[i])
            i += 1
    return found


def documents() -> list[Path]:
    """README.md and the docs that may carry checked examples."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def masked(lines: list[str]) -> list[str]:
    """`lines` with run ids and timings masked and trailing blanks dropped."""
    out = []
    for line in lines:
        for pattern, replacement in MASKS:
            line = pattern.sub(replacement, line)
        out.append(line.rstrip())
    while out and not out[-1]:
        out.pop()
    return out


ALL = [example for doc in documents() for example in examples_in(doc)]


def test_the_documents_carry_checked_examples() -> None:
    # the README's first example (a run and its printed table) must stay checked
    assert any(e.source == "README.md" and e.command.startswith("xmcbench run") for e in ALL)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One folder and environment that every example runs in, in document order."""
    folder = tmp_path_factory.mktemp("readme")
    env = {**os.environ, "XMCBENCH_HOME": str(folder / "home"), "COLUMNS": "100"}
    env.pop("XMCBENCH_DEBUG", None)
    return folder, env


@pytest.mark.parametrize("example", ALL, ids=[f"{e.source}:{e.line}" for e in ALL])
def test_example_prints_what_the_document_shows(
    example: Example, scratch: tuple[Path, dict[str, str]]
) -> None:
    folder, env = scratch
    argv = shlex.split(example.command)
    assert argv[0] == "xmcbench", f"{example.source}:{example.line}: not an xmcbench command"
    done = subprocess.run(
        [sys.executable, "-m", "xmcbench", *argv[1:]],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert masked(done.stdout.splitlines()) == masked(example.expected), (
        f"{example.source}:{example.line}: `{example.command}` printed\n{done.stdout}"
    )
