"""`xmcbench results list|show|export`, run ids by a piece of them, portable model references,
and `compare`/`leaderboard` on a folder without runs."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from xmcbench.cli import main
from xmcbench.errors import XMCBenchError
from xmcbench.results.lookup import find_run, match_run_ids

RUN = ["--dataset", "synthetic-tiny", "--quiet"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two popularity runs (seeds 0 and 1) and their fusion, named by the runs' id tails."""
    folder = tmp_path_factory.mktemp("results")
    for seed in ("0", "1"):
        assert main(["run", "popularity", *RUN, "--seed", seed, "--results", str(folder)]) == 0
    tails = [p.stem[-8:] for p in sorted(folder.glob("synthetic-tiny/popularity/*.json"))]
    assert main(["fuse", *tails, "--results", str(folder)]) == 0
    return folder


def records(results: Path, method: str = "*") -> dict[str, dict]:
    """Run id -> record JSON of the runs in `results`."""
    paths = results.glob(f"synthetic-tiny/{method}/*.json")
    return {p.stem: json.loads(p.read_text()) for p in paths}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str, *expected: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


# ----------------------------------------------------------------------------- list


def test_list_prints_one_row_per_run_with_its_precision(results, capsys) -> None:
    capsys.readouterr()
    code, out, _ = run_cli(capsys, "results", "list", "--results", str(results))
    assert code == 0
    header, *rows = out.strip().splitlines()
    assert header.split()[:7] == ["run", "dataset", "method", "seed", "P@1", "P@3", "P@5"]
    runs = records(results)
    assert len(rows) == len(runs) == 3
    for run_id, record in runs.items():
        (row,) = [r for r in rows if r.startswith(run_id)]
        cells = row.split()
        assert cells[1:3] == ["synthetic-tiny", record["method"]]
        assert cells[4] == f"{100 * record['metrics']['p@1']:.2f}"
        assert cells[6] == f"{100 * record['metrics']['p@5']:.2f}"
    # oldest first, by the time each run finished (to the microsecond: two runs in one second
    # still list in order)
    finished = sorted(runs, key=lambda run_id: runs[run_id]["created_at"])
    assert [r.split()[0] for r in rows] == finished


def test_list_filters_by_method_and_dataset(results, capsys) -> None:
    base = ["results", "list", "--results", str(results), "--json"]
    code, out, _ = run_cli(capsys, *base, "--method", "popularity")
    assert code == 0
    assert {r["run_id"] for r in json.loads(out)} == set(records(results, "popularity"))
    code, out, _ = run_cli(capsys, *base, "--method", "fusion", "--dataset", "synthetic-tiny")
    assert [r["run_id"] for r in json.loads(out)] == list(records(results, "fusion"))
    code, out, _ = run_cli(capsys, *base, "--dataset", "eurlex-4k")
    assert code == 0 and json.loads(out) == []
    code, out, err = run_cli(capsys, "results", "list", "--results", str(results), "--method", "x")
    assert code == 0 and not out and "no runs in" in err and "--method x" in err


def test_list_json_carries_each_runs_metrics_and_record(results, capsys) -> None:
    code, out, _ = run_cli(capsys, "results", "list", "--results", str(results), "--json")
    assert code == 0
    listed = {row["run_id"]: row for row in json.loads(out)}
    for run_id, record in records(results).items():
        row = listed[run_id]
        assert row["metrics"] == record["metrics"] and row["seed"] == record["seed"]
        assert Path(row["record"]).stem == run_id


# ----------------------------------------------------------------------------- show


def test_show_by_id_tail_prints_params_metrics_timing_and_files(results, capsys) -> None:
    ((run_id, record),) = [i for i in records(results, "popularity").items() if i[1]["seed"]]
    code, out, _ = run_cli(capsys, "results", "show", run_id[-8:], "--results", str(results))
    assert code == 0
    pairs = [line.split(None, 1) for line in out.splitlines() if line[:1].strip()]
    fields = {pair[0]: pair[1] for pair in pairs if len(pair) == 2}
    assert fields["run"].strip() == run_id and fields["seed"].strip() == "1"
    assert fields["dataset"].startswith("synthetic-tiny")
    assert f"train_s={record['timing']['train_s']}" in fields["timing"]
    assert fields["record"].strip().endswith(f"{run_id}.json")
    model = Path(os.environ["XMCBENCH_HOME"]) / "models" / run_id
    assert fields["model"].strip() == str(model)
    grid = [line.split() for line in out.splitlines() if line.startswith("  ")]
    assert grid[0][:2] == ["k", "P"]
    assert grid[1][:2] == ["1", f"{100 * record['metrics']['p@1']:.2f}"]


def test_show_json_is_the_record_and_where_its_files_are(results, capsys) -> None:
    run_id, record = sorted(records(results, "popularity").items())[0]
    code, out, _ = run_cli(capsys, "results", "show", run_id, "--results", str(results), "--json")
    assert code == 0
    shown = json.loads(out)
    files = shown.pop("files")
    assert shown == record
    assert files["model"] == str(Path(os.environ["XMCBENCH_HOME"]) / "models" / run_id)
    assert files["model_present"] is True and Path(files["ranking"]).is_file()


# ----------------------------------------------------------------------------- export


def test_export_csv_is_one_row_per_run_with_numeric_metrics(results, tmp_path, capsys) -> None:
    target = tmp_path / "runs.csv"
    code, out, err = run_cli(
        capsys, "results", "export", "--results", str(results), "--output", str(target)
    )
    assert code == 0 and not out and str(target) in err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    runs = records(results)
    assert sorted(r["run_id"] for r in rows) == sorted(runs)
    for row in rows:
        record = runs[row["run_id"]]
        for name, value in record["metrics"].items():
            assert float(row[name]) == pytest.approx(value)
        seed = record["seed"]  # a fused run has none: an empty cell
        assert row["seed"] == ("" if seed is None else str(seed)) and float(row["train_s"]) >= 0
        assert int(row["model_bytes"]) == record["model_bytes"]
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left beside it
    code, out, _ = run_cli(capsys, "results", "export", "--results", str(results))
    assert code == 0 and out == target.read_text()  # stdout: the same table


def test_export_json_is_valid_with_numbers_not_strings(results, capsys) -> None:
    argv = ["results", "export", "--results", str(results), "--format", "json"]
    code, out, _ = run_cli(capsys, *argv, "--method", "popularity")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 2 and {r["method"] for r in rows} == {"popularity"}
    for row in rows:
        assert isinstance(row["p@1"], float) and isinstance(row["seed"], int)


def test_parquet_without_pyarrow_is_one_line_saying_how(results, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` raises ImportError
    target = tmp_path / "runs.parquet"
    code, out, err = run_cli(
        capsys, "results", "export", "--results", str(results), "--output", str(target)
    )
    assert code == 2 and not out
    one_error_line(err, "pyarrow", "pip install pyarrow")
    assert not target.exists()


def test_parquet_export_reads_back(results, tmp_path, capsys) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    target = tmp_path / "runs.parquet"
    assert main(["results", "export", "--results", str(results), "--output", str(target)]) == 0
    frame = pd.read_parquet(target)
    assert sorted(frame["run_id"]) == sorted(records(results))
    assert frame["p@1"].dtype.kind == "f"


# ----------------------------------------------------------------------------- run ids


def test_a_run_is_found_by_a_unique_prefix_or_suffix_of_its_id(results) -> None:
    for run_id in records(results):
        for piece in (run_id, run_id[-8:], run_id[-5:], run_id[:-2]):
            path, record = find_run(piece, results)
            assert path.stem == run_id and record.run_id == run_id
    assert match_run_ids("a1", ["x-a1", "a1-y", "b"]) == ["x-a1", "a1-y"]
    assert match_run_ids("b", ["b", "b-c"]) == ["b"]  # an exact id wins over longer ones


def test_an_ambiguous_piece_lists_the_candidates_and_an_unknown_one_says_so(
    results, capsys
) -> None:
    code, out, err = run_cli(capsys, "results", "show", "2026", "--results", str(results))
    line = one_error_line(err, "'2026' is ambiguous")
    assert code == 2 and not out
    for run_id in records(results):
        assert run_id in line
    code, _, err = run_cli(capsys, "results", "show", "nosuchrun", "--results", str(results))
    assert code == 2
    one_error_line(err, "unknown run 'nosuchrun'")
    with pytest.raises(XMCBenchError, match="ambiguous"):
        find_run("2026", results)


def test_predict_and_fuse_take_an_id_tail(results, tmp_path, capsys) -> None:
    run_id = sorted(records(results, "popularity"))[0]
    argv = ["predict", "--run", run_id[-8:], "--results", str(results), "--text", "kupe"]
    code, out, _ = run_cli(capsys, *argv, "--format", "json")
    assert code == 0 and json.loads(out)["run_id"] == run_id
    fused = records(results, "fusion")
    sources = next(iter(fused.values()))["fusion"]
    assert json.dumps(sources).count("popularity") >= 2  # the fixture fused both by their tails


# ----------------------------------------------------------------------------- portable models


def fresh_home(path: Path) -> Path:
    """An empty XMCBENCH_HOME sharing the test session's prepared datasets."""
    path.mkdir(parents=True)
    (path / "datasets").symlink_to(Path(os.environ["XMCBENCH_HOME"]) / "datasets")
    return path


def test_predict_finds_the_model_from_another_folder_after_the_home_moved(
    results, tmp_path, monkeypatch, capsys
) -> None:
    """A run made with a relative XMCBENCH_HOME stores its model relative to that home."""
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    fresh_home(work / "home")
    elsewhere.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XMCBENCH_HOME", "home")  # relative to the working folder
    runs = work / "results"
    assert main(["run", "popularity", *RUN, "--results", str(runs)]) == 0
    ((run_id, record),) = records(runs).items()
    assert record["model_dir"] == f"models/{run_id}"  # neither absolute nor cwd-relative
    moved = tmp_path / "moved-home"
    (work / "home").rename(moved)
    monkeypatch.setenv("XMCBENCH_HOME", str(moved))
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    argv = ["predict", "--run", run_id[-8:], "--results", str(runs), "--text", "kupe zobe"]
    code, out, err = run_cli(capsys, *argv, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["run_id"] == run_id


def test_an_older_record_with_an_absolute_model_path_still_loads(
    results, tmp_path, monkeypatch, capsys
) -> None:
    run_id, record = sorted(records(results, "popularity").items())[0]
    home = Path(os.environ["XMCBENCH_HOME"])
    old = tmp_path / f"{run_id}.json"
    shutil.copy(results / "synthetic-tiny" / "popularity" / f"{run_id}.topk.npz", tmp_path)
    old.write_text(json.dumps({**record, "model_dir": str(home / "models" / run_id)}))
    argv = ["predict", "--text", "kupe", "--format", "json", "--run"]
    code, out, err = run_cli(capsys, *argv, str(old))
    assert code == 0, err
    # the same run made under a home that has since moved: found under today's home
    old.write_text(json.dumps({**record, "model_dir": f"/gone/home/models/{run_id}"}))
    code, out, err = run_cli(capsys, *argv, str(old))
    assert code == 0 and json.loads(out)["run_id"] == run_id, err
    old.write_text(json.dumps({**record, "model_dir": str(tmp_path / "gone")}))
    code, _, err = run_cli(capsys, *argv, str(old))
    assert code == 2
    one_error_line(err, f"model folder {tmp_path / 'gone'} is missing")


# ----------------------------------------------------------------------------- no runs


@pytest.mark.parametrize(
    "command",
    [
        ["compare"],
        ["compare", "--by", "K"],
        ["leaderboard", "--output", "site"],
        ["results", "list"],
        ["results", "export", "--output", "runs.csv"],
    ],
)
@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_no_runs_is_one_line_exit_1_and_writes_nothing(
    command, folder, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    if folder == "empty":
        (tmp_path / "results" / "synthetic-tiny").mkdir(parents=True)
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run_cli(capsys, *command, "--results", "results")
    assert code == 1 and not out
    one_error_line(err, "no runs in results")
    assert sorted(tmp_path.rglob("*")) == before  # no site, no table, no folder


def test_compare_still_tables_a_folder_with_runs(results, capsys) -> None:
    argv = ["compare", "--results", str(results), "--no-reported", "--format", "csv"]
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and "popularity" in out and "fusion" in out


def test_compare_of_named_datasets_shows_their_reported_rows_without_runs(tmp_path, capsys):
    argv = ["compare", "--results", str(tmp_path / "none"), "--datasets", "eurlex-4k"]
    code, out, _ = run_cli(capsys, *argv, "--metrics", "p@1")
    assert code == 0 and "attentionxml [reported]" in out
