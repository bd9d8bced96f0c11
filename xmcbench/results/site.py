"""HTML pages of the static leaderboard site: index, one sortable page per dataset, one per run.

Pages come from the Jinja2 templates in ``templates/`` (autoescaped; style and sorting script
inline) with the PSP chart drawn by matplotlib as inline SVG, link relatively, and so work
from ``file://`` with no server and no network. `site_files` returns the pages by path.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from xmcbench.results.names import is_safe_name
from xmcbench.results.tables import (
    Table,
    dataset_title,
    format_cell,
    metric_label,
    metric_sort_key,
)
from xmcbench.results.templating import render_template

__all__ = ["GENERATOR", "PSP_CHART", "run_file_names", "site_files"]

GENERATOR = "xmcbench leaderboard"  # <meta name="generator">: marks a folder as ours to replace
PSP_CHART = ("psp@1", "psp@3", "psp@5")  # the grouped bars of each dataset page
_LEAD_KEYS = ("rank", "method", "params", "seeds", "runs")
_TAIL_KEYS = ("train_s", "model_bytes", "run_ids")
_NUMERIC = {"rank", "runs", "train_s", "model_bytes"}
_PARAMS_SHOWN = 80  # longer parameter lists fold into a <details> element


def site_files(
    boards: Sequence[tuple[Table, pd.DataFrame]],
    records: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    rank_by: str = "p@1",
) -> dict[str, str]:
    """Relative path -> text of every page: index.html, <dataset>.html, runs/<run>.{html,json}."""
    records = _unique_runs(records)
    names = run_file_names(records)
    files = {"index.html": index_page(boards, rank_by)}
    for board, ranked in boards:
        files[f"{board.dataset}.html"] = dataset_page(board, ranked, columns, names)
    for record in records:
        name = names[record["run_id"]]
        public = {k: v for k, v in record.items() if not k.startswith("_")}
        files[f"runs/{name}.json"] = json.dumps(public, indent=2, default=str) + "\n"
        files[f"runs/{name}.html"] = run_page(record, name)
    return files


def run_file_names(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """run id -> file stem: the id itself when it is a safe name, else a stable hash of it."""
    names = {}
    for record in records:
        run_id = str(record["run_id"])
        digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:16]
        names[run_id] = run_id if is_safe_name(run_id, max_len=101) else f"run-{digest}"
    return names


def _unique_runs(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records with a run id, the first of each id only."""
    seen: dict[str, Mapping[str, Any]] = {}
    for record in records:
        if record.get("run_id") and str(record["run_id"]) not in seen:
            seen[str(record["run_id"])] = record
    return list(seen.values())


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
    board: Table, ranked: pd.DataFrame, columns: Sequence[str], names: Mapping[str, str]
) -> str:
    """A dataset's ranking as a sortable table, its PSP@1/3/5 chart and the table notes."""
    keys = [*_LEAD_KEYS, *columns, *_TAIL_KEYS]
    head = [
        {"key": key, "label": label, "numeric": _is_numeric(key, columns)}
        for key, label in zip(keys, board.columns, strict=True)
    ]
    rows = []
    for i, (shown, (_, row)) in enumerate(zip(board.rows, ranked.iterrows(), strict=True)):
        cells = []
        for j, key in enumerate(keys):
            cells.append(
                {
                    "text": shown[j],
                    "best": (i, j) in board.best,
                    "links": _run_links(row["run_ids"], names) if key == "run_ids" else None,
                    "folded": shown[j][:_PARAMS_SHOWN]
                    if key == "params" and len(shown[j]) > _PARAMS_SHOWN
                    else "",
                    "sort": _sort_value(key, row, i),
                    "css": "params" if key == "params" else _num_class(key, columns),
                }
            )
        rows.append({"reported": bool(row["reported"]), "cells": cells})
    title = f"Leaderboard: {board.title}"
    chart, caption = psp_chart(board, ranked)
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
    )


def psp_chart(board: Table, ranked: pd.DataFrame) -> tuple[Any, str]:
    """PSP@1/3/5 of each configuration as grouped bars (inline SVG markup) and their caption.

    Bars follow the ranking order of the table as written; ("", "") when there are no PSP values.
    """
    wanted = [f"{m}:mean" for m in PSP_CHART]
    if not set(wanted) <= set(ranked.columns):
        return "", ""
    groups = [
        (str(row["label"]), [100 * float(row[c]) for c in wanted])
        for _, row in ranked.iterrows()
        if any(not math.isnan(float(row[c])) for c in wanted)
    ]
    if not groups:
        return "", ""
    from markupsafe import Markup

    from xmcbench.results.figures import grouped_bars_svg

    series = [metric_label(m) for m in PSP_CHART]
    title = f"Propensity-scored precision on {board.title}"
    caption = (
        f"{title}: {', '.join(series)} (percent, mean over runs) of each configuration, "
        "in ranking order."
    )
    return Markup(grouped_bars_svg(groups, series, title)), caption  # matplotlib's own SVG


def run_page(record: Mapping[str, Any], name: str) -> str:
    """One run: identity, metrics, parameters, timing and environment; links to its JSON."""
    run_id, dataset = str(record["run_id"]), str(record["dataset"])
    facts = {
        "run id": run_id,
        "method": record.get("method"),
        "dataset": dataset,
        "source": record.get("source") or "measured",
        "citation": record.get("citation"),
        "seed": record.get("seed"),
        "created": record.get("created_at"),
        "plugin": " ".join(str(record[k]) for k in ("plugin", "plugin_version") if record.get(k)),
        "dataset hash": record.get("dataset_hash"),
        "train / valid / test / labels": " / ".join(
            str(record.get(k, "-")) for k in ("n_train", "n_valid", "n_test", "n_labels")
        ),
        "model size (bytes)": record.get("model_bytes"),
    }
    metrics = {
        metric_label(k): f"{100 * v:.2f}"
        for k, v in sorted(_metrics(record).items(), key=lambda item: metric_sort_key(item[0]))
    }
    sections = [
        ("Run", facts),
        ("Metrics (percent)", metrics),
        ("Parameters", record.get("params") or {}),
        ("Preprocessing", record.get("prep") or {}),
        ("Timing", record.get("timing") or {}),
        ("Environment", record.get("env") or {}),
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


def _metrics(record: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in (record.get("metrics") or {}).items()
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
