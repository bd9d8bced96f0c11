"""Find one stored run by record path, run id or unique run-id prefix (for predict and explain)."""

from __future__ import annotations

from pathlib import Path

from xmcbench.errors import XMCBenchError
from xmcbench.results.record import RunRecord, read_record, record_files

__all__ = ["find_run"]

_SHOWN = 5  # ambiguous prefixes list this many matching ids


def find_run(run: str, results_dir: Path) -> tuple[Path, RunRecord]:
    """The record file and record a user means by `run`: a ``.json`` path, an id or an id prefix.

    Ids are looked up under ``<results_dir>/<dataset>/<method>/``; a prefix must match exactly one.
    """
    text = run.strip()
    if not text:
        raise XMCBenchError("--run is empty: give a run id, an id prefix or a record path")
    as_path = Path(text).expanduser()
    if as_path.suffix == ".json" or as_path.is_file():
        if not as_path.is_file():
            raise XMCBenchError(f"{as_path}: no such record file")
        return as_path, read_record(as_path)
    root = Path(results_dir)
    candidates = record_files(root)
    exact = [p for p in candidates if p.stem == text]
    matches = exact or [p for p in candidates if p.stem.startswith(text)]
    if not matches:
        where = f"{root}" if root.is_dir() else f"{root} (no such folder)"
        raise XMCBenchError(f"unknown run {text!r}: no record with that id or prefix in {where}")
    if len(matches) > 1:
        ids = sorted(p.stem for p in matches)
        shown = ", ".join(ids[:_SHOWN]) + (
            f", ... ({len(ids)} in all)" if len(ids) > _SHOWN else ""
        )
        raise XMCBenchError(f"run prefix {text!r} is ambiguous: it matches {shown}")
    return matches[0], read_record(matches[0])
