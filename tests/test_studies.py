"""Studies: reports and published numbers registered through the plugin hooks, read generically.

The AttentionXML paper's tables are one such study; a third-party study plugs in the same way
and `report`, `compare` and the table order pick it up without core code naming it.
"""

from __future__ import annotations

import re
import textwrap
import types
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest
from helpers import run_cli

from xmcbench.errors import UnknownNameError, XMCBenchError
from xmcbench.hookspecs import hookimpl
from xmcbench.plugins import load_plugins
from xmcbench.results.record import REPORTED, RunRecord
from xmcbench.results.report import report_names, report_spec
from xmcbench.results.reported import dataset_order, dataset_titles, method_order, reported_records
from xmcbench.results.tables import compare_table

STUDY = textwrap.dedent(
    '''
    """A third-party study for the tests: one report and one published row."""
    from xmcbench.hookspecs import hookimpl
    from xmcbench.results.record import RunRecord
    from xmcbench.results.table import Table


    @hookimpl
    def register_reports(register):
        register("toy-table", "toystudy:build", description="a toy table", needs_measured=False)


    @hookimpl
    def register_reported(register):
        register(
            "toy-paper",
            "toystudy:rows",
            method_order=("zeta", "alpha"),
            dataset_order=("toyset",),
            dataset_titles={"toyset": "Toy Set"},
        )


    def rows():
        return [
            RunRecord(run_id="reported-toy-" + m, source="reported", citation="Doe (2030)",
                      method=m, dataset="toyset", metrics={"p@1": p}) for m, p in
            (("alpha", 0.5), ("zeta", 0.25))
        ]


    def build(records, *, specs, datasets, methods, include_reported):
        n = sum(1 for r in records if r.is_reported)
        return [Table(dataset="toyset", title="Toy table", columns=("reported rows",),
                      rows=((str(n),),))]
    '''
)


def paper_eps() -> list[EntryPoint]:
    return [ep for ep in entry_points(group="xmcbench") if ep.name == "attentionxml-paper"]


def write_study(root: Path) -> Path:
    """`toystudy` as an installed distribution declaring itself in the `xmcbench` group."""
    root.mkdir()
    (root / "toystudy.py").write_text(STUDY, encoding="utf-8")
    dist = root / "toystudy-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toystudy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[xmcbench]\ntoy = toystudy\n")
    return root


def test_the_paper_is_a_study_found_through_the_entry_point_group():
    plugins = load_plugins(paper_eps())
    assert plugins.info["attentionxml-paper"].error is None
    assert report_names(plugins=plugins) == ("figure2", *(f"table{i}" for i in range(2, 10)))
    assert report_names("figure", plugins) == ("figure2",)
    assert not report_spec("table3", plugins).needs_measured
    assert report_spec("table7", plugins).needs_measured
    assert method_order(plugins)[-1] == "attentionxml" and dataset_order(plugins)[0] == "eurlex-4k"
    assert dataset_titles(plugins)["eurlex-4k"] == "EUR-Lex"
    rows = reported_records(plugins=plugins, datasets=["eurlex-4k"], methods=["parabel"])
    assert [(r.method, r.is_reported) for r in rows] == [("parabel", True)]


def test_without_a_study_there_are_no_reports_and_no_reported_rows():
    plugins = load_plugins([ep for ep in entry_points(group="xmcbench") if ep.name == "builtin"])
    assert report_names(plugins=plugins) == () and reported_records(plugins=plugins) == []
    assert method_order(plugins) == () and dataset_titles(plugins) == {}
    with pytest.raises(UnknownNameError, match="unknown report 'table3'"):
        report_spec("table3", plugins)


def test_a_report_name_two_studies_claim_names_both():
    clash = types.ModuleType("clash")
    clash.register_reports = hookimpl(lambda register: register("table3", "x:y"))
    plugins = load_plugins(paper_eps(), modules=[("clash", clash)])
    assert "registered twice" in plugins.info["clash"].error
    assert "attentionxml-paper" in plugins.info["clash"].error
    assert report_spec("table3", plugins).plugin == "attentionxml-paper"


def test_a_study_that_returns_measured_rows_as_reported_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "badstudy.py").write_text(
        "from xmcbench.results.record import RunRecord\n"
        "def rows():\n    return [RunRecord(method='m', dataset='d', metrics={'p@1': 0.1})]\n"
    )
    bad = types.ModuleType("bad")
    bad.register_reported = hookimpl(lambda register: register("bad", "badstudy:rows"))
    plugins = load_plugins([], modules=[("bad", bad)])
    with pytest.raises(XMCBenchError, match="must be RunRecords with source 'reported'"):
        reported_records(plugins=plugins)


def test_a_third_party_study_reports_and_its_numbers_join_compare(tmp_path: Path):
    root = write_study(tmp_path / "site")
    results = tmp_path / "results"
    results.mkdir()
    shown = run_cli("report", "toy-table", "--results", str(results), extra_path=root, check=True)
    assert "Toy table" in shown.stdout
    assert re.search(r"\b61\b", shown.stdout)  # the paper's 59 rows and the study's 2
    compared = run_cli(
        "compare", "--results", str(results), "--metrics", "p@1",
        "--datasets", "toyset,eurlex-4k",  # a folder without runs shows only what is asked for
        extra_path=root, check=True,
    )  # fmt: skip
    out = compared.stdout
    assert "Toy Set (toyset)" in out and "Doe (2030)" in out
    assert out.index("zeta [reported]") < out.index("alpha [reported]")  # the study's order
    assert "attentionxml [reported]" in out  # the paper's rows still come from its study
    unknown = run_cli("report", "toy-tabel", "--results", str(results), extra_path=root)
    assert unknown.returncode != 0
    (line,) = unknown.stderr.strip().splitlines()
    assert line.startswith("error: unknown report 'toy-tabel'; did you mean 'toy-table'")


def test_compare_orders_methods_as_the_registered_study_says():
    rec = {"source": REPORTED, "citation": "c", "dataset": "eurlex-4k", "metrics": {"p@1": 0.1}}
    records = [
        RunRecord(run_id=f"r-{m}", method=m, **rec) for m in ("attentionxml", "parabel", "zzz")
    ]
    (table,) = compare_table(records, metrics=["p@1"])
    assert [row[0] for row in table.rows] == [
        "parabel [reported]",
        "attentionxml [reported]",
        "zzz [reported]",
    ]
    assert table.title.startswith("EUR-Lex (eurlex-4k)")
