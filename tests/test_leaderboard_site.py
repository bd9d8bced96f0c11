"""The static leaderboard site: pages, links, sortable tables, PSP chart, run pages, Chromium."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import socket
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from xmcbench.cli import main
from xmcbench.errors import XMCBenchError
from xmcbench.plugins import get_plugins
from xmcbench.results import figures
from xmcbench.results.figures import grouped_bars_svg, psp_figure
from xmcbench.results.grouping import group_runs
from xmcbench.results.leaderboard import write_leaderboard
from xmcbench.results.method_meta import METHOD_LINKS
from xmcbench.results.record import RunRecord
from xmcbench.results.site import run_file_names
from xmcbench.results.store import load_records, records_frame

SCRIPT = Path(__file__).parents[1] / "scripts" / "check_leaderboard.py"
PAPER_AND_CODE = {link for m in METHOD_LINKS.values() for link in (m.paper, m.code) if link}
CHROMIUM = Path("/usr/bin/chromium")


class Page(HTMLParser):
    """Links, scripts with a src, and per table id: header keys and rows of {key: data-v}."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.remote_links: list[str] = []
        self.external: list[str] = []
        self.tables: dict[str, dict] = {}
        self._table: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attr = dict(attrs)
        for name in ("href", "src"):
            value = attr.get(name) or ""
            remote = value.startswith(("http:", "https:", "//"))
            if (remote and tag != "a") or (tag == "script" and name in attr):
                self.external.append(value)  # a resource the page would load
        if tag == "a" and attr.get("href"):
            if attr["href"].startswith(("http:", "https:", "//")):
                self.remote_links.append(attr["href"])  # a link a reader may follow
            else:
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


def measured(results: Path) -> list[RunRecord]:
    return [r for r in load_records(results) if not r.is_reported]


def test_index_links_every_dataset_page_and_every_link_resolves(site: Path) -> None:
    index = Page((site / "index.html").read_text())
    pages = sorted(p.name for p in site.glob("*.html") if p.name != "index.html")
    assert "synthetic-tiny.html" in pages and "eurlex-4k.html" in pages  # ours + the paper's
    assert sorted({link for link in index.links if link.endswith(".html")}) == pages
    assert len(index.column("datasets", "p@1")) == len(pages)
    for page in site.rglob("*.html"):
        parsed = Page(page.read_text())
        assert parsed.external == [], page  # works offline from file://: nothing to load
        assert set(parsed.remote_links) <= PAPER_AND_CODE, page  # only the methods' links
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
        values = [r.metrics["p@1"] for r in runs if r.method == method]
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
    popularity = next(r for r in measured(results) if r.method == "popularity")
    for k in (1, 3, 5):
        value = 100 * popularity.metrics[f"psp@{k}"]
        assert f"popularity: PSP@{k} {value:.2f}</title>" in svg


def test_run_pages_show_parameters_environment_and_json(site: Path, results: Path) -> None:
    names = run_file_names(measured(results))
    for record in measured(results):
        page = site / "runs" / f"{names[record.run_id]}.html"
        text = page.read_text()
        assert f"<h1>Run {record.run_id}</h1>" in text
        for key, value in record.params.items():
            shown = value if isinstance(value, str) else json.dumps(value)
            assert f"<tr><th>{key}</th><td>{shown}</td></tr>" in text
        assert f"<tr><th>python</th><td>{record.env['python']}</td></tr>" in text
        stored = json.loads((page.with_suffix(".json")).read_text())
        published = record.to_dict()
        del published["model_dir"]  # where the model lies on the machine that ran it
        published["env"] = {k: v for k, v in record.env.items() if k != "host"}
        assert stored == published
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


# --------------------------------------------------------------------------- issue 13


def record(method: str, p1: float, *, dataset: str = "ds", seed: int = 0, **params) -> dict:
    """A minimal measured record with P@k and PSP@k derived from p1."""
    metrics = {f"{m}@{k}": p1 - k / 100 for m in ("p", "psp") for k in (1, 3, 5)}
    return {
        "run_id": f"{method}-{dataset}-{seed}-{p1}",
        "method": method,
        "dataset": dataset,
        "seed": seed,
        "params": params,
        "metrics": metrics,
    }


def cells(page: str, table: str = "board") -> list[list[str]]:
    """The text of every body cell of a table, row by row (tags stripped, entities decoded)."""
    body = page.split(f'id="{table}"')[1].split("</tbody>")[0].split("<tbody>")[1]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    found = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S) for row in rows]
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in r] for r in found]


def test_dataset_page_has_a_text_filter_with_its_script(site: Path) -> None:
    text = (site / "synthetic-tiny.html").read_text()
    assert '<input type="search" id="filter"' in text
    assert 'input.addEventListener("input", applyFilter)' in text  # inline, no external script
    filters = re.findall(r'<tr[^>]* data-filter="([^"]*)"', text)
    assert len(filters) == 3 and any(f.startswith("parabel") for f in filters)
    assert "3 of 3 configurations" in text


def test_only_parameters_that_differ_between_a_methods_rows_are_shown(tmp_path: Path) -> None:
    runs = [
        record("parabel", 0.8, n_trees=3, max_depth=20, note="<script>"),
        record("parabel", 0.7, n_trees=3, max_depth=10, note="<script>"),
        record("bonsai", 0.6, n_trees=3, cluster_k=100),
    ]
    write_leaderboard(runs, tmp_path / "site", card_stats={})
    page = (tmp_path / "site" / "ds.html").read_text()
    params = [row[2] for row in cells(page)]
    assert params == ["max_depth=20", "max_depth=10", "-"]  # n_trees and note are shared
    shared = dict((row[0], row[1]) for row in cells(page, "shared"))
    assert shared["parabel"] == "n_trees=3, note=<script>"
    assert "note=&lt;script&gt;" in page and "note=<script>" not in page  # escaped
    assert shared["bonsai"] == "cluster_k=100, n_trees=3"
    markdown = (tmp_path / "site" / "ds.md").read_text()
    assert "| max\\_depth=20 |" in markdown and "n\\_trees=3" not in markdown


def test_dataset_pages_show_statistics_of_the_runs_and_the_card(site: Path, results: Path) -> None:
    run = measured(results)[0]
    rows = {row[0]: row[1:] for row in cells((site / "synthetic-tiny.html").read_text(), "stats")}
    total = run.n_train + run.n_valid
    assert rows["training documents"][0] == f"{total} ({run.n_train} + {run.n_valid} validation)"
    assert rows["test documents"] == [str(run.n_test), "100"]  # the card's [stats] say 100
    assert rows["labels"] == [str(run.n_labels), "48"]
    eurlex = {row[0]: row[1:] for row in cells((site / "eurlex-4k.html").read_text(), "stats")}
    assert eurlex["average labels per document"] == ["5.30"]  # only the card: no runs of it
    assert eurlex["training documents"] == ["15,449"]


def test_methods_link_to_their_paper_and_code(site: Path) -> None:
    text = (site / "synthetic-tiny.html").read_text()
    row = next(line for line in text.splitlines() if 'data-v="parabel"' in line)
    assert '<a href="https://doi.org/10.1145/3178876.3185998" rel="noopener">paper</a>' in row
    assert '<a href="https://github.com/tomtung/omikuji" rel="noopener">code</a>' in row
    popularity = next(line for line in text.splitlines() if 'data-v="popularity"' in line)
    assert "paper" not in popularity  # no paper to link
    assert METHOD_LINKS["xr-linear"].code == "https://github.com/amzn/pecos"


def test_no_site_file_carries_an_absolute_path_or_the_host(tmp_path: Path, results: Path) -> None:
    odd = record("parabel", 0.5, embeddings="/home/someone/glove.840B.300d.txt")
    odd["env"] = {"python": "3.11", "host": "build-box-17", "cwd": "/work/me"}
    odd["model_dir"] = "/srv/models/x"
    out = tmp_path / "site"
    write_leaderboard([*load_records(results), odd], out)
    forbidden = ["/tmp/", "/home/", "/work/", "/srv/", str(tmp_path), "build-box-17"]
    if len(socket.gethostname()) >= 4:
        forbidden.append(socket.gethostname())
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        text = path.read_text()
        assert not [f for f in forbidden if f in text], path
        assert '"model_dir"' not in text
    (page,) = (out / "runs").glob("parabel-ds-*.json")
    assert json.loads(page.read_text())["params"]["embeddings"] == "…/glove.840B.300d.txt"


def test_chart_bars_are_tagged_so_the_page_moves_them_with_the_table(site: Path) -> None:
    text = (site / "synthetic-tiny.html").read_text()
    groups = [int(g) for g in re.findall(r'<tr[^>]* data-group="(\d+)"', text)]
    assert groups == [0, 1, 2]  # in ranking order, as the chart starts
    assert re.search(r'<svg data-pitch="\d+\.\d+"', text)
    for g in groups:
        assert f'id="xmcbench-tick-{g}"' in text and f'id="xmcbench-value-{g}-0"' in text
    assert 'table.addEventListener("xmcbench:sorted", layout)' in text
    assert 'dispatchEvent(new CustomEvent("xmcbench:sorted"))' in text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_filter_and_sort_reorder_the_chart_in_headless_chromium(site: Path, tmp_path) -> None:
    url = f"{(site / 'synthetic-tiny.html').as_uri()}?filter=parabel#sort=psp@1:asc"
    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom",
         url],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    board = re.search(r'<table class="sortable" id="board"[^>]*>', dom)[0]
    assert 'data-sorted="psp@1:ascending"' in board
    visible = re.findall(r'<tr data-filter="(parabel[^"]*)" data-group="(\d+)">', dom)
    hidden = re.findall(r'<tr data-filter="([^"]*)" data-group="(\d+)" hidden="">', dom)
    assert [f for f, _ in visible] == ["parabel -"] and all("parabel" not in f for f, _ in hidden)
    (parabel_group,) = [g for _, g in visible]
    assert f'data-chart-order="{parabel_group}"' in board  # the chart shows that row only
    assert "1 of 3 configurations" in dom


def test_figure2_draws_label_tree_runs_only_with_the_studys_title(tmp_path: Path) -> None:
    specs = {spec.name: spec for spec in get_plugins().methods}
    runs = [
        record("parabel", 0.5),
        record("attentionxml", 0.6, seed=1, tree_height=2, trees=1),
        record("attentionxml", 0.7, seed=2, tree_height=0, trees=1),  # flat: no label tree
        record("xml-cnn", 0.4),  # a deep model, not tree-based
    ]
    info = psp_figure(runs, tmp_path / "f.svg", specs=specs, figure_name="Figure 2")
    assert sorted(info.series) == ["attentionxml", "parabel"]  # one AttentionXML: the tree run
    svg = info.path.read_text()
    assert "Figure 2: PSP@k of label tree-based methods" in svg
    assert "xml-cnn" not in svg and "tree_height" not in svg
    mixed = psp_figure(runs, tmp_path / "m.svg", specs=specs, methods=["parabel", "xml-cnn"])
    assert mixed.series == ("parabel", "xml-cnn")
    assert "PSP@k of parabel, xml-cnn" in mixed.path.read_text()  # no "tree-based" claim
    assert "tree-based" not in mixed.path.read_text()


def test_figure2_legend_sits_beside_the_panels_without_overlap(tmp_path: Path) -> None:
    specs = {spec.name: spec for spec in get_plugins().methods}
    runs = [
        record("attentionxml", 0.5 + i / 100, seed=i, tree_height=h, trees=1, tree_k=k,
               candidates=16 * k, hidden_size=64, preset="cpu-tree")
        for i, (h, k) in enumerate([(1, 8), (2, 8), (1, 32), (2, 32)])
    ]  # fmt: skip
    info = psp_figure([*runs, record("parabel", 0.5)], tmp_path / "f.png", specs=specs)
    assert len(info.series) == 5
    figure = figures._draw(  # the same drawing, to measure where its parts landed
        group_runs(records_frame(runs), list(figures.FIGURE2_METRICS)),
        ["ds"],
        list(figures.FIGURE2_METRICS),
        "t",
    )
    renderer = figure.canvas.get_renderer()
    figure.canvas.draw()
    (ax,) = figure.axes
    legend = ax.get_legend().get_window_extent(renderer)
    title = figure._suptitle.get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1  # beside the panel, not on it
    assert not legend.overlaps(title) and legend.x1 <= figure.bbox.x1 + 1  # inside the figure
    assert all(
        len(line) <= 40 for t in ax.get_legend().get_texts() for line in t.get_text().split("\n")
    )
