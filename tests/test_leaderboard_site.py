"""The static leaderboard site: pages, links, sortable tables, PSP chart, run pages, Chromium."""

from __future__ import annotations

import importlib.util
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from xmcbench.cli import main
from xmcbench.errors import XMCBenchError
from xmcbench.results.figures import grouped_bars_svg
from xmcbench.results.leaderboard import write_leaderboard
from xmcbench.results.site import run_file_names
from xmcbench.results.store import load_records

SCRIPT = Path(__file__).parents[1] / "scripts" / "check_leaderboard.py"
CHROMIUM = Path("/usr/bin/chromium")


class Page(HTMLParser):
    """Links, scripts with a src, and per table id: header keys and rows of {key: data-v}."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.external: list[str] = []
        self.tables: dict[str, dict] = {}
        self._table: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attr = dict(attrs)
        for name in ("href", "src"):
            value = attr.get(name) or ""
            if value.startswith(("http:", "https:", "//")) or (tag == "script" and name in attr):
                self.external.append(value)
        if tag == "a" and attr.get("href"):
            self.links.append(attr["href"])
        if tag == "table" and attr.get("id"):
            self._table = {"keys": [], "types": [], "rows": []}
            self.tables[attr["id"]] = self._table
        elif self._table is not None and tag == "th":
            self._table["keys"].append(attr.get("data-key"))
            self._table["types"].append(attr.get("data-type"))
        elif self._table is not None and tag == "tr":
            self._table["rows"].append([])
        elif self._table is not None and tag == "td":
            self._table["rows"][-1].append(attr.get("data-v"))

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None

    def column(self, table: str, key: str) -> list[str | None]:
        t = self.tables[table]
        i = t["keys"].index(key)
        return [row[i] for row in t["rows"] if row]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real records on synthetic-tiny: popularity, Parabel with seeds 0 and 1, Bonsai."""
    folder = tmp_path_factory.mktemp("results")
    for method, seed in (("popularity", 0), ("parabel", 0), ("parabel", 1), ("bonsai", 0)):
        argv = ["run", method, "--dataset", "synthetic-tiny", "--seed", str(seed), "--quiet"]
        assert main([*argv, "--results", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def site(results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "board"
    write_leaderboard(load_records(results), out)
    return out


def measured(results: Path) -> list[dict]:
    return [r for r in load_records(results) if r.get("source") != "reported"]


def test_index_links_every_dataset_page_and_every_link_resolves(site: Path) -> None:
    index = Page((site / "index.html").read_text())
    pages = sorted(p.name for p in site.glob("*.html") if p.name != "index.html")
    assert "synthetic-tiny.html" in pages and "eurlex-4k.html" in pages  # ours + the paper's
    assert sorted({link for link in index.links if link.endswith(".html")}) == pages
    assert len(index.column("datasets", "p@1")) == len(pages)
    for page in site.rglob("*.html"):
        parsed = Page(page.read_text())
        assert parsed.external == [], page  # works offline from file://
        for link in parsed.links:
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.is_file(), f"{page.name} links to missing {link}"


def test_dataset_table_is_sortable_with_numeric_sort_values(site: Path, results: Path) -> None:
    text = (site / "synthetic-tiny.html").read_text()
    page = Page(text)
    table = page.tables["board"]
    for key in ("p@1", "p@3", "p@5", "ndcg@5", "psp@1", "psp@5", "train_s", "model_bytes"):
        assert table["types"][table["keys"].index(key)] == "num"
    assert table["types"][table["keys"].index("method")] is None
    # rows ranked by mean P@1, each carrying its exact mean for the sort script
    runs = measured(results)
    means = {}
    for method in ("popularity", "parabel", "bonsai"):
        values = [r["metrics"]["p@1"] for r in runs if r["method"] == method]
        means[method] = sum(values) / len(values)
    shown = [float(v) for v in page.column("board", "p@1")]
    assert shown == pytest.approx(sorted(means.values(), reverse=True))
    assert page.column("board", "rank") == ["1", "2", "3"]
    # the inline script sorts on header clicks and on #sort=key:dir
    assert "<script>" in text and "function sortTable" in text and "#sort=" in text
    assert 'addEventListener("click"' in text and 'addEventListener("hashchange"' in text


def test_psp_chart_has_three_bars_per_configuration_with_the_runs_values(
    site: Path, results: Path
) -> None:
    text = (site / "synthetic-tiny.html").read_text()
    svg = text.split('<figure id="psp">')[1].split("</figure>")[0]
    assert svg.lstrip().startswith("<svg") and svg.count('class="bar"') == 3 * 3
    popularity = next(r for r in measured(results) if r["method"] == "popularity")
    for k in (1, 3, 5):
        value = 100 * popularity["metrics"][f"psp@{k}"]
        assert f"popularity: PSP@{k} {value:.2f}</title>" in svg


def test_run_pages_show_parameters_environment_and_json(site: Path, results: Path) -> None:
    names = run_file_names(measured(results))
    for record in measured(results):
        page = site / "runs" / f"{names[record['run_id']]}.html"
        text = page.read_text()
        assert f"<h1>Run {record['run_id']}</h1>" in text
        for key, value in record["params"].items():
            shown = value if isinstance(value, str) else json.dumps(value)
            assert f"<tr><th>{key}</th><td>{shown}</td></tr>" in text
        assert f"<tr><th>python</th><td>{record['env']['python']}</td></tr>" in text
        stored = json.loads((page.with_suffix(".json")).read_text())
        assert stored == {k: v for k, v in record.items() if not k.startswith("_")}
        board = (site / "synthetic-tiny.html").read_text()
        assert f'href="runs/{page.name}"' in board


def test_odd_run_ids_and_text_are_escaped_and_get_safe_file_names(tmp_path: Path) -> None:
    record = {
        "run_id": "../x <script>alert(1)</script>",
        "method": "m<b>",
        "dataset": "ds",
        "params": {"note": "<script>"},
        "metrics": {"p@1": 0.5, "psp@1": 0.25},
    }
    write_leaderboard([record], tmp_path / "site")
    (page,) = (tmp_path / "site" / "runs").glob("*.html")
    assert re.fullmatch(r"run-[0-9a-f]{16}\.html", page.name)
    for html_file in (tmp_path / "site").rglob("*.html"):
        text = html_file.read_text()
        assert "<script>alert" not in text and "m<b>" not in text
    board = (tmp_path / "site" / "ds.html").read_text()
    assert f'href="runs/{page.name}"' in board and "&lt;script&gt;alert(1)" in board
    assert "m&lt;b&gt;" in board and "note=&lt;script&gt;" in board


def test_rewriting_replaces_an_earlier_site_but_never_a_foreign_folder(
    site: Path, results: Path, tmp_path: Path
) -> None:
    out = tmp_path / "board"
    write_leaderboard(load_records(results), out)
    (out / "stale.html").write_text("left over")
    write_leaderboard(load_records(results), out)
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(XMCBenchError, match="not an xmcbench leaderboard"):
        write_leaderboard(load_records(results), foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board", "mine"]  # no temp folders


def test_cli_leaderboard_output_writes_site_and_markdown(results: Path, tmp_path, capsys) -> None:
    out = tmp_path / "lb"
    assert main(["leaderboard", "--results", str(results), "--output", str(out)]) == 0
    assert f"site: {out / 'index.html'}" in capsys.readouterr().out
    markdown = (out / "synthetic-tiny.md").read_text()
    assert "[All datasets](README.md)" in markdown and "| parabel" in markdown
    assert "[html](synthetic-tiny.html)" in (out / "README.md").read_text()


def test_chart_is_matplotlib_svg_skipping_missing_values_with_escaped_tooltips() -> None:
    groups = [("a <x>", [12.0, None, 30.0]), ("b", [float("nan")] * 3)]
    svg = grouped_bars_svg(groups, ["P1", "P3", "P5"], "t")
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "<?xml" not in svg
    assert "Matplotlib" in svg  # one charting stack: drawn by matplotlib, not by hand
    assert svg.count('class="bar"') == 2
    assert "<title>a &lt;x&gt;: P1 12.00</title>" in svg and "a <x>" not in svg
    assert "<title>a &lt;x&gt;: P5 30.00</title>" in svg
    assert svg == grouped_bars_svg(groups, ["P1", "P3", "P5"], "t")  # same input, same bytes


def test_site_modules_use_templates_and_one_chart_stack() -> None:
    import xmcbench.results as results_package

    folder = Path(results_package.__file__).parent
    assert not (folder / "svg_bars.py").exists() and not (folder / "site_assets.py").exists()
    for name in ("base.html", "index.html", "dataset.html", "run.html", "style.css", "sort.js"):
        assert (folder / "templates" / name).is_file(), name


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_site_renders_and_sorts_in_headless_chromium(results: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("check_leaderboard", SCRIPT)
    assert spec is not None and spec.loader is not None
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    shot = tmp_path / "board.png"
    argv = ["--results", str(results), "--out", str(tmp_path / "site"), "--screenshot", str(shot)]
    assert check.main(argv) == 0
    assert shot.read_bytes()[:8] == check.PNG_MAGIC and shot.stat().st_size > 10_000
