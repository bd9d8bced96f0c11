"""Discoverable and consistent: every option says what it does, `run --help` shows real examples,
run-only parameters and repeated seeds do not change the tables, `datasets prepare --prep` reads
options as `run` does, and the paper's parameter tables say when there are no runs to show."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import shlex
from pathlib import Path

import pytest

from xmcbench.cli import main
from xmcbench.cli.app import build_parser
from xmcbench.cli.options import PREP_HELP, RUN_EXAMPLES, params_from
from xmcbench.data.prep_options import PrepareOptions
from xmcbench.paramspec import RUN_ONLY_PARAMS
from xmcbench.plugins import get_plugins
from xmcbench.results import compare_table, records_frame
from xmcbench.results.grouping import group_runs
from xmcbench.run_setup import build_method


def record(method: str, p1: float, *, seed: int = 0, created: str | None = None, **params) -> dict:
    """A minimal measured record on eurlex-4k with P@1 = `p1`."""
    return {
        "run_id": f"{method}-{seed}-{p1}-{created}-{sorted(params.items())}",
        "created_at": created,
        "source": "measured",
        "method": method,
        "dataset": "eurlex-4k",
        "seed": seed,
        "params": {**params, "device": "cpu"},
        "metrics": {"p@1": p1, "p@3": p1 - 0.1, "p@5": p1 - 0.2},
        "timing": {"train_s": 60.0},
    }


def rows(records: list[dict]) -> dict[str, tuple[str, ...]]:
    """Row label -> the row, of the one comparison table (no reported rows)."""
    (table,) = compare_table(records, metrics="p@k", ks=(1,), include_reported=False)
    return {r[0]: r for r in table.rows}


# --------------------------------------------------------------------------- help


def _undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    """`command option` for every argument (options and positionals) without help text."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _undocumented(sub, f"{path} {name}")
            for choice in action._choices_actions:  # the line `COMMAND --help` lists it by
                if not choice.help:
                    missing.append(f"{path} {choice.dest}")
        elif isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        elif not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_and_argument_of_every_command_has_help():
    assert _undocumented(build_parser(), "xmcbench") == []


def test_the_help_checker_finds_an_option_without_help():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers().add_parser("verb", help="does a thing")
    sub.add_argument("--quiet", action="store_true")
    assert _undocumented(parser, "x") == ["x verb --quiet"]


def test_run_help_shows_every_example(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "\nexamples:\n" in out
    for command, meaning in RUN_EXAMPLES:
        assert f"  {command}\n      {meaning}\n" in out  # one line each, never rewrapped
    commands = " ".join(command for command, _ in RUN_EXAMPLES)
    for feature in ("--dataset synthetic ", "time_budget=10m", "preset=", "--config "):
        assert feature in commands


@pytest.mark.parametrize("example", [command for command, _ in RUN_EXAMPLES])
def test_each_run_example_names_real_methods_datasets_presets_and_options(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Parsed as the shell would, and every parameter checked as `run` checks it, no data."""
    monkeypatch.chdir(tmp_path)
    # the file the --config example names, with what its explanation says it holds
    (tmp_path / "params.toml").write_text("n_trees = 3\n\n[prep]\nmax_len = 300\n")
    words = shlex.split(example)
    assert words[:2] == ["xmcbench", "run"]
    args = build_parser().parse_args(words[1:])
    plugins = get_plugins()
    spec = plugins.methods.get(args.method)
    assert args.dataset in plugins.datasets
    params, prep = params_from(args)
    PrepareOptions.from_mapping(prep)
    method = build_method(spec, params, args.seed, "cpu")  # a bad preset or value raises
    if "preset" in params:
        assert method.get_params()["preset"] == params["preset"]


def test_the_prep_help_names_every_preprocessing_option():
    names = {f.name for f in dataclasses.fields(PrepareOptions)}
    assert names == {n for n in names if n in PREP_HELP}


def test_datasets_prepare_takes_prep_like_run(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    assert main(["datasets", "prepare", "synthetic-tiny", "--prep", "max_len=40", "--quiet"]) == 0
    prepared = capsys.readouterr().out
    assert main(["datasets", "prepare", "synthetic-tiny", "--quiet"]) == 0
    default = capsys.readouterr().out
    digest = prepared.rsplit("cached as ", 1)[1].strip()
    assert digest != default.rsplit("cached as ", 1)[1].strip()  # the option was applied
    argv = ["run", "popularity", "--dataset", "synthetic-tiny", "--prep", "max_len=40"]
    assert main([*argv, "--results", str(tmp_path), "--quiet"]) == 0
    (path,) = tmp_path.glob("synthetic-tiny/popularity/*.json")
    assert json.loads(path.read_text())["dataset_hash"].startswith(digest)  # the same cache


@pytest.mark.parametrize(
    ("prep", "error"),
    [
        ("bogus=1", "error: unknown preprocessing option(s) bogus ("),
        ("max_len=many", "error: preprocessing option max_len='many': not int"),
        ("max_len", "error: --prep expects key=value, got 'max_len'"),
    ],
)
def test_datasets_prepare_rejects_a_bad_prep_option_in_one_line(
    prep: str, error: str, capsys: pytest.CaptureFixture[str]
):
    # amazon-670k would be a download: the option is refused before any of it starts
    assert main(["datasets", "prepare", "amazon-670k", "--prep", prep]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(error) and captured.err.count("\n") == 1
    assert captured.out == ""


# --------------------------------------------------------------------------- which runs make a row


def test_runs_differing_only_in_run_only_params_make_one_row():
    records = [
        record("parabel", 0.80, seed=0, n_threads=2, n_trees=3),
        record("parabel", 0.70, seed=1, n_threads=16, n_trees=3),
        record("attentionxml", 0.9, seed=0, predict_batch_size=64, parallel_trees=True),
        record("attentionxml", 0.8, seed=1, predict_batch_size=512, parallel_trees=False),
    ]
    table = rows(records)
    assert set(table) == {"parabel", "attentionxml"}  # no "(n_threads=...)" variants
    assert table["parabel"][1:] == ("2", "75.00 ± 7.07")
    assert table["attentionxml"][1:] == ("2", "85.00 ± 7.07")


def test_a_parameter_that_changes_results_still_makes_its_own_row():
    records = [
        record("parabel", 0.80, n_threads=2, n_trees=3),
        record("parabel", 0.70, n_threads=16, n_trees=1),
    ]
    assert set(rows(records)) == {"parabel (n_trees=1)", "parabel (n_trees=3)"}


def test_every_run_only_name_is_a_parameter_some_method_takes():
    """A renamed parameter would silently split rows again: the names must stay real."""
    import inspect

    taken = set()
    for spec in get_plugins().methods:
        taken |= set(inspect.signature(spec.load()).parameters)
    assert RUN_ONLY_PARAMS - taken == set()


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("newer_first", [True, False])
def test_a_seed_run_twice_counts_once_and_the_latest_run_wins(newer_first: bool):
    repeated = [
        record("parabel", 0.90, seed=0, created="2026-12-01T10:00:00Z"),
        record("parabel", 0.50, seed=0, created="2026-11-30T10:00:00Z"),
    ]
    other_seed = record("parabel", 0.70, seed=1, created="2026-11-30T11:00:00Z")
    records = [*(repeated if newer_first else reversed(repeated)), other_seed]
    assert rows(records)["parabel"][1:] == ("2", "80.00 ± 14.14")  # seeds 0 (0.90) and 1
    summary = group_runs(records_frame(records), ["p@1"])
    assert summary.loc[0, "seeds"] == [0, 1] and summary.loc[0, "p@1:n"] == 2


def test_a_repeated_seed_of_another_configuration_is_not_a_duplicate():
    records = [
        record("parabel", 0.90, seed=0, n_trees=3),
        record("parabel", 0.50, seed=0, n_trees=1),
        record("parabel", 0.70, seed=0, n_threads=4, n_trees=1, created="2026-12-02T00:00:00Z"),
    ]
    table = rows(records)
    assert table["parabel (n_trees=3)"][1:] == ("1", "90.00")
    assert table["parabel (n_trees=1)"][1:] == ("1", "70.00")  # n_threads: the same config


def test_compare_counts_a_repeated_seed_once_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    argv = ["run", "popularity", "--dataset", "synthetic-tiny", "--results", str(tmp_path)]
    for seed in ("0", "0", "1"):
        assert main([*argv, "--seed", seed, "--quiet"]) == 0
    assert len(list(tmp_path.glob("synthetic-tiny/popularity/*.json"))) == 3  # all kept
    capsys.readouterr()
    cmd = ["compare", "--results", str(tmp_path), "--no-reported", "--format", "csv"]
    assert main([*cmd, "--metrics", "p@1"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    row = {key.lower(): value for key, value in row.items()}
    assert row["method"] == "popularity" and row["runs"] == "2"


# --------------------------------------------------------------------------- paper tables


@pytest.fixture(scope="module")
def popularity_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("popularity-only")
    argv = ["run", "popularity", "--dataset", "synthetic-tiny", "--results", str(folder)]
    assert main([*argv, "--quiet"]) == 0
    return folder


@pytest.mark.parametrize(
    ("name", "by"), [("table5", "Trees"), ("table7", "K, C"), ("table8", "H"), ("table9", "H")]
)
def test_a_parameter_table_without_attentionxml_runs_says_there_are_none(
    name: str, by: str, popularity_only: Path, capsys: pytest.CaptureFixture[str]
):
    capsys.readouterr()
    assert main(["report", name, "--results", str(popularity_only)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: {name} tabulates runs of attentionxml or attentionxml-noswa by {by}; there "
        "are none in these results (run one first: xmcbench run attentionxml ...)\n"
    )


def test_table2_without_runs_of_a_method_with_symbols_says_there_are_none(
    popularity_only: Path, capsys: pytest.CaptureFixture[str]
):
    capsys.readouterr()
    assert main(["report", "table2", "--results", str(popularity_only)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: table2 tabulates runs of attentionxml or attentionxml-noswa ")
    assert "there are none in these results" in err and err.count("\n") == 1
