"""HTML pages of the static leaderboard site: index, one sortable page per dataset, one per run.

Pages come from the Jinja2 templates in ``templates/`` (autoescaped; style and scripts inline)
with the PSP chart drawn by matplotlib as inline SVG, link relatively, and so work from
``file://`` with no server and no network. A dataset page has its statistics, a text filter and
a table whose sorting and filtering the chart follows. What is published is portable: no
absolute paths or host names (see `public_record`). `site_files` returns the pages by path.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import pandas as pd

from xmcbench.results.method_meta import method_links
from xmcbench.results.names import is_safe_name
from xmcbench.results.record import RunRecord
from xmcbench.results.tables import (
    Table,
    dataset_title,
    format_cell,
    metric_label,
    metric_sort_key,
)
from xmcbench.results.templating import render_template

__all__ = [
    "GENERATOR",
    "PSP_CHART",
    "DatasetFacts",
    "portable_record",
    "public_record",
    "run_file_names",
    "site_files",
]

GENERATOR = "xmcbench leaderboard"  # <meta name="generator">: marks a folder as ours to replace
PSP_CHART = ("psp@1", "psp@3", "psp@5")  # the grouped bars of each dataset page
_LEAD_KEYS = ("rank", "method", "params", "seeds", "runs")
_TAIL_KEYS = ("train_s", "model_bytes", "run_ids")
_NUMERIC = {"rank", "runs", "train_s", "model_bytes"}
_PARAMS_SHOWN = 60  # longer parameter lists fold into a <details> element
_PRIVATE_ENV = ("host", "hostname", "node", "user", "username", "home", "cwd")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True)
class DatasetFacts:
    """What a dataset page shows beside its ranking: statistics and the parameters rows share."""

    stats: tuple[tuple[str, str, str], ...] = ()  # (quantity, in these runs, dataset card)
    shared: tuple[tuple[str, str], ...] = ()  # (method, parameters all its rows share)


def site_files(
    boards: Sequence[tuple[Table, pd.DataFrame]],
    records: Iterable[RunRecord | Mapping[str, Any]],
    columns: Sequence[str],
    rank_by: str = "p@1",
    facts: Mapping[str, DatasetFacts] | None = None,
) -> dict[str, str]:
    """Relative path -> text of every page: index.html, <dataset>.html, runs/<run>.{html,json}."""
    runs = _unique_runs(records)
    names = run_file_names(runs)
    files = {"index.html": index_page(boards, rank_by)}
    for board, ranked in boards:
        page_facts = (facts or {}).get(board.dataset, DatasetFacts())
        files[f"{board.dataset}.html"] = dataset_page(board, ranked, columns, names, page_facts)
    for record in runs:
        name = names[str(record.run_id)]
        files[f"runs/{name}.json"] = json.dumps(public_record(record), indent=2) + "\n"
        files[f"runs/{name}.html"] = run_page(record, name)
    return files


def run_file_names(records: Iterable[RunRecord | Mapping[str, Any]]) -> dict[str, str]:
    """run id -> file stem: the id itself when it is a safe name, else a stable hash of it."""
    names = {}
    for record in records:
        run_id = str(RunRecord.coerce(record).run_id)
        digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:16]
        names[run_id] = run_id if is_safe_name(run_id, max_len=101) else f"run-{digest}"
    return names


def _unique_runs(records: Iterable[RunRecord | Mapping[str, Any]]) -> list[RunRecord]:
    """Records with a run id, the first of each id only."""
    seen: dict[str, RunRecord] = {}
    for item in records:
        record = RunRecord.coerce(item)
        if record.run_id and str(record.run_id) not in seen:
            seen[str(record.run_id)] = record
    return list(seen.values())


def public_record(record: RunRecord) -> dict[str, Any]:
    """The record as published: no model folder, no host or user, absolute paths cut to names."""
    data = json.loads(record.to_json())  # plain JSON values
    data.pop("model_dir", None)
    if isinstance(data.get("env"), dict):
        data["env"] = {k: v for k, v in data["env"].items() if k.lower() not in _PRIVATE_ENV}
    return _portable(data)


def portable_record(record: RunRecord | Mapping[str, Any]) -> RunRecord:
    """`record` as `public_record` publishes it, still a RunRecord (tables and pages read it)."""
    return RunRecord.from_dict(public_record(RunRecord.coerce(record)))


def _portable(value: Any) -> Any:
    """`value` with every absolute path (POSIX, ``~/``, ``C:\\``) replaced by ``…/<name>``."""
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    if isinstance(value, str) and (value.startswith(("/", "~/")) or _WINDOWS_PATH.match(value)):
        path = PureWindowsPath(value) if _WINDOWS_PATH.match(value) else PurePosixPath(value)
        return f"…/{path.name}" if path.name else "…"
    return value


# --------------------------------------------------------------------------- pages


def _render(template: str, title: str, *, sortable: bool = False, **values: Any) -> str:
    """A page from its template, with the shared head (generator mark, style, sort script)."""
    return render_template(template, generator=GENERATOR, title=title, sortable=sortable, **values)


def index_page(boards: Sequence[tuple[Table, pd.DataFrame]], rank_by: str = "p@1") -> str:
    """The datasets, each with its leader by `rank_by`, linked to its page."""
    rows = []
    for board, ranked in boards:
        top = ranked.iloc[0]
        mean, std = top[f"{rank_by}:mean"], top[f"{rank_by}:std"]
        rows.append(
            {
                "page": f"{board.dataset}.html",
                "markdown": f"{board.dataset}.md",
                "title": board.title,
                "configurations": len(ranked),
                "measured": int(ranked.loc[~ranked["reported"], "runs"].sum()),
                "leader": str(top["label"]),
                "leader_v": _number(mean),
                "leader_cell": format_cell(mean, std, int(top[f"{rank_by}:n"])),
            }
        )
    label = metric_label(rank_by)
    return _render(
        "index.html",
        "xmcbench leaderboard",
        sortable=True,
        rows=rows,
        rank_by=rank_by,
        rank_label=label,
    )


def dataset_page(
    board: Table,
    ranked: pd.DataFrame,
    columns: Sequence[str],
    names: Mapping[str, str],
    facts: DatasetFacts | None = None,
) -> str:
    """A dataset's statistics, its ranking as a sortable, filterable table, and its PSP chart."""
    facts = facts or DatasetFacts()
    keys = [*_LEAD_KEYS, *columns, *_TAIL_KEYS]
    head = [
        {"key": key, "label": label, "numeric": _is_numeric(key, columns)}
        for key, label in zip(keys, board.columns, strict=True)
    ]
    chart, caption, groups = psp_chart(board, ranked)
    rows = []
    for i, (shown, (_, row)) in enumerate(zip(board.rows, ranked.iterrows(), strict=True)):
        cells = [
            _cell(key, shown[j], row, i, (i, j) in board.best, columns, names)
            for j, key in enumerate(keys)
        ]
        rows.append(
            {
                "reported": bool(row["reported"]),
                "cells": cells,
                "group": groups.get(i),
                "filter": f"{row['label']} {shown[keys.index('params')]}".lower(),
            }
        )
    title = f"Leaderboard: {board.title}"
    return _render(
        "dataset.html",
        title,
        sortable=True,
        markdown=f"{board.dataset}.md",
        chart=chart,
        caption=caption,
        head=head,
        rows=rows,
        notes=board.notes,
        stats=facts.stats,
        stats_runs=any(runs != "–" for _, runs, _ in facts.stats),
        shared=facts.shared,
    )


def _cell(
    key: str,
    text: str,
    row: pd.Series,
    position: int,
    best: bool,
    columns: Sequence[str],
    names: Mapping[str, str],
) -> dict[str, Any]:
    """One table cell as the template shows it."""
    mean, _, spread = text.partition(" ± ")
    cell: dict[str, Any] = {
        "text": text,
        "best": best,
        "links": _run_links(row["run_ids"], names) if key == "run_ids" else None,
        "method": None,
        "folded": "",
        "spread": "",
        "sort": _sort_value(key, row, position),
        "css": "params" if key == "params" else _num_class(key, columns),
    }
    if key == "method":
        links = method_links(str(row["method"]))
        mark = " [reported]" if row["reported"] else ""
        cell["method"] = {
            "name": f"{row['method']}{mark}",
            "paper": links.paper,
            "code": links.code,
        }
    elif key == "params" and len(text) > _PARAMS_SHOWN:
        cell["folded"] = text[:_PARAMS_SHOWN].rsplit(", ", 1)[0]
    elif key in columns and spread:
        cell["text"], cell["spread"] = mean, f"± {spread}"
    return cell


def psp_chart(board: Table, ranked: pd.DataFrame) -> tuple[Any, str, dict[int, int]]:
    """PSP@1/3/5 of each configuration as grouped bars (inline SVG), its caption, and which
    chart group each table row is (row position -> group).

    Bars start in the table's ranking order; the page's script moves them when the table is
    sorted or filtered. ("", "", {}) when there are no PSP values.
    """
    wanted = [f"{m}:mean" for m in PSP_CHART]
    if not set(wanted) <= set(ranked.columns):
        return "", "", {}
    groups, positions = [], {}
    for i, (_, row) in enumerate(ranked.iterrows()):
        if any(not math.isnan(float(row[c])) for c in wanted):
            positions[i] = len(groups)
            groups.append((str(row["label"]), [100 * float(row[c]) for c in wanted]))
    if not groups:
        return "", "", {}
    from markupsafe import Markup

    from xmcbench.results.figures import grouped_bars_svg

    series = [metric_label(m) for m in PSP_CHART]
    title = f"Propensity-scored precision on {board.title}"
    caption = (
        f"{title}: {', '.join(series)} (percent, mean over runs) of each configuration, "
        "in the table's order (sorting or filtering the table reorders the bars)."
    )
    return Markup(grouped_bars_svg(groups, series, title)), caption, positions


def run_page(record: RunRecord, name: str) -> str:
    """One run: identity, metrics, parameters, timing and environment; links to its JSON."""
    public = public_record(record)
    run_id, dataset = str(record.run_id), record.dataset
    facts = {
        "run id": run_id,
        "method": record.method,
        "dataset": dataset,
        "source": record.source,
        "citation": record.citation,
        "seed": record.seed,
        "created": record.created_at,
        "plugin": " ".join(str(v) for v in (record.plugin, record.plugin_version) if v),
        "dataset hash": record.dataset_hash,
        "train / valid / test / labels": " / ".join(
            "-" if v is None else str(v) for v in record.split_sizes.values()
        ),
        "model size (bytes)": record.model_bytes,
    }
    metrics = {
        metric_label(k): f"{100 * v:.2f}"
        for k, v in sorted(_metrics(record).items(), key=lambda item: metric_sort_key(item[0]))
    }
    sections = [
        ("Run", facts),
        ("Metrics (percent)", metrics),
        ("Parameters", public.get("params") or {}),
        ("Preprocessing", public.get("prep") or {}),
        ("Timing", public.get("timing") or {}),
        ("Environment", public.get("env") or {}),
    ]
    return _render(
        "run.html",
        f"Run {run_id}",
        dataset=dataset,
        dataset_title=dataset_title(dataset),
        name=name,
        run_id=run_id,
        sections=[{"title": title, "rows": _key_values(values)} for title, values in sections],
    )


# --------------------------------------------------------------------------- cells


def _key_values(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (key, shown value) pairs of a section, empty values left out."""
    return [(str(k), _show(v)) for k, v in values.items() if v is not None and v != ""]


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _metrics(record: RunRecord) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in record.metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _run_links(run_ids: Sequence[Any], names: Mapping[str, str]) -> list[dict[str, str]]:
    """Each run id with the href of its page (empty when it has none), in id order."""
    return [
        {"text": r, "href": f"runs/{names[r]}.html" if r in names else ""}
        for r in sorted(str(r) for r in run_ids if r is not None)
    ]


def _is_numeric(key: str, columns: Sequence[str]) -> bool:
    return key in _NUMERIC or key in columns


def _num_class(key: str, columns: Sequence[str]) -> str:
    return "num" if _is_numeric(key, columns) else ""


def _sort_value(key: str, row: pd.Series, position: int) -> str | None:
    """The number a numeric column sorts by (empty when missing); None for text columns."""
    if key == "rank":
        return str(position + 1)
    if key == "runs":
        return "" if row["reported"] else str(int(row["runs"]))
    if key in ("train_s", "model_bytes"):
        return _number(row[key])
    if f"{key}:mean" in row.index:
        return _number(row[f"{key}:mean"])
    return None


def _number(value: Any) -> str:
    """A float as sortable text; '' when missing (sorted last)."""
    if value is None:
        return ""
    number = float(value)
    return "" if math.isnan(number) else repr(number)
