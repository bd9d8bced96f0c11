"""Per-dataset leaderboards: every configuration ranked by mean P@1, as Markdown and a static site.

``README.md`` indexes the datasets; ``<dataset>.md`` ranks its runs with the params that differ
between a method's rows, seeds, metrics, train time, model size and run ids; the HTML pages
(`site.py`) show the same ranking with the dataset's statistics (from its runs and its card)
and the parameters each method's rows share. Records are made portable first (no absolute
paths or host names); the whole folder is written in one atomic step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tabulate import tabulate

from xmcbench.errors import XMCBenchError
from xmcbench.io import atomic_dir
from xmcbench.metrics import DEFAULT_KS
from xmcbench.results.names import is_safe_name
from xmcbench.results.record import RunRecord
from xmcbench.results.site import (
    GENERATOR,
    PSP_CHART,
    DatasetFacts,
    portable_record,
    site_files,
)
from xmcbench.results.store import describe_params, records_frame
from xmcbench.results.tables import (
    Table,
    best_positions,
    dataset_order,
    dataset_title,
    expand_metrics,
    format_cell,
    group_runs,
    higher_is_better,
    markdown_escape,
    metric_label,
    render,
)

__all__ = ["LEADERBOARD_METRICS", "write_leaderboard"]

LEADERBOARD_METRICS = ("p@k", "ndcg@k", "psp@k")
RANK_BY = "p@1"
_TITLE = "# xmcbench leaderboard"  # first line of README.md


def write_leaderboard(
    records: Iterable[Mapping[str, Any]],
    out_dir: Path,
    *,
    metrics: str | Iterable[str] = LEADERBOARD_METRICS,
    ks: Sequence[int] = DEFAULT_KS,
    card_stats: Mapping[str, Mapping[str, float]] | None = None,
) -> list[Path]:
    """Write the leaderboard folder `out_dir` in one atomic step; returns the files written.

    Markdown: ``README.md`` (index) and ``<dataset>.md``. Static site: ``index.html``,
    ``<dataset>.html`` (statistics, sortable and filterable table, PSP@1/3/5 chart) and
    ``runs/<run>.html`` / ``.json``. `card_stats` (dataset -> its card's ``[stats]``) defaults
    to the registered datasets'. An existing `out_dir` is replaced only if it is empty or an
    earlier leaderboard.
    """
    records = [portable_record(r) for r in records]  # nothing local is published
    columns = expand_metrics(metrics, ks)
    stats = list(dict.fromkeys([RANK_BY, *columns, *PSP_CHART]))
    summary = group_runs(records_frame(records), stats)
    boards: list[tuple[Table, pd.DataFrame]] = []
    files: dict[str, str] = {}
    facts: dict[str, DatasetFacts] = {}
    cards = _card_stats() if card_stats is None else card_stats
    for dataset in dataset_order(summary["dataset"].unique()):
        if not is_safe_name(dataset):
            raise XMCBenchError(f"dataset name {dataset!r} cannot be a file name")
        ranked = _ranked(summary[summary["dataset"] == dataset])
        board = _board(dataset, ranked, columns)
        files[f"{dataset}.md"] = _markdown_page(board)
        boards.append((board, ranked))
        runs = [r for r in records if r.dataset == dataset and not r.is_reported]
        facts[dataset] = DatasetFacts(
            stats=dataset_stats(runs, cards.get(dataset, {})), shared=shared_params(ranked)
        )
    if not boards:
        return []
    files["README.md"] = _index_page(boards)
    files.update(site_files(boards, records, columns, RANK_BY, facts))
    out_dir = Path(out_dir)
    _check_replaceable(out_dir)
    with atomic_dir(out_dir) as tmp:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text, encoding="utf-8")
    return [out_dir / name for name in files]


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a folder that is neither empty nor an earlier leaderboard."""
    if out_dir.exists() and not out_dir.is_dir():
        raise XMCBenchError(f"{out_dir}: exists and is not a folder")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    index, readme = out_dir / "index.html", out_dir / "README.md"
    ours = index.is_file() and GENERATOR in index.read_text(encoding="utf-8", errors="replace")
    ours = ours or (readme.is_file() and readme.read_text("utf-8", "replace").startswith(_TITLE))
    if not ours:
        raise XMCBenchError(
            f"{out_dir}: folder exists and is not an xmcbench leaderboard; it would be replaced, "
            "so choose a new or empty folder"
        )


def _ranked(group: pd.DataFrame) -> pd.DataFrame:
    """Best mean P@1 first; configurations without P@1 last; ties by label."""
    return group.sort_values(
        [f"{RANK_BY}:mean", "label"],
        ascending=[not higher_is_better(RANK_BY), True],
        na_position="last",
        kind="stable",
    ).reset_index(drop=True)


def _board(dataset: str, ranked: pd.DataFrame, columns: Sequence[str]) -> Table:
    """The ranking of one dataset as a Table (so every renderer of tables.py can show it).

    Params shows only the parameters that differ between the rows of the same method.
    """
    lead = ["#", "Method", "Params", "Seeds", "Runs"]
    differing = differing_params(ranked)
    rows = [
        (
            str(i + 1),
            r["label"],
            describe_params(differing[i]) or "-",
            ", ".join(str(s) for s in sorted(r["seeds"])) or "-",
            "-" if r["reported"] else str(r["runs"]),
            *(_metric_cell(r, c) for c in columns),
            _duration(r["train_s"]),
            _size(r["model_bytes"]),
            ", ".join(sorted(r["run_ids"])),
        )
        for i, (_, r) in enumerate(ranked.iterrows())
    ]
    best = {
        (i, len(lead) + j)
        for j, c in enumerate(columns)
        for i in best_positions(ranked[f"{c}:mean"], higher_is_better(c))
    }
    notes = [
        f"Ranked by mean {metric_label(RANK_BY)} over runs; values in percent, best in bold.",
        "a ± b: mean ± sample standard deviation over the runs; times and sizes are means.",
        "Params: only those that differ between the rows of a method; a run's page lists all.",
    ]
    if ranked["reported"].any():
        cited = "; ".join(sorted({c for c in ranked["citation"] if c})) or "the literature"
        notes.append(f"[reported]: published in {cited}; no timing or size is known for them.")
    return Table(
        dataset=dataset,
        title=dataset_title(dataset),
        columns=(*lead, *(metric_label(c) for c in columns), "Train time", "Model size", "Run ids"),
        rows=tuple(rows),
        best=frozenset(best),
        notes=tuple(notes),
        align=("right", "left", "left", "left", "right", *["right"] * (len(columns) + 2), "left"),
    )


def _metric_cell(row: pd.Series, metric: str) -> str:
    return format_cell(row[f"{metric}:mean"], row[f"{metric}:std"], int(row[f"{metric}:n"]))


def _duration(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n_bytes: float) -> str:
    if n_bytes is None or math.isnan(n_bytes):
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000:
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.1f} TB"


def _markdown_page(board: Table) -> str:
    head = f"# Leaderboard: {markdown_escape(board.title)}\n\n[All datasets](README.md)"
    return f"{head}\n\n{render([board], 'markdown')}"


def _index_page(boards: Sequence[tuple[Table, pd.DataFrame]]) -> str:
    """README.md: one line per dataset with its leader by P@1 and links to both pages."""
    rows = []
    for board, ranked in boards:
        top = ranked.iloc[0]
        measured = int(ranked.loc[~ranked["reported"], "runs"].sum())
        rows.append(
            (
                markdown_escape(board.title),
                str(len(ranked)),
                str(measured),
                markdown_escape(top["label"]),
                _metric_cell(top, RANK_BY),
                f"[markdown]({board.dataset}.md) · [html]({board.dataset}.html)",
            )
        )
    headers = ["Dataset", "Configurations", "Measured runs", "Leader", metric_label(RANK_BY)]
    headers.append("Pages")
    body = tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True)
    intro = f"One page per dataset ranks every configuration by mean {metric_label(RANK_BY)}."
    return f"{_TITLE}\n\n{intro}\n\n{body}\n"


# --------------------------------------------------------------------------- parameters


def _method_rows(ranked: pd.DataFrame) -> dict[tuple[str, bool], list[int]]:
    """Row positions of each (method, reported): the rows whose parameters are compared."""
    groups: dict[tuple[str, bool], list[int]] = {}
    for i, (method, reported) in enumerate(zip(ranked["method"], ranked["reported"], strict=True)):
        groups.setdefault((str(method), bool(reported)), []).append(i)
    return groups


def differing_params(ranked: pd.DataFrame) -> list[dict[str, Any]]:
    """Per row, the parameters whose values differ between the rows of its method."""
    params = [json.loads(key) for key in ranked["params_key"]]
    shown: list[dict[str, Any]] = [{} for _ in params]
    for rows in _method_rows(ranked).values():
        names = {n for i in rows for n in params[i]}
        varying = {n for n in names if len({_key(params[i].get(n)) for i in rows}) > 1}
        for i in rows:
            shown[i] = {n: v for n, v in params[i].items() if n in varying}
    return shown


def shared_params(ranked: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    """(method, ``key=value, ...``) of the parameters every row of a measured method shares."""
    params = [json.loads(key) for key in ranked["params_key"]]
    shared = []
    for (method, reported), rows in sorted(_method_rows(ranked).items()):
        if reported:
            continue
        first = params[rows[0]]
        same = {
            n: v for n, v in first.items() if all(_key(params[i].get(n)) == _key(v) for i in rows)
        }
        if same:
            shared.append((method, describe_params(same)))
    return tuple(shared)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# --------------------------------------------------------------------------- dataset statistics

# (card key, shown as); counts are integers, averages have two decimals
_CARD_STATS = (
    ("avg_labels_per_doc", "average labels per document"),
    ("avg_docs_per_label", "average documents per label"),
    ("avg_words_train", "average words per training document"),
    ("n_features", "features"),
)


def dataset_stats(
    runs: Sequence[RunRecord], card: Mapping[str, float]
) -> tuple[tuple[str, str, str], ...]:
    """(quantity, in these runs, on the dataset card) rows; ``–`` where one side does not say.

    The runs' counts are the most common over the measured runs; training documents include
    those held out for validation (shown as ``train + valid``).
    """
    train = _common([(r.n_train, r.n_valid) for r in runs if r.n_train is not None])
    run_train = "–"
    if train is not None:
        n_train, n_valid = train
        run_train = _count(n_train + (n_valid or 0))
        if n_valid:
            run_train += f" ({_count(n_train)} + {_count(n_valid)} validation)"
    rows = [
        ("training documents", run_train, _count(card.get("n_train"))),
        ("test documents", _count(_common([r.n_test for r in runs])), _count(card.get("n_test"))),
        ("labels", _count(_common([r.n_labels for r in runs])), _count(card.get("n_labels"))),
    ]
    for key, what in _CARD_STATS:
        if key in card:
            value = card[key]
            rows.append((what, "–", _count(value) if key == "n_features" else f"{value:,.2f}"))
    return tuple(row for row in rows if row[1:] != ("–", "–"))


def _common(values: Sequence[Any]) -> Any:
    """The most common of `values` that is not None (the first of ties), else None."""
    present = [v for v in values if v is not None]
    return max(present, key=present.count) if present else None


def _count(value: float | None) -> str:
    return "–" if value is None else f"{int(value):,}"


def _card_stats() -> dict[str, Mapping[str, float]]:
    """Each registered dataset's card statistics (the paper's Table 1 row, where known)."""
    from xmcbench.plugins import get_plugins

    return {spec.name: dict(spec.stats) for spec in get_plugins().datasets}
