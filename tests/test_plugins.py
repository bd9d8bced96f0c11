"""The plugin layer: entry-point discovery, failures that name the plugin, did-you-mean hints."""

from __future__ import annotations

import csv
import io
import json
import sys
import textwrap
import types
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest
from helpers import THIRD_PARTY, run_cli

from xmcbench.errors import UnknownNameError
from xmcbench.hookspecs import hookimpl
from xmcbench.plugins import load_plugins
from xmcbench.registry import DatasetSpec


def builtin_eps() -> list[EntryPoint]:
    return [ep for ep in entry_points(group="xmcbench") if ep.name == "builtin"]


def module_with(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def test_builtin_plugin_is_found_through_the_entry_point_group():
    plugins = load_plugins(builtin_eps())
    assert (
        plugins.info["builtin"].distribution == "xmcbench" and plugins.info["builtin"].error is None
    )
    assert "popularity" in plugins.methods
    assert {"p", "ndcg", "psp", "psndcg"} <= {m.name for m in plugins.metrics}
    assert {"synthetic", "synthetic-tiny", "eurlex-4k"} <= {d.name for d in plugins.datasets}


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_still_work():
    broken = EntryPoint(name="broken", value="xmcbench_no_such_module_xyz", group="xmcbench")
    plugins = load_plugins([*builtin_eps(), broken])
    assert "ModuleNotFoundError" in plugins.info["broken"].error
    assert "xmcbench_no_such_module_xyz" in plugins.info["broken"].error
    assert [f.name for f in plugins.failures] == ["broken"]
    assert "popularity" in plugins.methods


def test_a_misspelled_hook_fails_its_plugin_loudly():
    typo = module_with("typo", register_method=lambda register: register("x", "a:b"))
    plugins = load_plugins(builtin_eps(), modules=[("typo", typo)])
    assert "unknown hook 'register_method'" in plugins.info["typo"].error
    assert "register_methods" in plugins.info["typo"].error
    assert "x" not in plugins.methods and "popularity" in plugins.methods


def test_a_stray_hook_name_skips_only_its_plugin_and_names_the_closest_hook():
    stray = module_with(
        "stray",
        register_metrics=lambda register: register("stray", len),
        regster_methods=lambda register: register("x", "a:b"),  # not even "register_"
    )
    fine = module_with("fine", register_methods=lambda register: register("fine", "a:b"))
    plugins = load_plugins(builtin_eps(), modules=[("stray", stray), ("fine", fine)])
    error = plugins.info["stray"].error
    assert "unknown hook 'regster_methods'" in error and "did you mean 'register_methods'" in error
    assert [f.name for f in plugins.failures] == ["stray"]
    assert "stray" not in plugins.metrics  # its valid hook did not run either
    assert {"fine", "popularity"} <= {m.name for m in plugins.methods}


def test_a_hook_that_raises_registers_nothing_from_its_plugin():
    def methods(register):
        register("half", "a:b")

    def datasets(register):
        register(DatasetSpec("half-data"))
        raise RuntimeError("no GPU driver")

    half = module_with("half", register_methods=methods, register_datasets=datasets)
    after = module_with("after", register_methods=lambda register: register("after", "a:b"))
    plugins = load_plugins(builtin_eps(), modules=[("half", half), ("after", after)])
    assert plugins.info["half"].error == "register_datasets failed: RuntimeError: no GPU driver"
    assert "half" not in plugins.methods and "half-data" not in plugins.datasets
    assert "after" in plugins.methods and plugins.info["after"].error is None
    assert "popularity" in plugins.methods and "p" in plugins.metrics


def test_a_duplicate_name_rolls_back_what_the_plugin_registered_before_it():
    def methods(register):
        register("fresh", "a:b", aliases=("fresh-alias",))
        register("popularity", "a:b")

    plugins = load_plugins(
        builtin_eps(), modules=[("dup", module_with("dup", register_methods=methods))]
    )
    assert "registered twice" in plugins.info["dup"].error
    assert "fresh" not in plugins.methods and "fresh-alias" not in plugins.methods
    assert plugins.methods.get("popularity").plugin == "builtin"


def test_cli_warns_in_one_line_about_a_stray_hook_and_keeps_the_other_plugins(tmp_path: Path):
    dist = tmp_path / "xmcbench_typo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: xmcbench-typo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[xmcbench]\ntypo = xmcbench_typo\n")
    (tmp_path / "xmcbench_typo.py").write_text(
        "from xmcbench import hookimpl\n\n"
        "@hookimpl\ndef register_metric(register):\n    register('typo', len)\n"
    )
    out = run_cli("methods", extra_path=tmp_path)
    assert out.returncode == 0 and "popularity" in out.stdout
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("warning: plugin 'typo' ")
    assert "'register_metric'" in line and "did you mean 'register_metrics'" in line


def test_duplicate_names_are_an_error_naming_both_plugins():
    dup = module_with("dup", register_methods=lambda register: register("popularity", "a:b"))
    plugins = load_plugins(builtin_eps(), modules=[("dup", dup)])
    error = plugins.info["dup"].error
    assert "'popularity' is registered twice" in error and "'builtin'" in error and "'dup'" in error


def test_a_hook_that_raises_is_reported_with_the_plugin_name():
    def boom(register):
        raise RuntimeError("no GPU driver")

    plugins = load_plugins(
        builtin_eps(), modules=[("boom", module_with("boom", register_datasets=boom))]
    )
    assert plugins.info["boom"].error == "register_datasets failed: RuntimeError: no GPU driver"


def test_unknown_names_get_a_did_you_mean_hint():
    plugins = load_plugins(builtin_eps())
    with pytest.raises(UnknownNameError, match="did you mean 'popularity'"):
        plugins.methods.get("popularty")
    with pytest.raises(UnknownNameError, match="did you mean 'synthetic-tiny'"):
        plugins.datasets.get("synthetic-tinny")
    assert plugins.datasets.get("eurlex").name == "eurlex-4k"  # aliases resolve


def test_listing_commands_do_not_import_torch():
    code = textwrap.dedent(
        """
        import sys
        from xmcbench.cli import main
        for command in (["plugins"], ["methods"], ["metrics"], ["datasets"]):
            assert main(command) == 0, command
        print("TORCH_IMPORTED" if "torch" in sys.modules else "TORCH_NOT_IMPORTED")
        """
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "TORCH_NOT_IMPORTED" in out.stdout


def test_cli_reports_a_broken_third_party_plugin_and_keeps_working(tmp_path: Path):
    dist = tmp_path / "xmcbench_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: xmcbench-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[xmcbench]\nbroken = xmcbench_broken\n")
    (tmp_path / "xmcbench_broken.py").write_text("raise ImportError('needs libfoo')\n")
    listing = run_cli("plugins", extra_path=tmp_path)
    assert listing.returncode == 0
    assert "broken" in listing.stdout and "needs libfoo" in listing.stdout
    assert "plugin 'broken' failed to load: ImportError: needs libfoo" in listing.stderr
    strict = run_cli("plugins", "--strict", extra_path=tmp_path)
    assert strict.returncode == 1
    methods = run_cli("methods", extra_path=tmp_path)
    assert methods.returncode == 0 and "popularity" in methods.stdout


def test_third_party_method_and_metric_run_end_to_end_without_core_changes(tmp_path: Path):
    listing = run_cli("methods", extra_path=THIRD_PARTY, check=True)
    assert "knn" in listing.stdout and "test plugin" in listing.stdout
    results = tmp_path / "results"
    run_cli(
        "run",
        "knn",
        "--dataset",
        "synthetic-tiny",
        "--set",
        "neighbours=5",
        "--results",
        str(results),
        "--quiet",
        extra_path=THIRD_PARTY,
        check=True,
    )
    (record_path,) = results.glob("synthetic-tiny/knn/*.json")
    record = json.loads(record_path.read_text())
    assert record["plugin"] == "knn" and record["plugin_version"] == "0.1"
    assert record["params"] == {"neighbours": 5}
    assert {"recall@1", "recall@5", "p@1", "psp@5"} <= set(record["metrics"])
    assert 0.0 <= record["metrics"]["recall@5"] <= 1.0

    table = run_cli(
        "compare", "--metrics", "p@k,recall@k", "--results", str(results), "--format", "csv",
        extra_path=THIRD_PARTY, check=True,
    )  # fmt: skip
    header = table.stdout.splitlines()[0].split(",")
    assert header[header.index("P@1") :][:6] == [
        "P@1",
        "P@3",
        "P@5",
        "Recall@1",
        "Recall@3",
        "Recall@5",
    ]
    shown = float(next(r for r in csv.DictReader(io.StringIO(table.stdout)))["Recall@5"])
    assert shown == pytest.approx(100 * record["metrics"]["recall@5"], abs=0.005)
    typo = run_cli(
        "compare", "--metrics", "p@k,recal@k", "--results", str(results), extra_path=THIRD_PARTY
    )
    assert typo.returncode != 0 and typo.stderr.count("\n") == 1
    assert typo.stderr.startswith("error: unknown metric 'recal@k'; did you mean 'recall@k'")
    assert "known: p@k, ndcg@k (or n@k), psp@k, psndcg@k (or psn@k), recall@k" in typo.stderr
