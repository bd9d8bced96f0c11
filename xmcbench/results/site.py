"""HTML pages of the static leaderboard site: index, one sortable page per dataset, one per run.

Every page is self-contained (inline style, inline script, inline SVG), links relatively, and so
works from ``file://`` with no server and no network. `site_files` returns the pages by path.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from xmcbench.results.site_assets import GENERATOR, SORT_SCRIPT, STYLE
from xmcbench.results.svg_bars import grouped_bars_svg
from xmcbench.results.tables import (
    Table,
    dataset_title,
    format_cell,
    metric_label,
    metric_sort_key,
)

__all__ = ["PSP_CHART", "run_file_names", "site_files"]

PSP_CHART = ("psp@1", "psp@3", "psp@5")  # the grouped bars of each dataset page
_SAFE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,100}$")
_LEAD_KEYS = ("rank", "method", "params", "seeds", "runs")
_TAIL_KEYS = ("train_s", "model_bytes", "run_ids")
_NUMERIC = {"rank", "runs", "train_s", "model_bytes"}
_PARAMS_SHOWN = 80  # longer parameter lists fold into a <details> element
_NUM_TYPE = ' data-type="num"'  # header attribute: the column sorts as numbers
esc = html.escape


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
        names[run_id] = run_id if _SAFE_FILE.match(run_id) else f"run-{digest}"
    return names


def _unique_runs(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records with a run id, the first of each id only."""
    seen: dict[str, Mapping[str, Any]] = {}
    for record in records:
        if record.get("run_id") and str(record["run_id"]) not in seen:
            seen[str(record["run_id"])] = record
    return list(seen.values())


# --------------------------------------------------------------------------- pages


def _page(title: str, body: str, *, script: bool = False) -> str:
    tail = f"<script>\n{SORT_SCRIPT}\n</script>\n" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="generator" content="{GENERATOR}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n"
        f"{body}{tail}</body>\n</html>\n"
    )


def index_page(boards: Sequence[tuple[Table, pd.DataFrame]], rank_by: str = "p@1") -> str:
    """The datasets, each with its leader by `rank_by`, linked to its page."""
    head = (
        '<tr><th data-key="dataset">Dataset</th>'
        '<th class="num" data-key="configurations" data-type="num">Configurations</th>'
        '<th class="num" data-key="runs" data-type="num">Measured runs</th>'
        '<th data-key="leader">Leader</th>'
        f'<th class="num" data-key="{esc(rank_by)}"{_NUM_TYPE}>{esc(metric_label(rank_by))}</th>'
        '<th data-key="pages">Pages</th></tr>'
    )
    rows = []
    for board, ranked in boards:
        top = ranked.iloc[0]
        measured = int(ranked.loc[~ranked["reported"], "runs"].sum())
        page = f"{board.dataset}.html"
        rows.append(
            f'<tr><td><a href="{esc(page)}">{esc(board.title)}</a></td>'
            f'<td class="num">{len(ranked)}</td><td class="num">{measured}</td>'
            f"<td>{esc(str(top['label']))}</td>"
            f"{_leader_cell(top, rank_by)}"
            f'<td><a href="{esc(page)}">html</a> · '
            f'<a href="{esc(board.dataset)}.md">markdown</a></td></tr>'
        )
    body = (
        "<h1>xmcbench leaderboard</h1>\n"
        f"<p>One page per dataset ranks every configuration by mean {esc(metric_label(rank_by))} "
        "over its runs; click a column header to sort.</p>\n"
        f'<table class="sortable" id="datasets">\n<thead>{head}</thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
    )
    return _page("xmcbench leaderboard", body, script=True)


def dataset_page(
    board: Table, ranked: pd.DataFrame, columns: Sequence[str], names: Mapping[str, str]
) -> str:
    """A dataset's ranking as a sortable table, its PSP@1/3/5 chart and the table notes."""
    keys = [*_LEAD_KEYS, *columns, *_TAIL_KEYS]
    head = "".join(
        f'<th{_num_class(key, columns)} data-key="{esc(key)}"'
        f"{_NUM_TYPE if _is_numeric(key, columns) else ''}>{esc(label)}</th>"
        for key, label in zip(keys, board.columns, strict=True)
    )
    body_rows = []
    for i, (shown, (_, row)) in enumerate(zip(board.rows, ranked.iterrows(), strict=True)):
        cells = []
        for j, key in enumerate(keys):
            text = esc(shown[j])
            if (i, j) in board.best:
                text = f"<b>{text}</b>"
            if key == "run_ids":
                text = _run_links(row["run_ids"], names)
            elif key == "params" and len(shown[j]) > _PARAMS_SHOWN:
                text = _collapsed(shown[j])
            sort = _sort_value(key, row, i)
            data = "" if sort is None else f' data-v="{esc(sort)}"'
            css = ' class="params"' if key == "params" else _num_class(key, columns)
            cells.append(f"<td{css}{data}>{text}</td>")
        reported = ' class="reported"' if row["reported"] else ""
        body_rows.append(f"<tr{reported}>{''.join(cells)}</tr>")
    notes = "".join(f"<p>{esc(n)}</p>\n" for n in board.notes)
    title = f"Leaderboard: {board.title}"
    body = (
        f'<nav><a href="index.html">All datasets</a> · '
        f'<a href="{esc(board.dataset)}.md">Markdown</a></nav>\n'
        f"<h1>{esc(title)}</h1>\n{psp_figure(board, ranked)}\n"
        f'<div class="scroll"><table class="sortable" id="board">\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body_rows)
        + f'\n</tbody>\n</table></div>\n<div class="notes">{notes}'
        "<p>Click a column header to sort; click again to reverse.</p></div>\n"
    )
    return _page(title, body, script=True)


def psp_figure(board: Table, ranked: pd.DataFrame) -> str:
    """PSP@1/3/5 of each configuration as grouped bars, in ranking order (none: a note)."""
    wanted = [f"{m}:mean" for m in PSP_CHART]
    if not set(wanted) <= set(ranked.columns):
        return '<p class="notes">No PSP values for this dataset.</p>'
    groups = [
        (str(row["label"]), [100 * float(row[c]) for c in wanted])
        for _, row in ranked.iterrows()
        if any(not math.isnan(float(row[c])) for c in wanted)
    ]
    if not groups:
        return '<p class="notes">No PSP values for this dataset.</p>'
    series = [metric_label(m) for m in PSP_CHART]
    title = f"Propensity-scored precision on {board.title}"
    svg = grouped_bars_svg(groups, series, title)
    caption = (
        f"{esc(title)}: {', '.join(series)} (percent, mean over runs) of each configuration, "
        "in ranking order."
    )
    return f'<figure id="psp">\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>'


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
    body = (
        f'<nav><a href="../{esc(dataset)}.html">{esc(dataset_title(dataset))}</a> · '
        f'<a href="../index.html">All datasets</a> · <a href="{esc(name)}.json">JSON</a></nav>\n'
        f"<h1>Run {esc(run_id)}</h1>\n"
        + "".join(_key_values(title, values) for title, values in sections)
    )
    return _page(f"Run {run_id}", body)


# --------------------------------------------------------------------------- cells


def _key_values(title: str, values: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{esc(str(k))}</th><td>{esc(_show(v))}</td></tr>"
        for k, v in values.items()
        if v is not None and v != ""
    )
    empty = "<tr><td>none recorded</td></tr>" if not rows else ""
    return f'<h2>{esc(title)}</h2>\n<table class="kv">{rows}{empty}</table>\n'


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _metrics(record: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in (record.get("metrics") or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _collapsed(text: str) -> str:
    """A long parameter list: its start as a clickable summary, the whole list inside."""
    return f"<details><summary>{esc(text[:_PARAMS_SHOWN])}…</summary>{esc(text)}</details>"


def _leader_cell(top: pd.Series, metric: str) -> str:
    mean, std, count = top[f"{metric}:mean"], top[f"{metric}:std"], int(top[f"{metric}:n"])
    return f'<td class="num" data-v="{_number(mean)}">{esc(format_cell(mean, std, count))}</td>'


def _run_links(run_ids: Sequence[Any], names: Mapping[str, str]) -> str:
    links = [
        f'<a href="runs/{esc(names[str(r)])}.html">{esc(str(r))}</a>'
        if str(r) in names
        else esc(str(r))
        for r in sorted(str(r) for r in run_ids if r is not None)
    ]
    return ", ".join(links) or "-"


def _is_numeric(key: str, columns: Sequence[str]) -> bool:
    return key in _NUMERIC or key in columns


def _num_class(key: str, columns: Sequence[str]) -> str:
    return ' class="num"' if _is_numeric(key, columns) else ""


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
