"""Comparison tables, the paper's reported numbers and the leaderboard pages."""

from __future__ import annotations

import csv
import io
import re
import types
from html.parser import HTMLParser
from typing import ClassVar

import pytest

from xmcbench.errors import XMCBenchError
from xmcbench.results import (
    compare_table,
    expand_metrics,
    records_frame,
    render,
    write_leaderboard,
)
from xmcbench.studies.attentionxml_paper import DATASET_ORDER
from xmcbench.studies.attentionxml_paper.reported import load_table, reported_records


def run(method: str, p1: float, *, seed: int = 0, dataset: str = "eurlex-4k", **params) -> dict:
    """A minimal measured record: P@k and PSP@1 derived from p1."""
    return {
        "run_id": f"{method}-{dataset}-{seed}-{p1}-{sorted(params.items())}",
        "source": "measured",
        "method": method,
        "dataset": dataset,
        "seed": seed,
        "params": {**params, "seed": seed, "device": "cpu"},
        "metrics": {"p@1": p1, "p@3": p1 - 0.1, "p@5": p1 - 0.2, "psp@1": p1 / 2},
        "timing": {"train_s": 60.0 * (1 + seed)},
        "model_bytes": 2_500_000,
    }


def cell(table, label: str, column: str) -> str:
    row = next(r for r in table.rows if r[0] == label)
    return row[table.columns.index(column)]


def is_best(table, label: str, column: str) -> bool:
    i = next(i for i, r in enumerate(table.rows) if r[0] == label)
    return (i, table.columns.index(column)) in table.best


@pytest.fixture
def measured() -> list[dict]:
    return [
        run("parabel", 0.80),
        run("attentionxml", 0.851, seed=0, lr=0.001),
        run("attentionxml", 0.862, seed=1, lr=0.001),
        run("attentionxml", 0.840, seed=2, lr=0.001),
        run("attentionxml", 0.90, seed=0, lr=0.01),
    ]


# --------------------------------------------------------------------------- reported numbers


def reported(dataset: str, method: str) -> dict:
    (record,) = reported_records(datasets=[dataset], methods=[method])
    return record


@pytest.mark.parametrize(
    "dataset,method,metric,value",
    [
        ("eurlex-4k", "attentionxml", "p@1", 0.8712),
        ("amazon-3m", "bonsai", "psp@5", 0.1887),
        ("wiki-500k", "dismec", "p@5", 0.3968),
        ("wiki10-31k", "pfastrexml", "psp@1", 0.1902),
        ("amazon-670k", "proxml", "psp@1", 0.3031),
        ("amazoncat-13k", "attentionxml", "ndcg@5", 0.8948),
        ("amazoncat-13k", "mlc2seq", "p@1", 0.9429),  # Table 3 only
        ("amazon-3m", "dismec", "p@3", 0.4496),  # Table 3 only, starred
        ("wiki-500k", "xt", "p@1", 0.6517),  # Table 3 only
        ("eurlex-4k", "attentionxml-1", "ndcg@1", 0.8549),  # N@1 = P@1
    ],
)
def test_reported_spot_values(dataset, method, metric, value):
    assert reported(dataset, method).metrics[metric] == pytest.approx(value, abs=1e-9)


def test_reported_records_shape_and_provenance():
    records = reported_records()
    assert len(records) == 59
    pairs = {(r.dataset, r.method) for r in records}
    assert ("wiki-500k", "xml-cnn") not in pairs and ("amazon-670k", "mlc2seq") not in pairs
    assert ("amazon-3m", "proxml") not in pairs and ("eurlex-4k", "proxml") in pairs
    assert all(r.is_reported and r.timing is None for r in records)
    assert reported("eurlex-4k", "xt").citation == "You et al. 2019, Table 3"
    assert reported("eurlex-4k", "parabel").citation == "You et al. 2019, Table 6"
    assert reported("eurlex-4k", "attentionxml").params == {"trees": 3}
    assert reported("eurlex-4k", "attentionxml-1").params == {"trees": 1}
    assert "Table 3 prints p@3 = 70.39" in reported("eurlex-4k", "dismec").extra["notes"]


def test_table6_is_preferred_where_the_tables_disagree():
    assert reported("eurlex-4k", "dismec").metrics["p@3"] == pytest.approx(0.7038)
    assert reported("wiki10-31k", "xml-cnn").metrics["p@1"] == pytest.approx(0.8142)
    (t3,) = reported_records(tables=["table3"], datasets=["eurlex-4k"], methods=["dismec"])
    assert t3.metrics["p@3"] == pytest.approx(0.7039) and "psp@1" not in t3.metrics


def test_listed_discrepancies_are_exactly_the_differences():
    t3, t6 = load_table("table3")["datasets"], load_table("table6")["datasets"]
    found = set()
    for dataset, block in t6.items():
        for method, values in block["rows"].items():
            old = t3[dataset]["rows"].get(method)
            for k, metric in enumerate(("p@1", "p@3", "p@5")):
                if old and old[k] != values[k]:
                    found.add((dataset, method, metric, old[k], values[k]))
    listed = {
        (d["dataset"], d["method"], d["metric"], d["table3"], d["table6"])
        for d in load_table("table6")["discrepancies"]
    }
    assert listed == found and len(found) == 8


@pytest.mark.parametrize("dataset", DATASET_ORDER)
def test_attentionxml_is_best_in_every_p_at_k_column(dataset):
    (table,) = compare_table(reported_records(), metrics="p@k", datasets=[dataset])
    assert {table.rows[i][0] for i, _ in table.best} == {"attentionxml [reported]"}
    assert len(table.best) == 3


@pytest.mark.parametrize("name", ["table3", "table6"])
def test_best_cells_match_the_papers_bold(name):
    shipped = load_table(name)
    for dataset, block in shipped["datasets"].items():
        records = reported_records(tables=[name], datasets=[dataset])
        (table,) = compare_table(records, metrics=shipped["columns"], datasets=[dataset])
        lead = table.columns.index("P@1")
        ours = {
            (table.rows[i][0].removesuffix(" [reported]"), shipped["columns"][j - lead])
            for i, j in table.best
        }
        paper = {(m, metric) for m, metrics in block["bold"].items() for metric in metrics}
        assert ours == paper, dataset


# --------------------------------------------------------------------------- metric specs


def test_metric_spec_expansion():
    assert expand_metrics(("p@k", "psp@k")) == [
        "p@1", "p@3", "p@5", "psp@1", "psp@3", "psp@5",
    ]  # fmt: skip
    assert expand_metrics("p@k", ks=(1, 3)) == ["p@1", "p@3"]
    assert expand_metrics(["N@3", "n@k", "ndcg@1"], ks=(1, 5)) == ["ndcg@3", "ndcg@1", "ndcg@5"]
    assert expand_metrics("p@1, psndcg@5,psn@k", ks=(3,)) == ["p@1", "psndcg@5", "psndcg@3"]


@pytest.mark.parametrize(
    "spec,hint",
    [("pp@k", "'p@k'"), ("psp@kk", "'psp@k'"), ("ndgc@3", "'ndcg@3'"), ("PSNDGC@k", "'psndcg@k'")],
)
def test_unknown_metric_suggests_a_name(spec, hint):
    with pytest.raises(XMCBenchError, match=f"unknown metric .*did you mean .*{re.escape(hint)}"):
        expand_metrics(spec)


@pytest.mark.parametrize("spec", ["p@0", "p", "recall@5"])
def test_bad_metric_specs_raise(spec):
    with pytest.raises(XMCBenchError, match="unknown metric"):
        compare_table([run("parabel", 0.8)], metrics=[spec])


def lossy_plugins():
    """The built-in metrics plus a plugin's lower-is-better `loss`, labelled and placed first."""
    from importlib.metadata import entry_points

    from xmcbench.hookspecs import hookimpl
    from xmcbench.plugins import load_plugins

    module = types.ModuleType("lossy")
    module.register_metrics = hookimpl(
        lambda register: register("loss", len, label="Loss", order=-1, higher_is_better=False)
    )
    builtin = [ep for ep in entry_points(group="xmcbench") if ep.name == "builtin"]
    return load_plugins(builtin, modules=[("lossy", module)])


def test_a_plugin_metric_is_a_column_with_its_label_place_and_direction():
    registry = lossy_plugins().metrics
    records = [run("parabel", 0.80), run("bonsai", 0.85)]
    records[0]["metrics"]["loss@1"], records[1]["metrics"]["loss@1"] = 0.2, 0.3
    (table,) = compare_table(records, metrics="p@1,loss@1", registry=registry)
    assert table.columns == ("Method", "Runs", "P@1", "Loss@1")
    assert is_best(table, "bonsai", "P@1") and not is_best(table, "parabel", "P@1")
    assert is_best(table, "parabel", "Loss@1") and not is_best(table, "bonsai", "Loss@1")
    assert sorted(["p@1", "psp@1", "loss@3", "loss@1"], key=registry.sort_key) == [
        "loss@1", "loss@3", "p@1", "psp@1",
    ]  # fmt: skip


def test_an_unknown_metric_error_names_every_known_one():
    registry = lossy_plugins().metrics
    assert expand_metrics("LOSS@k", ks=(1, 5), registry=registry) == ["loss@1", "loss@5"]
    with pytest.raises(XMCBenchError) as error:
        expand_metrics("p@k,los@k", registry=registry)
    message = str(error.value)
    assert message.startswith("unknown metric 'los@k'; did you mean 'loss@k'")
    assert "known: loss@k, p@k, ndcg@k (or n@k), psp@k, psndcg@k (or psn@k)" in message
    assert "\n" not in message


# --------------------------------------------------------------------------- grouping and labels


def test_three_seeds_give_mean_and_sample_std(measured):
    (table,) = compare_table(measured, include_reported=False)
    label = "attentionxml (lr=0.001)"
    assert cell(table, label, "Runs") == "3"
    assert cell(table, label, "P@1") == "85.10 ± 1.10"  # population std would print 0.90
    assert cell(table, label, "PSP@1") == "42.55 ± 0.55"
    assert cell(table, "parabel", "P@1") == "80.00" and cell(table, "parabel", "Runs") == "1"


def test_variants_are_labelled_by_the_params_that_differ():
    records = [
        run("attentionxml", 0.8, lr=0.001, trees=3, hidden=256),
        run("attentionxml", 0.8, seed=1, lr=0.001, trees=3, hidden=256),
        run("attentionxml", 0.9, lr=0.01, trees=3, hidden=256),
        run("attentionxml", 0.7, lr=0.01, trees=1, hidden=256),
        run("parabel", 0.8, trees=3),
    ]
    frame = records_frame(records)
    assert sorted(frame["variant"].unique()) == [
        "attentionxml (lr=0.001, trees=3)",
        "attentionxml (lr=0.01, trees=1)",
        "attentionxml (lr=0.01, trees=3)",
        "parabel",
    ]
    (table,) = compare_table(records)
    assert cell(table, "attentionxml (lr=0.001, trees=3)", "Runs") == "2"


def test_reported_rows_are_marked_sorted_and_cited(measured):
    (table,) = compare_table(measured, datasets=None, include_reported=True)  # no paper rows given
    assert all("[reported]" not in r[0] for r in table.rows)

    (table,) = compare_table(measured + reported_records(), metrics="p@k")
    labels = [r[0] for r in table.rows]
    assert labels.index("annexml [reported]") == 0
    assert labels.index("parabel [reported]") + 1 == labels.index("parabel")  # paper row first
    assert labels[-3:] == [
        "attentionxml [reported]",
        "attentionxml (lr=0.001)",
        "attentionxml (lr=0.01)",
    ]
    assert cell(table, "xt [reported]", "Runs") == "-"
    assert "[reported]: published in You et al. 2019, Table 3; You et al. 2019, Table 6." in (
        table.notes
    )
    for fmt in ("markdown", "latex", "html", "csv", "table"):
        assert "parabel [reported]" in render([table], fmt), fmt


def test_default_datasets_are_those_with_measured_runs(measured):
    tables = compare_table(measured + reported_records())
    assert [t.dataset for t in tables] == ["eurlex-4k"]
    assert [t.dataset for t in compare_table(reported_records())] == list(DATASET_ORDER)
    with pytest.raises(XMCBenchError, match="did you mean 'eurlex-4k'"):
        compare_table(measured, datasets=["eurlex-4"])


def test_missing_values_show_a_dash():
    (table,) = compare_table(reported_records(datasets=["eurlex-4k"]), metrics=["psp@1"])
    assert cell(table, "xt [reported]", "PSP@1") == "-"
    assert cell(table, "proxml [reported]", "PSP@1") == "44.92"


# --------------------------------------------------------------------------- formats


def test_best_value_is_bold_in_every_format(measured):
    (table,) = compare_table(measured, metrics=["p@1"], include_reported=False)
    assert is_best(table, "attentionxml (lr=0.01)", "P@1")
    assert not is_best(table, "parabel", "P@1")

    markdown = render([table], "markdown")
    assert re.search(r"\| attentionxml \(lr=0\.01\) +\| +1 \| +\*\*90\.00\*\* \|", markdown)
    assert "**80.00**" not in markdown and "85.10 ± 1.10 |" in markdown

    latex = render([table], "latex")
    assert re.search(r"attentionxml \(lr=0\.01\) +& +1 & +\\textbf\{90\.00\}", latex)
    assert r"85.10 $\pm$ 1.10" in latex and "\\begin{tabular}" in latex

    html_text = render([table], "html")
    winner = r"<td>attentionxml \(lr=0\.01\)\s*</td><td[^>]*>\s*1</td><td[^>]*><b>90\.00</b>"
    assert re.search(winner, html_text)
    assert html_text.count("<b>") == 1

    rows = list(csv.DictReader(io.StringIO(render([table], "csv"))))
    best = {r["Method"]: r["best"] for r in rows}
    assert best == {"parabel": "", "attentionxml (lr=0.001)": "", "attentionxml (lr=0.01)": "P@1"}
    assert rows[0]["dataset"] == "eurlex-4k"

    ansi = render([table], "table")
    assert re.search(r"\x1b\[1m *90\.00\x1b\[0m", ansi) and not re.search(r"\x1b\[1m *80\.00", ansi)
    plain = render([table], "table", ansi=False)
    assert "\x1b" not in plain and "90.00" in plain


def test_ties_are_all_bold():
    records = [run("parabel", 0.8), run("bonsai", 0.8), run("xt", 0.7)]
    (table,) = compare_table(records, metrics=["p@1"])
    assert is_best(table, "parabel", "P@1") and is_best(table, "bonsai", "P@1")
    assert not is_best(table, "xt", "P@1")


def test_escaping_in_latex_markdown_and_html():
    records = [run("my_method", 0.8, note="<b>&%"), run("my_method", 0.7, note="x|y")]
    (table,) = compare_table(records, metrics=["p@1"])
    html_text = render([table], "html")
    assert "&lt;b&gt;&amp;%" in html_text and "<b>&%" not in html_text
    assert r"my\_method (note=<b>\&\%)" in render([table], "latex")
    assert r"my\_method (note=x\|y)" in render([table], "markdown")


def test_unknown_format_suggests_one(measured):
    tables = compare_table(measured)
    with pytest.raises(XMCBenchError, match="did you mean 'markdown'"):
        render(tables, "markdwon")


# --------------------------------------------------------------------------- leaderboard


class TagBalance(HTMLParser):
    """Counts open non-void tags; a well-formed page ends with none open."""

    VOID: ClassVar[set[str]] = {"meta", "br", "hr", "img", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_leaderboard_pages_rank_by_mean_p_at_1(tmp_path, measured):
    records = [*measured, run("bonsai", 0.81, dataset="wiki10-31k", note="<script>")]
    paths = write_leaderboard(records, tmp_path / "board")
    names = sorted(p.name for p in paths if p.parent == tmp_path / "board")
    pages = ["eurlex-4k.md", "eurlex-4k.html", "wiki10-31k.md", "wiki10-31k.html"]
    assert names == sorted(["README.md", "index.html", *pages])
    assert sorted(p.name for p in (tmp_path / "board").iterdir()) == sorted([*names, "runs"])

    page = (tmp_path / "board" / "eurlex-4k.md").read_text()
    ranked = re.findall(r"^\| +(\d+) \| (\S+(?: \([^)]*\))?)", page, flags=re.M)
    assert ranked == [
        ("1", "attentionxml (lr=0.01)"),
        ("2", "attentionxml (lr=0.001)"),
        ("3", "parabel"),
    ]
    row = next(line for line in page.splitlines() if "lr=0.001)" in line)
    assert "85.10 ± 1.10" in row and "0, 1, 2" in row and "2.0 min" in row and "2.5 MB" in row
    assert "attentionxml-eurlex-4k-0-0.851" in row  # run ids listed

    index = (tmp_path / "board" / "README.md").read_text()
    assert "[html](eurlex-4k.html)" in index and "attentionxml (lr=0.01)" in index

    html_page = (tmp_path / "board" / "wiki10-31k.html").read_text()
    assert html_page.startswith("<!DOCTYPE html>") and "&lt;script&gt;" in html_page
    assert "note=<script>" not in html_page  # the page's own sorting script aside
    checker = TagBalance()
    checker.feed(html_page)
    assert checker.stack == [] and checker.errors == []


def test_leaderboard_includes_reported_rows_ranked_among_runs(tmp_path, measured):
    write_leaderboard(measured + reported_records(datasets=["eurlex-4k"]), tmp_path)
    page = (tmp_path / "eurlex-4k.md").read_text()
    order = re.findall(r"^\| +\d+ \| (\S+)", page, flags=re.M)
    assert order[:3] == ["attentionxml", "attentionxml", "attentionxml-1"]  # 90.00, 87.12, 85.49
    second = next(line for line in page.splitlines() if re.match(r"^\| +2 \|", line))
    assert "attentionxml [reported]" in second and "87.12" in second


def test_importing_the_results_package_loads_no_heavy_library() -> None:
    """`import xmcbench.results` (and the CLI's format list) must stay cheap: no pandas & co."""
    import subprocess
    import sys

    code = (
        "import sys, xmcbench.results, xmcbench.results.formats\n"
        "heavy = {'pandas', 'tabulate', 'matplotlib', 'jinja2'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
        "xmcbench.results.render\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]  # names still load, on first use
