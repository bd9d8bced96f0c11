#!/usr/bin/env python3
"""Build the static leaderboard site from real run records and check it in headless Chromium.

Checks that the dataset table renders with every configuration, that sorting works (a
``#sort=<key>:<dir>`` URL makes the page's script click the header; the DOM dumped after the
script ran must hold the rows in that order and the table its ``data-sorted`` mark), that the
index links every dataset page and that the PSP chart has bars; then saves a screenshot.

    python scripts/check_leaderboard.py                     # fresh runs on synthetic-tiny
    python scripts/check_leaderboard.py --results results --screenshot board.png

Without --results it first runs popularity, Parabel (seeds 0 and 1) and Bonsai on synthetic-tiny,
with a temporary XMCBENCH_HOME. Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--virtual-time-budget=5000",  # let the page's script finish before the dump or screenshot
)
SHORT = {"ascending": "asc", "descending": "desc"}  # URL-hash spelling of a direction
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class CheckFailed(Exception):
    """A check of the rendered site did not hold; the message says which and why."""


class TableReader(HTMLParser):
    """Tables by id: their attributes, header keys and rows of (sort value or text) per column."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.links: list[str] = []
        self.bars = 0
        self._table: dict | None = None
        self._cell: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "a" and "href" in attr:
            self.links.append(attr["href"])
        elif tag in ("rect", "g") and "bar" in attr.get("class", "").split():
            self.bars += 1
        elif tag == "table" and "id" in attr:
            self._table = {"attrs": attr, "keys": [], "numeric": [], "rows": []}
            self.tables[attr["id"]] = self._table
        elif self._table is not None and tag == "tr":
            self._table["rows"].append([])
        elif self._table is not None and tag in ("th", "td"):
            self._cell = {"tag": tag, "attrs": attr, "text": ""}

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("th", "td") and self._cell is not None and self._table is not None:
            cell, self._cell = self._cell, None
            if cell["tag"] == "th":
                self._table["keys"].append(cell["attrs"].get("data-key", ""))
                self._table["numeric"].append(cell["attrs"].get("data-type") == "num")
            else:
                self._table["rows"][-1].append(cell["attrs"].get("data-v", cell["text"].strip()))


def read_dom(dom: str) -> TableReader:
    reader = TableReader()
    reader.feed(dom)
    return reader


def chromium(*args: str, binary: Path = CHROMIUM) -> subprocess.CompletedProcess:
    """Run headless Chromium with a throw-away profile."""
    with tempfile.TemporaryDirectory(prefix="xmcbench-chromium-") as profile:
        command = [str(binary), *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def dump_dom(url: str, binary: Path = CHROMIUM) -> str:
    result = chromium("--dump-dom", url, binary=binary)
    if result.returncode != 0 or "<table" not in result.stdout:
        raise CheckFailed(f"chromium --dump-dom {url} failed: {result.stderr[-500:]}")
    return result.stdout


def screenshot(url: str, png: Path, binary: Path = CHROMIUM) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    result = chromium(
        f"--screenshot={png.resolve()}", "--window-size=1600,1000", url, binary=binary
    )
    if result.returncode != 0 or not png.is_file() or png.read_bytes()[:8] != PNG_MAGIC:
        raise CheckFailed(f"chromium --screenshot {url} wrote no PNG: {result.stderr[-500:]}")


def make_records(results: Path, home: Path) -> None:
    """Real runs on synthetic-tiny: popularity, plus Parabel (2 seeds) and Bonsai if installed.

    Datasets and models go to `home` (XMCBENCH_HOME for the duration), not the user's cache.
    """
    from xmcbench.plugins import get_plugins
    from xmcbench.runner import RunRequest, run

    before = os.environ.get("XMCBENCH_HOME")
    os.environ["XMCBENCH_HOME"] = str(home)
    try:
        plugins = get_plugins()
        jobs = [("popularity", 0)]
        if "parabel" in plugins.methods:  # the linear baselines' plugin is installed
            jobs += [("parabel", 0), ("parabel", 1), ("bonsai", 0)]
        for method, seed in jobs:
            request = RunRequest(
                method=method, dataset="synthetic-tiny", seed=seed, results_dir=results,
                progress=False,
            )  # fmt: skip
            run(request, plugins, log=lambda *_: None)
    finally:
        if before is None:
            os.environ.pop("XMCBENCH_HOME", None)
        else:
            os.environ["XMCBENCH_HOME"] = before


def build_site(results: Path, out: Path) -> list[Path]:
    from xmcbench.results.leaderboard import write_leaderboard
    from xmcbench.results.store import load_records

    records = load_records(results)
    if all(r.is_reported for r in records):
        raise CheckFailed(f"no measured run records in {results}")
    return write_leaderboard(records, out)


def measured_dataset(results: Path) -> str:
    """The dataset with the most measured records: its page is the one checked."""
    from xmcbench.results.record import record_files

    counts = Counter(path.parts[-3] for path in record_files(results))
    return max(sorted(counts), key=counts.__getitem__)


def check_sorted(page: Path, key: str, direction: str, binary: Path) -> int:
    """Open `page` sorted by `key` through its URL hash; the rows must be in that order."""
    dom = read_dom(dump_dom(f"{page.resolve().as_uri()}#sort={key}:{SHORT[direction]}", binary))
    table = dom.tables.get("board")
    if table is None:
        raise CheckFailed(f"{page.name}: no table#board in the rendered page")
    rows = [row for row in table["rows"] if row]
    if not rows:
        raise CheckFailed(f"{page.name}: the table has no rows")
    wanted = f"{key}:{direction}"
    if table["attrs"].get("data-sorted") != wanted:
        raise CheckFailed(
            f"{page.name}: table not sorted by the script (data-sorted="
            f"{table['attrs'].get('data-sorted')!r}, wanted {wanted!r})"
        )
    column = table["keys"].index(key)
    values = [row[column] for row in rows]
    if table["numeric"][column]:  # missing values ('') sort last either way
        present = [float(v) for v in values if v != ""]
        in_order = values[len(present) :] == [""] * (len(values) - len(present))
        in_order = in_order and present == sorted(present, reverse=direction == "descending")
    else:
        keys = [v.lower() for v in values]
        in_order = keys == sorted(keys, reverse=direction == "descending")
    if not in_order:
        raise CheckFailed(f"{page.name}: column {key} is not {direction}: {values}")
    if dom.bars == 0:
        raise CheckFailed(f"{page.name}: the PSP chart has no bars")
    return len(rows)


def check_index(out: Path, binary: Path) -> int:
    dom = read_dom(dump_dom((out / "index.html").resolve().as_uri(), binary))
    pages = sorted(p.name for p in out.glob("*.html") if p.name != "index.html")
    missing = [p for p in pages if p not in dom.links]
    if missing or "datasets" not in dom.tables:
        raise CheckFailed(f"index.html: no table of datasets or no link to {missing}")
    return len(pages)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="records to build from (default: fresh runs)")
    parser.add_argument("--out", type=Path, help="site folder (default: a temporary one)")
    parser.add_argument("--screenshot", type=Path, default=Path("leaderboard.png"))
    parser.add_argument("--chromium", type=Path, default=CHROMIUM)
    args = parser.parse_args(argv)
    if not args.chromium.exists():
        print(f"error: {args.chromium} not found (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="xmcbench-site-check-") as work:
        results = args.results
        if results is None:
            results = Path(work) / "results"
            make_records(results, Path(work) / "home")
        out = args.out or Path(work) / "site"
        try:
            files = build_site(results, out)
            dataset = measured_dataset(results)
            page = out / f"{dataset}.html"
            rows = check_sorted(page, "p@1", "ascending", args.chromium)
            check_sorted(page, "method", "descending", args.chromium)
            n_pages = check_index(out, args.chromium)
            screenshot(f"{page.resolve().as_uri()}#sort=psp@1:desc", args.screenshot, args.chromium)
        except CheckFailed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    print(
        f"ok: {len(files)} files, {n_pages} dataset pages; {dataset}: {rows} rows sorted by "
        f"P@1 and by method in Chromium; screenshot {args.screenshot}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
