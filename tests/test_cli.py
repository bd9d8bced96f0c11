"""`xmcbench run` end to end, the record it writes, and how bad input fails."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers import THIRD_PARTY, run_cli
from rich.console import Console

import xmcbench
from xmcbench.cli import main
from xmcbench.data.resolve import local_files, resolve_spec
from xmcbench.plugins import get_plugins
from xmcbench.registry import MetricSpec
from xmcbench.results.record import RunRecord
from xmcbench.values import parse_value

RECORD_KEYS = {
    "schema_version",
    "run_id",
    "created_at",
    "source",
    "method",
    "plugin",
    "plugin_version",
    "params",
    "seed",
    "dataset",
    "dataset_hash",
    "n_train",
    "n_valid",
    "n_test",
    "n_labels",
    "metrics",
    "propensity",
    "timing",
    "model_bytes",
    "env",
    "topk_file",
}


@pytest.fixture(scope="module")
def popularity_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    results = tmp_path_factory.mktemp("results")
    assert (
        main(
            [
                "run",
                "popularity",
                "--dataset",
                "synthetic-tiny",
                "--results",
                str(results),
                "--quiet",
            ]
        )
        == 0
    )
    (path,) = results.glob("synthetic-tiny/popularity/*.json")
    return path, json.loads(path.read_text())


def test_run_writes_a_complete_record(popularity_run):
    path, record = popularity_run
    assert set(record) >= RECORD_KEYS
    assert (
        record["method"] == "popularity"
        and record["plugin"] == "builtin"
        and record["source"] == "measured"
    )
    assert len(record["dataset_hash"]) == 64
    for name in ("p", "ndcg", "psp", "psndcg"):
        for k in (1, 3, 5):
            assert 0.0 <= record["metrics"][f"{name}@{k}"] <= 1.0
    assert record["propensity"] == {"a": 0.55, "b": 1.5}
    assert record["timing"]["train_s"] >= 0 and record["timing"]["peak_rss_mb"] > 0
    assert record["model_bytes"] > 0
    assert record["env"]["python"] and record["env"]["numpy"]
    assert (path.parent / record["topk_file"]).exists()


def test_popularity_scores_what_counting_the_raw_files_predicts(popularity_run):
    _, record = popularity_run
    spec, folder = resolve_spec("synthetic-tiny", get_plugins().datasets)
    files = local_files(spec, folder)
    train = [line.split() for line in (files / "train_labels.txt").read_text().splitlines()]
    test = [set(line.split()) for line in (files / "test_labels.txt").read_text().splitlines()]
    # the top label is fixed by the whole training file minus the validation docs carved from it;
    # the most frequent label is the same in practice, so check P@1 against both counts' top label
    top = Counter(label for labels in train for label in set(labels)).most_common(1)[0][0]
    expected = np.mean([top in labels for labels in test])
    assert record["metrics"]["p@1"] == pytest.approx(expected, abs=0.02)
    assert record["n_test"] == len(test)
    assert record["n_train"] + record["n_valid"] == len(train)


def test_compare_renders_the_run_beside_the_papers_rows(popularity_run):
    path, record = popularity_run
    results = path.parents[2]
    out = run_cli(
        "compare",
        "--results",
        str(results),
        "--format",
        "markdown",
        "--datasets",
        "synthetic-tiny,eurlex",
        check=True,
    ).stdout
    assert "popularity" in out and f"{100 * record['metrics']['p@1']:.2f}" in out
    assert "87.12" in out  # AttentionXML's reported EUR-Lex P@1 ships with the tool


def test_unknown_method_fails_with_one_line_and_a_hint(tmp_path: Path):
    out = run_cli("run", "popularty", "--dataset", "synthetic-tiny", "--results", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "did you mean 'popularity'" in out.stderr
    assert not any(tmp_path.iterdir())


def test_unknown_hyperparameter_is_named(tmp_path: Path):
    out = run_cli(
        "run",
        "popularity",
        "--dataset",
        "synthetic-tiny",
        "--set",
        "epochs=3",
        "--results",
        str(tmp_path),
    )
    assert out.returncode == 2 and "has no parameter 'epochs'" in out.stderr


def test_bad_dataset_folder_names_file_and_line_and_writes_nothing(tmp_path: Path):
    data = tmp_path / "bad"
    data.mkdir()
    (data / "train_texts.txt").write_text("one doc\nanother doc\nthird doc\n")
    (data / "train_labels.txt").write_text("a\nb\n")
    (data / "test_texts.txt").write_text("x\n")
    (data / "test_labels.txt").write_text("a\n")
    results = tmp_path / "results"
    out = run_cli("run", "popularity", "--dataset", str(data), "--results", str(results))
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and out.stderr.strip().count("\n") == 0
    assert "train_labels.txt" in out.stderr and "train_texts.txt" in out.stderr
    assert not results.exists()


def test_set_values_are_parsed_as_json_numbers_lists_and_text():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value("512,256") == [512, 256] and parse_value("[1, 2]") == [1, 2]
    assert parse_value("none") is None and parse_value("eurlex-4k") == "eurlex-4k"


def test_a_value_the_method_rejects_is_one_line_naming_the_method(tmp_path: Path):
    out = run_cli(
        "run",
        "knn",
        "--dataset",
        "synthetic-tiny",
        "--set",
        "neighbours=many",
        "--results",
        str(tmp_path),
        extra_path=THIRD_PARTY,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("error: method 'knn': ") and out.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_run_and_sweep_read_set_and_config_the_same_way(command, tmp_path: Path, capsys):
    bad = tmp_path / "params.toml"
    bad.write_text("epochs = = 3\n")
    base = [command, "popularity", "--dataset", "synthetic-tiny", "--results", str(tmp_path)]
    assert main([*base, "--config", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: not valid TOML: ")
    assert main([*base, "--set", "epochs"]) == 2
    assert capsys.readouterr().err == "error: --set expects key=value, got 'epochs'\n"
    assert main([*base, "--prep", "=1"]) == 2
    assert capsys.readouterr().err == "error: --prep expects key=value, got '=1'\n"
    assert not any(tmp_path.glob("synthetic-tiny"))


def test_both_module_entry_points_give_the_same_light_command_line():
    outputs = []
    for module in ("xmcbench", "xmcbench.cli"):
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    listed = outputs[0].split("COMMAND", 2)[2]
    rows = [line for line in listed.splitlines() if line[:4] == "    " and line[4:5] != " "]
    order = [row.split()[0] for row in rows]
    assert order == [
        "run", "compare", "leaderboard", "plugins", "methods", "metrics", "predict", "explain",
        "embeddings", "report", "sweep", "fuse", "datasets", "results",
    ]  # fmt: skip
    listing = (
        "import sys; from xmcbench.cli import main; assert main(['methods']) == 0; "
        "print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", listing], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip().endswith("[]"), done.stderr


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """The xmcbench modules `path` imports anywhere in it (also inside functions).

    ``from pkg import sub`` of a submodule depends on ``pkg.sub`` (and, like every import of
    ``pkg.x``, on running ``pkg/__init__``, which this graph leaves implicit); of a name defined
    in ``pkg/__init__``, on ``pkg``.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            target = ".".join(filter(None, [base, node.module or ""]))
            for alias in node.names:
                name = f"{target}.{alias.name}"
                found.add(name if name in modules else target)
    return {name for name in found if name.split(".")[0] == "xmcbench"}


def _in_cli(module: str) -> bool:
    return module == "xmcbench.cli" or module.startswith("xmcbench.cli.")


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the xmcbench package under `root` and the xmcbench modules it imports."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    names = set(modules)
    return {name: _imports(path, name, names) & names - {name} for name, path in modules.items()}


def in_cycle(graph: dict[str, set[str]], module: str) -> bool:
    """Whether following imports from `module` leads back to it."""
    seen, todo = set(), [module]
    while todo:
        for target in graph[todo.pop()] - seen:
            if target == module:
                return True
            seen.add(target)
            todo.append(target)
    return False


def test_no_library_module_imports_the_cli_and_the_cli_is_in_no_import_cycle():
    graph = import_graph(Path(xmcbench.__file__).parent)
    assert {"xmcbench.cli.app", "xmcbench.cli.console", "xmcbench.values"} <= set(graph)
    importers = [
        name
        for name, targets in graph.items()
        if not _in_cli(name) and name != "xmcbench.__main__" and any(map(_in_cli, targets))
    ]
    assert importers == []
    cli_side = [name for name in graph if _in_cli(name)] + ["xmcbench.sweep", "xmcbench.values"]
    assert [name for name in cli_side if in_cycle(graph, name)] == []


def test_no_xmcbench_module_is_in_an_import_cycle():
    """Imports inside functions count too: preflight and runner share run_setup, not each other."""
    graph = import_graph(Path(xmcbench.__file__).parent)
    assert {"xmcbench.runner", "xmcbench.preflight", "xmcbench.run_setup"} <= set(graph)
    assert sorted(name for name in graph if in_cycle(graph, name)) == []


def test_the_cycle_checker_finds_a_cycle_through_a_function_level_import(tmp_path):
    package = tmp_path / "xmcbench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import f\n")
    (package / "b.py").write_text("def f():\n    from xmcbench import a\n")
    (package / "c.py").write_text("from xmcbench.a import f\n")
    graph = import_graph(package)
    assert sorted(name for name in graph if in_cycle(graph, name)) == ["xmcbench.a", "xmcbench.b"]


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> Console:
    """The console the listings and run tables print to, captured at 200 columns."""
    captured = Console(width=200, record=True, color_system=None, file=io.StringIO())
    for module in ("listings", "runs"):
        monkeypatch.setattr(f"xmcbench.cli.{module}.console", captured)
    return captured


@pytest.fixture
def lower_first_metric():
    """A metric family registered for one test: `loss`, lower is better, placed before `p`."""
    metrics = get_plugins().metrics
    saved = metrics.snapshot()
    metrics.add(
        MetricSpec("loss", lambda *a: 0.0, plugin="test", label="Loss", order=-1,
                   higher_is_better=False, description="a lower-is-better test metric")
    )  # fmt: skip
    yield
    metrics.restore(saved)


def test_metrics_lists_label_and_direction_in_table_order(
    wide_console, lower_first_metric, monkeypatch
):
    monkeypatch.setattr("xmcbench.metrics.DEFAULT_KS", (1, 10))
    assert main(["metrics"]) == 0
    text = wide_console.export_text()
    assert "each reported at k = 1, 10" in text
    rows = [line.split("│")[1:4] for line in text.splitlines() if line.startswith("│")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["loss@k", "Loss@k", "lower"],
        ["p@k", "P@k", "higher"],
        ["ndcg@k", "N@k", "higher"],
        ["psp@k", "PSP@k", "higher"],
        ["psndcg@k", "PSnDCG@k", "higher"],
    ]


def test_a_runs_table_orders_metric_families_as_the_registry_does(wide_console, lower_first_metric):
    from xmcbench.cli.runs import print_record

    metrics = {"psp@1": 0.3, "recall@1": 0.5, "p@1": 0.4, "loss@1": 0.1, "ndcg@3": 0.2}
    record = RunRecord(
        method="m", dataset="d", metrics=metrics, seed=3, model_bytes=2_000_000,
        timing={"train_s": 1.0, "predict_ms_per_doc": 0.5, "peak_rss_mb": 10.0},
    )  # fmt: skip
    print_record(record)
    lines = wide_console.export_text().splitlines()
    header = next(line for line in lines if line.lstrip().startswith("┃"))
    assert header.replace("┃", " ").split() == ["k", "loss", "p", "ndcg", "psp", "recall"]
    row_1 = next(
        line for line in lines if line.startswith("│") and line.split("│")[1].strip() == "1"
    )
    assert [c.strip() for c in row_1.split("│")[2:-1]] == ["10.00", "40.00", "-", "30.00", "50.00"]
    assert "m on d (seed 3)" in lines[0] and "model 2.00 MB" in lines[-1]


def test_a_run_trained_in_worker_processes_reports_their_memory_too(wide_console) -> None:
    from types import SimpleNamespace

    from xmcbench.cli.runs import print_record
    from xmcbench.runner import worker_memory

    assert worker_memory(SimpleNamespace()) == {}  # trained in this process: nothing to add
    assert worker_memory(SimpleNamespace(worker_peak_rss_mb_=[])) == {}
    timing = worker_memory(SimpleNamespace(worker_peak_rss_mb_=[812.04, 1490.56]))
    assert timing == {"peak_rss_workers_mb": [812.0, 1490.6]}
    record = RunRecord(
        method="m", dataset="d", metrics={"p@1": 0.4}, seed=0, model_bytes=1,
        timing={"train_s": 1.0, "predict_ms_per_doc": 0.5, "peak_rss_mb": 300.0, **timing},
    )  # fmt: skip
    print_record(record)
    last = wide_console.export_text().splitlines()[-1]
    assert last.endswith("peak RSS 300 MB + 2 worker processes up to 1491 MB each")
