"""`xmcbench run` end to end, the record it writes, and how bad input fails."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers import THIRD_PARTY, run_cli

import xmcbench
from xmcbench.cli import main
from xmcbench.data.resolve import local_files, resolve_spec
from xmcbench.plugins import get_plugins
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
        "embeddings", "report", "sweep", "fuse", "datasets",
    ]  # fmt: skip
    listing = (
        "import sys; from xmcbench.cli import main; assert main(['methods']) == 0; "
        "print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", listing], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip().endswith("[]"), done.stderr


def _imports(path: Path, module: str) -> set[str]:
    """The xmcbench modules `path` imports anywhere in it (also inside functions)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            target = ".".join(filter(None, [base, node.module or ""]))
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "xmcbench"}


def _in_cli(module: str) -> bool:
    return module == "xmcbench.cli" or module.startswith("xmcbench.cli.")


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the xmcbench package under `root` and the xmcbench modules it imports."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {name: _imports(path, name) & set(modules) - {name} for name, path in modules.items()}


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
