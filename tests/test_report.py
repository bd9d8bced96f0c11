"""Paper-style reports from real result records: `xmcbench report table2..table9|figure2` and
`compare --by`. The records come from tiny AttentionXML, XML-CNN, Parabel and popularity runs."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from xmcbench.cli import main
from xmcbench.errors import XMCBenchError
from xmcbench.plugins import get_plugins
from xmcbench.results import load_records, render
from xmcbench.results.figures import psp_figure
from xmcbench.results.report import report_tables
from xmcbench.results.variation import variation_tables
from xmcbench.runner import RunRequest, run
from xmcbench.sweep import plan_points, run_sweep

DATASET = "synthetic"  # the default synthetic dataset, as the reports are specified on
DEEP = {  # a few optimizer steps of a very small network: about a second a run
    "embedding_dim": 16,
    "embedding_init": "random",
    "max_steps": 3,
    "eval_every": 3,
    "valid_size": 30,
    "epochs": 1,
    "batch_size": 32,
    "progress": False,
}
TINY_AXML = {**DEEP, "hidden_size": 8, "fc_sizes": [16]}
FORMATS = ("table", "markdown", "latex", "csv", "html")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eleven real runs on synthetic: sweeps of AttentionXML's K with C (two seeds), H and
    trees, one without SWA, and XML-CNN, Parabel and popularity."""
    folder = tmp_path_factory.mktemp("report-results")
    plugins = get_plugins()

    def sweep(grid, *, zipped=False, seeds=(0,), method="attentionxml", **fixed):
        points = plan_points(grid, zipped=zipped, seeds=seeds, fixed={**TINY_AXML, **fixed})
        outcomes = run_sweep(
            method, DATASET, points, plugins, results_dir=folder, device="cpu", progress=False,
            log=lambda *_: None,
        )  # fmt: skip
        assert [o.status for o in outcomes] == ["done"] * len(points), outcomes

    sweep(
        {"tree_k": [4, 8], "candidates": [8, 4]}, zipped=True, seeds=(0, 1), tree_height=1, trees=1
    )
    sweep({"tree_height": [2]}, tree_k=4, candidates=8, trees=1)
    sweep({"trees": [1, 2]})
    sweep({"swa": [False]}, trees=1)
    for method, params in (("xml-cnn", {**DEEP, "num_filters": 8, "bottleneck_size": 16}),
                           ("parabel", {}), ("popularity", {})):  # fmt: skip
        request = RunRequest(method, DATASET, params, seed=0, device="cpu",
                             results_dir=folder, progress=False)  # fmt: skip
        run(request, plugins, log=lambda *_: None)
    return folder


@pytest.fixture(scope="module")
def records(results: Path) -> list[dict]:
    return load_records(results)


@pytest.fixture(scope="module")
def specs() -> dict:
    return {spec.name: spec for spec in get_plugins().methods}


def measured(records, method="attentionxml", **params) -> list[dict]:
    """The measured records of `method` whose params include `params`, as their JSON dicts."""
    return [
        r.to_dict()
        for r in records
        if not r.is_reported
        and r.method == method
        and all(r.params.get(k) == v for k, v in params.items())
    ]


def shown(records: list[dict], metric: str) -> str:
    """A cell as the tables print it: percent, and mean ± sample std over several runs."""
    values = np.array([100 * r["metrics"][metric] for r in records])
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def groups(table) -> dict[str, list[tuple]]:
    """Row-group header -> its rows."""
    out, names = {}, table.group_of_row()
    for name, row in zip(names, table.rows, strict=True):
        out.setdefault(name, []).append(row)
    return out


def cell(table, row, column: str) -> str:
    return row[table.columns.index(column)]


def best_in(table, column: str) -> set[int]:
    j = table.columns.index(column)
    return {i for i, jj in table.best if jj == j}


# --------------------------------------------------------------------------- Tables 7 and 8


def test_table7_groups_datasets_and_other_settings_and_averages_seeds(records, specs):
    (table,) = report_tables("table7", records, specs=specs)
    by_group = groups(table)
    assert table.columns[:5] == ("attentionxml", "Runs", "P@1", "P@3", "P@5")
    assert table.columns[5:] == ("N@3", "N@5", "PSP@1", "PSP@3", "PSP@5")
    h1 = by_group["synthetic, H = 1, Trees = 1, swa = true"]
    assert [r[0] for r in h1] == ["K = 4, C = 8", "K = 8, C = 4"]
    assert [cell(table, r, "Runs") for r in h1] == ["2", "2"]
    for row, (k, c) in zip(h1, [(4, 8), (8, 4)], strict=True):
        runs = measured(records, tree_k=k, candidates=c, tree_height=1)
        assert sorted(r["seed"] for r in runs) == [0, 1]
        for metric, column in (("p@1", "P@1"), ("ndcg@3", "N@3"), ("psp@5", "PSP@5")):
            assert cell(table, row, column) == shown(runs, metric)
    # runs with other settings are kept apart (their own group), never averaged in
    assert list(by_group) == [
        "synthetic, H = 0, Trees = 1, swa = false",
        "synthetic, H = 0, Trees = 1, swa = true",
        "synthetic, H = 0, Trees = 2, swa = true",
        "synthetic, H = 1, Trees = 1, swa = true",
        "synthetic, H = 2, Trees = 1, swa = true",
    ]
    assert any(
        n.startswith("Runs that differ in other parameters are kept apart") for n in table.notes
    )
    assert "Every row: E = 1, B = 32, N = 8, N_fc = 16." in table.notes


def test_best_is_bold_within_each_group(records, specs):
    (table,) = report_tables("table7", records, specs=specs)
    names = table.group_of_row()
    start = names.index("synthetic, H = 1, Trees = 1, swa = true")
    rows = [start, start + 1]
    runs = [measured(records, tree_k=k, candidates=c, tree_height=1) for k, c in [(4, 8), (8, 4)]]
    means = [round(100 * np.mean([r["metrics"]["p@1"] for r in rs]), 2) for rs in runs]
    winners = {rows[i] for i in range(2) if means[i] == max(means)}
    assert best_in(table, "P@1") & set(rows) == winners
    singles = [i for i, name in enumerate(names) if names.count(name) == 1]
    assert set(singles) <= best_in(table, "P@1")  # alone in its group: the best of it


def test_table8_rows_are_heights_under_their_k_and_c(records, specs):
    (table,) = report_tables("table8", records, specs=specs)
    by_group = groups(table)
    rows = by_group["synthetic, K = 4, C = 8, Trees = 1, swa = true"]
    assert [r[0] for r in rows] == ["H = 1", "H = 2"]
    assert cell(table, rows[1], "P@5") == shown(measured(records, tree_height=2), "p@5")
    assert table.title == "Table 8: attentionxml by tree height H"


# --------------------------------------------------------------------------- Tables 5 and 9


def test_table5_datasets_as_column_groups(records, specs):
    (table,) = report_tables("table5", records, specs=specs)
    assert table.columns == ("Trees", "Other parameters", "P@1", "P@3", "P@5")
    assert table.column_groups == (("", 2), ("synthetic", 3))
    flat = {(r[0], r[1]): r for r in table.rows}
    two = flat[("2", "H = 0, K = 8, C = 160, swa = true")]
    one = flat[("1", "H = 0, K = 8, C = 160, swa = true")]
    assert cell(table, two, "P@3") == shown(measured(records, trees=2), "p@3")
    assert cell(table, one, "P@3") == shown(
        measured(records, trees=1, tree_height=0, swa=True), "p@3"
    )
    assert [r[0] for r in table.rows] == sorted((r[0] for r in table.rows), key=int)
    assert "synthetic P@1" in table.flat_columns()


def test_table9_one_metric_has_datasets_as_plain_columns(records, specs):
    (table,) = report_tables("table9", records, specs=specs)
    assert table.columns == ("H", "Other parameters", "synthetic")
    assert table.column_groups == ()
    assert table.notes[0] == "Cells: P@5 of attentionxml."
    assert [r[0] for r in table.rows] == sorted((r[0] for r in table.rows), key=int)
    h2 = next(r for r in table.rows if r[0] == "2")
    assert h2[2] == shown(measured(records, tree_height=2), "p@5")


# --------------------------------------------------------------------------- Tables 2, 3, 4, 6


def test_table2_lists_declared_parameters_time_and_size(records, specs):
    (table,) = report_tables("table2", records, specs=specs)
    assert table.columns == (
        "Dataset", "E", "B", "N", "N_fc", "H", "K", "C", "Trees",
        "Runs", "Train (hours)", "Test (ms/sample)", "Model size (GB)",
    )  # fmt: skip
    row = next(r for r in table.rows if r[5:9] == ("1", "8", "4", "1"))
    assert (
        row[:5] == ("synthetic (swa = true)", "1", "32", "8", "16")
        and cell(table, row, "Runs") == "2"
    )
    runs = measured(records, tree_height=1, tree_k=8)
    hours = np.mean([r["timing"]["train_s"] for r in runs]) / 3600
    assert float(cell(table, row, "Train (hours)")) == pytest.approx(hours, rel=0.05)
    assert float(cell(table, row, "Test (ms/sample)")) == pytest.approx(
        np.mean([r["timing"]["predict_ms_per_doc"] for r in runs]), abs=0.006
    )
    assert len(table.rows) == 6  # one per configuration: 2 + 1 (H) + 2 (trees) + 1 (no SWA)
    assert "E: epochs, B: batch_size" in table.notes[0]


def test_table3_datasets_as_row_groups_with_reported_rows(records, specs):
    (table,) = report_tables("table3", records, specs=specs, datasets=[DATASET, "eurlex-4k"])
    by_group = groups(table)
    assert list(by_group) == ["synthetic", "EUR-Lex (eurlex-4k)"]
    assert table.columns == ("Method", "Runs", "P@1", "P@3", "P@5")
    eurlex = {r[0]: r for r in by_group["EUR-Lex (eurlex-4k)"]}
    assert cell(table, eurlex["attentionxml [reported]"], "P@1") == "87.12"
    assert cell(table, eurlex["attentionxml [reported]"], "Runs") == "–"
    tiny = {r[0]: r for r in by_group["synthetic"]}
    assert cell(table, tiny["parabel"], "P@5") == shown(measured(records, "parabel"), "p@5")
    assert cell(table, tiny["popularity"], "Runs") == "1"
    winner = max(tiny, key=lambda m: float(tiny[m][2].split(" ")[0]))
    i = table.rows.index(tiny[winner])
    assert (i, 2) in table.best  # the best P@1 of synthetic is bold, within its group
    assert {table.rows[i][0] for i, j in table.best if j == 2} >= {"attentionxml [reported]"}


def test_table6_has_every_metric_and_dashes_for_missing(records, specs):
    (table,) = report_tables("table6", records, specs=specs, datasets=["eurlex-4k"])
    assert table.columns == (
        "Method",
        "P@1",
        "P@3",
        "P@5",
        "N@3",
        "N@5",
        "PSP@1",
        "PSP@3",
        "PSP@5",
    )  # fmt: skip (only reported rows: no Runs column)
    rows = {r[0]: r for r in table.rows}
    assert cell(table, rows["proxml [reported]"], "PSP@1") == "44.92"
    assert cell(table, rows["xt [reported]"], "PSP@1") == "–"  # Table 3 only: no PSP


def test_table4_columns_come_from_plugin_metadata(records, specs):
    (table,) = report_tables("table4", records, specs=specs)
    assert table.columns == ("Dataset", "XML-CNN", "BiLSTM", "BiLSTM+Att", "BiLSTM+Att+SWA")
    (row,) = table.rows
    assert cell(table, row, "XML-CNN") == shown(measured(records, "xml-cnn"), "p@5")
    assert cell(table, row, "BiLSTM") == "–"  # no bilstm-maxpool run
    # attentionxml with swa=false is what attentionxml-noswa is: it fills BiLSTM+Att
    assert cell(table, row, "BiLSTM+Att") == shown(measured(records, swa=False), "p@5")
    configs = [measured(records, swa=True, trees=1, tree_height=0)]
    configs += [measured(records, tree_height=1, tree_k=k) for k in (4, 8)]
    configs += [measured(records, tree_height=2), measured(records, trees=2)]
    best = max(configs, key=lambda rs: np.mean([r["metrics"]["p@5"] for r in rs]))
    assert cell(table, row, "BiLSTM+Att+SWA") == shown(best, "p@5")
    assert any(n.startswith("synthetic, BiLSTM+Att+SWA: 5 configurations; the best is shown")
               for n in table.notes)  # fmt: skip
    assert (
        "Columns: XML-CNN: xml-cnn; BiLSTM: no runs; BiLSTM+Att: attentionxml-noswa; "
        "BiLSTM+Att+SWA: attentionxml." in table.notes
    )
    means = [float(c.split(" ")[0]) if c != "–" else -1 for c in row[1:]]
    assert {j for _, j in table.best} == {1 + i for i, m in enumerate(means) if m == max(means)}


# --------------------------------------------------------------------------- formats


def test_every_format_renders_groups_and_bold(records, specs):
    (table,) = report_tables("table8", records, specs=specs)
    i, j = min(table.best)
    winner = table.rows[i][j]
    header = "synthetic, K = 4, C = 8, Trees = 1, swa = true"
    text = {fmt: render([table], fmt) for fmt in FORMATS}
    assert f"*{header}*" in text["markdown"] and f"**{winner}**" in text["markdown"]
    assert re.search(r"\\multicolumn\{10\}\{l\}\{\\textit\{" + re.escape(header), text["latex"])
    assert "\\textbf{" + winner.replace(" ± ", " $\\pm$ ") + "}" in text["latex"]
    assert f'<td colspan="10"><i>{header}</i></td>' in text["html"]
    assert f"<b>{winner}</b>" in text["html"]
    assert "\x1b[3m" + header in text["table"] and re.search(
        r"\x1b\[1m *" + re.escape(winner), text["table"]
    )
    rows = list(csv.DictReader(io.StringIO(text["csv"])))
    assert {r["group"] for r in rows} >= {header}
    assert [r["attentionxml"] for r in rows if r["group"] == header] == ["H = 1", "H = 2"]

    (columns,) = report_tables("table5", records, specs=specs)
    latex, html_text = render([columns], "latex"), render([columns], "html")
    assert "\\multicolumn{3}{c}{synthetic}" in latex and "\\cline{3-5}" in latex
    assert '<th colspan="3" style="text-align: center;">synthetic</th>' in html_text
    assert "synthetic P@1" in render([columns], "csv").splitlines()[0]


# --------------------------------------------------------------------------- compare --by


def test_compare_by_on_the_command_line(results, capsys):
    assert main(["compare", "--by", "K,C", "--results", str(results), "--format", "csv",
                 "--metrics", "p@1"]) == 0  # fmt: skip
    by_symbol = capsys.readouterr().out
    assert main(["compare", "--by", "tree_k,candidates", "--results", str(results), "--format",
                 "csv", "--metrics", "p@1"]) == 0  # fmt: skip
    assert capsys.readouterr().out == by_symbol
    rows = list(csv.DictReader(io.StringIO(by_symbol)))
    h1 = [r for r in rows if r["group"] == "synthetic, H = 1, Trees = 1, swa = true"]
    assert [(r["attentionxml"], r["Runs"]) for r in h1] == [
        ("K = 4, C = 8", "2"),
        ("K = 8, C = 4", "2"),
    ]

    assert main(["compare", "--by", "trees", "--layout", "columns", "--results", str(results),
                 "--format", "markdown", "--metrics", "p@1"]) == 0  # fmt: skip
    markdown = capsys.readouterr().out
    assert re.search(r"\| Trees +\| +Other parameters +\| +synthetic +\|", markdown)

    assert main(["compare", "--by", "tree_kk", "--results", str(results)]) == 2
    assert "did you mean 'tree_k'" in capsys.readouterr().err


def record(method: str, p1: float, seed: int = 0, **params) -> dict:
    return {
        "run_id": f"{method}-{seed}-{p1}-{sorted(params.items())}",
        "source": "measured",
        "method": method,
        "dataset": "eurlex-4k",
        "seed": seed,
        "params": params,
        "metrics": {"p@1": p1},
    }


def test_subject_method_defaults_to_the_base_method_and_never_guesses_between_others(specs):
    both = [record("attentionxml", 0.8, trees=1), record("attentionxml-noswa", 0.7, trees=1)]
    (table,) = variation_tables(both, ["trees"], specs=specs, metrics="p@1")
    assert table.title == "attentionxml by Trees" and table.rows[0][2] == "80.00"

    others = [record("mine", 0.5, alpha=1), record("yours", 0.6, alpha=2)]
    with pytest.raises(XMCBenchError, match=r"several methods .*alpha.*--methods"):
        variation_tables(others, ["alpha"], specs=specs, metrics="p@1")
    (table,) = variation_tables(others, ["alpha"], specs=specs, metrics="p@1", methods=["yours"])
    assert [r[0] for r in table.rows] == ["alpha = 2"]  # no declared symbol: the raw name


def test_list_values_make_rows_too(specs):
    runs = [
        record("attentionxml", 0.5, fc_sizes=[256]),
        record("attentionxml", 0.6, fc_sizes=[512, 256]),
    ]
    (table,) = variation_tables(runs, ["N_fc"], specs=specs, metrics="p@1", layout="columns")
    assert table.columns == ("N_fc", "EUR-Lex (eurlex-4k)")
    assert table.rows == (("256", "50.00"), ("512,256", "60.00"))
    assert "### attentionxml by N\\_fc" in render([table], "markdown")


def test_runs_without_the_parameter_are_left_out_and_said_so(specs):
    runs = [record("mine", 0.5, alpha=1), record("mine", 0.6, alpha=2), record("mine", 0.9)]
    (table,) = variation_tables(runs, ["alpha"], specs=specs, metrics="p@1", layout="columns")
    assert [r[0] for r in table.rows] == ["1", "2"]
    assert "1 run(s) of mine without alpha are left out." in table.notes


# --------------------------------------------------------------------------- Figure 2


def svg_panels(path: Path) -> int:
    root = ET.parse(path).getroot()  # raises on invalid XML
    assert root.tag.endswith("svg")
    return sum(1 for g in root.iter() if re.fullmatch(r"axes_\d+", g.get("id") or ""))


def test_figure2_svg_has_one_panel_per_dataset(records, specs, tmp_path):
    info = psp_figure(records, tmp_path / "fig2.svg", specs=specs)
    assert info.panels == (DATASET,) and svg_panels(info.path) == 1
    assert "parabel" in info.series and "popularity" not in info.series
    assert "xml-cnn" not in info.series  # not a tree-based method
    assert not any(name.startswith("attentionxml") and "[reported]" in name for name in info.series)

    both = psp_figure(records, tmp_path / "two.svg", specs=specs, datasets=[DATASET, "amazon-670k"])
    assert both.panels == (DATASET, "amazon-670k") and svg_panels(both.path) == 2
    assert {"parabel [reported]", "bonsai [reported]", "attentionxml [reported]"} <= set(
        both.series
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig2.svg", "two.svg"]  # no temp files


def test_figure2_png_and_methods_option(records, specs, tmp_path):
    info = psp_figure(records, tmp_path / "f.png", specs=specs, methods=["parabel", "xml-cnn"])
    data = info.path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 300 and height > 200
    assert info.series == ("parabel", "xml-cnn")
    with pytest.raises(XMCBenchError, match=r"f\.jpg: a figure is written as \.svg, \.png, \.pdf"):
        psp_figure(records, tmp_path / "f.jpg", specs=specs)


def test_report_command_writes_files_in_the_format_of_their_suffix(results, tmp_path, capsys):
    md, tex = tmp_path / "t7.md", tmp_path / "t7.tex"
    assert main(["report", "table7", "--results", str(results), "--output", str(md)]) == 0
    assert main(["report", "table7", "--results", str(results), "--output", str(tex)]) == 0
    assert md.read_text().startswith("### Table 7: attentionxml by K (with C)")
    assert "\\begin{tabular}" in tex.read_text()
    fig = tmp_path / "fig2.svg"
    assert main(["report", "figure2", "--results", str(results), "--output", str(fig)]) == 0
    assert svg_panels(fig) == 1
    capsys.readouterr()
    assert main(["report", "tabel3", "--results", str(results)]) == 2
    assert "did you mean 'table3'" in capsys.readouterr().err
    assert main(["report", "figure2", "--results", str(results)]) == 2
    assert "give --output FILE.svg" in capsys.readouterr().err
    assert json.loads(json.dumps(sorted(p.name for p in tmp_path.iterdir()))) == [
        "fig2.svg", "t7.md", "t7.tex",
    ]  # fmt: skip
