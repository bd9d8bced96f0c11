"""The README's example outputs are what the current code prints.

Every block preceded by ``<!-- example -->`` in README.md and docs/*.md is replayed, in
document order, in one scratch folder with its own XMCBENCH_HOME:
- a ```console block: each ``$ xmcbench ...`` command's stdout must equal the lines under it;
- a ```python block: the code's stdout must equal the next fenced block (after "prints").
Run ids, dates and machine-dependent timings are masked on both sides.
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
    # `results list`: the train seconds and the date of each run
    (re.compile(r"\d+\.\d{2}  \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"), "<n>  <date>"),
]


@dataclass
class Example:
    """One command (or Python program) of a marked block and the stdout the document shows."""

    source: str
    line: int
    command: str
    expected: list[str]
    python: bool = False


def examples_in(path: Path) -> list[Example]:
    """The commands of every marked console block of `path`, in document order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != MARKER:
            i += 1
            continue
        fence = lines[i + 1]
        assert fence in ("```console", "```python"), f"{path.name}:{i + 2}: marker without block"
        if fence == "```python":
            code, i = fenced(lines, i + 1)
            output, i = fenced(lines, next(j for j in range(i, len(lines)) if lines[j] == "```"))
            found.append(Example(path.name, i, "\n".join(code), output, python=True))
            continue
        i += 2
        while i < len(lines) and not lines[i].startswith("```"):
            if lines[i].startswith("$ "):
                found.append(Example(path.name, i + 1, lines[i][2:], []))
            elif found:
                found[-1].expected.append(lines[i])
            i += 1
    return found


def fenced(lines: list[str], start: int) -> tuple[list[str], int]:
    """The lines inside the fenced block opening at `start`, and the index after it closes."""
    end = next(j for j in range(start + 1, len(lines)) if lines[j].startswith("```"))
    return lines[start + 1 : end], end + 1


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
    if example.python:
        argv = [sys.executable, "-c", example.command]
    else:
        words = shlex.split(example.command)
        assert words[0] == "xmcbench", f"{example.source}:{example.line}: not an xmcbench command"
        argv = [sys.executable, "-m", "xmcbench", *words[1:]]
    done = subprocess.run(
        argv,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    shown = example.command.splitlines()[0]
    assert masked(done.stdout.splitlines()) == masked(example.expected), (
        f"{example.source}:{example.line}: `{shown}` printed\n{done.stdout}"
    )
