"""Find stored runs: one by record path, run id, or a unique prefix or suffix of its id.

Run ids (``20261124T023100Z-7f32b383``) are long to type; anywhere a run is named (`predict`,
`explain`, `fuse`, `results show`) a piece from either end that only one run has is enough, such
as its random tail ``7f32b383``. Also the one check every reader of a results folder makes: that
it holds runs at all.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from xmcbench.errors import XMCBenchError
from xmcbench.results.record import RunRecord, read_record, record_files

__all__ = [
    "NoRunsError",
    "find_run",
    "list_runs",
    "match_run_ids",
    "no_runs_message",
    "require_runs",
]

_SHOWN = 5  # an ambiguous id lists this many candidates


class NoRunsError(XMCBenchError):
    """A results folder that is missing or holds no runs: nothing to show (exit 1, like grep)."""

    exit_code = 1


def match_run_ids(text: str, ids: Sequence[str]) -> list[str]:
    """The ids `text` names: itself if present, else every id that starts or ends with it."""
    if text in ids:
        return [text]
    return [i for i in ids if i.startswith(text) or i.endswith(text)]


def find_run(run: str, results_dir: Path) -> tuple[Path, RunRecord]:
    """The record (file and contents) `run` names: a ``.json`` path, or an id or id piece."""
    text = run.strip()
    if not text:
        raise XMCBenchError("the run is empty: give a run id, a piece of one or a record path")
    as_path = Path(text).expanduser()
    if as_path.suffix == ".json" or as_path.is_file():
        if not as_path.is_file():
            raise XMCBenchError(f"{as_path}: no such record file")
        return as_path, read_record(as_path)
    root = Path(results_dir)
    candidates = record_files(root)
    by_id: dict[str, list[Path]] = {}
    for path in candidates:
        by_id.setdefault(path.stem, []).append(path)
    matches = [p for i in match_run_ids(text, list(by_id)) for p in by_id[i]]
    if not matches:
        where = f"{root}" if root.is_dir() else f"{root} (no such folder)"
        raise XMCBenchError(
            f"unknown run {text!r}: no run id in {where} is, starts or ends with it "
            "(`xmcbench results list` shows them)"
        )
    if len(matches) > 1:
        named = [f"{p.stem} ({p.parent.parent.name}/{p.parent.name})" for p in matches]
        shown = ", ".join(named[:_SHOWN]) + (
            f", ... ({len(named)} in all)" if len(named) > _SHOWN else ""
        )
        raise XMCBenchError(f"run {text!r} is ambiguous: it matches {shown}")
    return matches[0], read_record(matches[0])


def no_runs_message(results_dir: Path | str) -> str:
    """Why a results folder has nothing to show, and how to fill it (one line)."""
    root = Path(results_dir)
    state = "no such folder" if not root.exists() else "no run records in it"
    return (
        f"no runs in {root} ({state}): run `xmcbench run METHOD --dataset NAME --results {root}` "
        "first, or give --results DIR"
    )


def require_runs(records: Sequence[RunRecord], results_dir: Path | str) -> None:
    """Refuse with NoRunsError when `records` holds no measured run (only the paper's rows)."""
    if not any(not record.is_reported for record in records):
        raise NoRunsError(no_runs_message(results_dir))


def list_runs(
    results_dir: Path | str,
    *,
    datasets: Collection[str] | None = None,
    methods: Collection[str] | None = None,
) -> list[RunRecord]:
    """The measured runs under `results_dir`, oldest first, of the given datasets and methods.

    A folder that is missing or holds no runs raises NoRunsError; filters that match none of
    its runs give an empty list. Unreadable files are skipped with a RecordWarning naming them.
    """
    from xmcbench.results.store import load_records  # pandas: only when runs are listed

    records = load_records(Path(results_dir), include_reported=False)
    require_runs(records, results_dir)
    chosen = [
        r
        for r in records
        if (not datasets or r.dataset in datasets) and (not methods or r.method in methods)
    ]
    return sorted(chosen, key=lambda r: (r.created_at or "", r.run_id or ""))
