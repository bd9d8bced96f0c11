"""Charts, all drawn with matplotlib: the paper's Figure 2 and the leaderboard site's PSP bars.

Figure 2 shows PSP@1/3/5 of the label-tree methods, one bar-chart panel per dataset. Which
runs used label trees comes from method metadata (the ``tree-based`` tag on MethodSpec, less the
flat runs of `method_meta.FLAT_PARAMS`); ``methods`` overrides it. matplotlib is imported
inside the drawing functions only, with the Agg canvas and no pyplot, so every other command
stays light; a figure file is written atomically (SVG, PNG or PDF). `grouped_bars_svg` draws
a site page's chart as inline SVG text.
"""

from __future__ import annotations

import html
import io
import math
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xmcbench.errors import UnknownNameError, XMCBenchError
from xmcbench.io import atomic_path
from xmcbench.results.method_meta import TREE_TAG, Specs, is_label_tree_run
from xmcbench.results.record import RunRecord
from xmcbench.results.store import records_frame
from xmcbench.results.tables import dataset_order, dataset_title, group_runs, metric_label

__all__ = [
    "FIGURE2_METRICS",
    "FIGURE_FORMATS",
    "FigureInfo",
    "grouped_bars_svg",
    "psp_figure",
    "tree_methods",
]

FIGURE2_METRICS = ("psp@1", "psp@3", "psp@5")
FIGURE_FORMATS = ("svg", "png", "pdf")
_PANEL_COLUMNS = 3
_CHARS_PER_INCH = 12  # legend text at the small font size, roughly
_LEGEND_CHARS = 36  # legend labels wrap at this width
_LINE_INCHES = 0.18  # height of one legend line at the small font size, roughly
_TREE_TITLE = "PSP@k of label tree-based methods"


@dataclass(frozen=True)
class FigureInfo:
    """What was drawn: the file, one panel per dataset, one bar series per configuration."""

    path: Path
    panels: tuple[str, ...]
    series: tuple[str, ...]


def tree_methods(specs: Specs) -> list[str]:
    """Registered methods whose plugin tags them tree-based."""
    return sorted(name for name, spec in specs.items() if TREE_TAG in spec.tags)


def psp_figure(
    records: Iterable[Mapping[str, Any]],
    output: Path,
    *,
    specs: Specs,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
    include_reported: bool = True,
    metrics: Sequence[str] = FIGURE2_METRICS,
    title: str | None = None,
    figure_name: str = "",
) -> FigureInfo:
    """Draw grouped bars (metrics on x, a bar per method configuration) and write `output`.

    Without `methods`, only label-tree runs are drawn: methods their plugin tags tree-based,
    less their flat runs (`method_meta.is_label_tree_run`). Without `datasets`, the datasets
    with measured runs of the methods are drawn (all that have any run when none is measured).
    The paper's numbers are hatched ``[reported]`` bars. The title is `title`, else
    `figure_name` (``Figure 2``, from the study registering the figure) and what the bars are: label
    tree-based methods, or the `methods` chosen when one of them is not.
    """
    output = Path(output)
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise XMCBenchError(
            f"{output}: a figure is written as {', '.join('.' + f for f in FIGURE_FORMATS)}"
        )
    runs = [RunRecord.coerce(r) for r in records]
    if not include_reported:
        runs = [r for r in runs if not r.is_reported]
    chosen_methods = list(methods) if methods else tree_methods(specs)
    if methods:
        known = sorted({r.method for r in runs})
        for method in methods:
            if method not in known:
                raise UnknownNameError("method", method, known)
    runs = [r for r in runs if r.method in chosen_methods]
    tree_runs = [is_label_tree_run(r.method, r.params, specs) for r in runs]
    if not methods:  # flat runs of a tree-based method are no label-tree runs
        runs = [r for r, tree in zip(runs, tree_runs, strict=True) if tree]
    frame = records_frame(runs)
    frame = frame[frame[[m for m in metrics if m in frame]].notna().any(axis=1)]
    if frame.empty:
        what = ", ".join(chosen_methods) if methods else "label tree-based methods"
        raise XMCBenchError(f"no runs of {what or 'any method'} with PSP@k")
    panels = _choose(frame, datasets)
    summary = group_runs(frame[frame["dataset"].isin(panels)], list(metrics))
    if title is None:
        trees = not methods or all(tree_runs)
        what = _TREE_TITLE if trees else f"PSP@k of {', '.join(chosen_methods)}"
        title = f"{figure_name}: {what}" if figure_name else what
    figure = _draw(summary, panels, list(metrics), title)
    with atomic_path(output) as tmp:
        figure.savefig(tmp, format=fmt, metadata=_metadata(fmt))
    return FigureInfo(output, tuple(panels), tuple(dict.fromkeys(summary["label"])))


def _choose(frame: pd.DataFrame, wanted: Iterable[str] | None) -> list[str]:
    if wanted is not None:
        wanted = list(dict.fromkeys(wanted))
        known = sorted(frame["dataset"].unique())
        for name in wanted:
            if name not in known:
                raise UnknownNameError("dataset with runs of these methods", name, known)
        return wanted
    measured = frame.loc[~frame["reported"], "dataset"].unique()
    return dataset_order(measured if len(measured) else frame["dataset"].unique())


def _metadata(fmt: str) -> dict[str, Any]:
    """No creation date in the file, so drawing the same results twice gives the same bytes."""
    return {"Date": None} if fmt == "svg" else {}


def _draw(summary: pd.DataFrame, panels: list[str], metrics: list[str], title: str) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = min(len(panels), _PANEL_COLUMNS)
    nrows = math.ceil(len(panels) / ncols)
    labels = list(dict.fromkeys(summary["label"]))
    # the legend is one column right of the panels; long variant labels wrap, never overlap
    texts = [textwrap.fill(label, _LEGEND_CHARS, subsequent_indent="  ") for label in labels]
    longest = max((len(line) for text in texts for line in text.splitlines()), default=1)
    lines = sum(text.count("\n") + 1 for text in texts)
    width = 4.4 * ncols + longest / _CHARS_PER_INCH + 0.6
    height = max(3.3 * nrows + 0.6, _LINE_INCHES * (lines + len(texts) / 2) + 0.8)
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    palette = _colours(len(labels))
    colour = dict(zip(labels, palette, strict=True))
    handles: dict[str, Any] = {}
    x = np.arange(len(metrics))
    for ax, dataset in zip(axes, panels, strict=False):
        rows = summary[summary["dataset"] == dataset].reset_index(drop=True)
        width = 0.8 / max(len(rows), 1)
        for i, r in rows.iterrows():
            means = np.array([100 * r[f"{m}:mean"] for m in metrics], dtype=float)
            spread = np.array(
                [100 * r[f"{m}:std"] if r[f"{m}:n"] > 1 else 0.0 for m in metrics], dtype=float
            )
            shown = np.isfinite(means)
            errors = np.nan_to_num(spread[shown])
            bars = ax.bar(
                x[shown] + (i - (len(rows) - 1) / 2) * width,
                means[shown],
                width,
                yerr=errors if errors.any() else None,
                color=colour[r["label"]],
                hatch="//" if r["reported"] else None,
                edgecolor="white",
                capsize=2,
            )
            handles.setdefault(r["label"], bars)
        ax.set_xticks(x, [metric_label(m) for m in metrics])
        ax.set_title(dataset_title(dataset), fontsize=10)
        ax.set_ylabel("percent")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for ax in axes[len(panels) :]:
        ax.remove()
    axes[ncols - 1].legend(  # right of the top-right panel, below the title
        [handles[label] for label in labels if label in handles],
        [text for label, text in zip(labels, texts, strict=True) if label in handles],
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        frameon=False,
        fontsize="small",
    )
    figure.suptitle(title)
    return figure


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


# --------------------------------------------------------------------------- site chart

_BAR_GID = "xmcbench-bar-{group}-{series}"
_BAR_GROUP = re.compile(r'<g id="xmcbench-bar-(\d+)-(\d+)">')
_SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "xmcbench", "font.size": 9}


def grouped_bars_svg(
    groups: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str], title: str
) -> str:
    """Inline SVG: a group of horizontal bars per (label, values in percent), one per series.

    Groups run top to bottom in the given order; a missing value (None or NaN) draws no bar.
    Each bar is a ``<g class="bar">`` whose ``<title>`` (its tooltip) reads ``label: series
    value``; the same input always gives the same text. Group N's bars, value labels and tick
    label are ``<g id="xmcbench-{bar,value,tick}-N...">`` and the root's ``data-pitch`` is the
    distance between groups, so a page's script can move a group to another place.
    """
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tips: dict[tuple[int, int], str] = {}
    with rc_context(_SVG_STYLE):
        figure = Figure(figsize=(7.5, 0.9 + 0.42 * len(series) * max(len(groups), 1) / 2))
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        palette = _colours(len(series))
        height = 0.8 / max(len(series), 1)
        y = np.arange(len(groups))
        for i, name in enumerate(series):
            values = np.array([_value(vals[i]) for _, vals in groups], dtype=float)
            shown = np.isfinite(values)
            offsets = y[shown] + (i - (len(series) - 1) / 2) * height
            bars = ax.barh(offsets, values[shown], height, color=palette[i], label=name)
            texts = ax.bar_label(bars, fmt="%.1f", padding=2, fontsize=7)
            for bar, text, g in zip(bars, texts, np.flatnonzero(shown), strict=True):
                bar.set_gid(_BAR_GID.format(group=g, series=i))
                text.set_gid(f"xmcbench-value-{g}-{i}")
                tips[(int(g), i)] = f"{groups[g][0]}: {name} {values[g]:.2f}"
        ax.set_yticks(y, [textwrap.shorten(label, 48, placeholder="…") for label, _ in groups])
        for g, tick in enumerate(ax.get_yticklabels()):
            tick.set_gid(f"xmcbench-tick-{g}")
        ax.tick_params(axis="y", length=0)  # no tick marks: the labels move with their bars
        ax.invert_yaxis()  # the first group on top, like the table
        ax.set_xlabel("percent")
        ax.margins(x=0.08)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=len(series), frameon=False)
        figure.tight_layout()
        top, below = ax.transData.transform([(0, 0), (0, 1)])[:, 1]
        pitch = (top - below) * 72 / figure.dpi  # SVG units (points) from one group to the next
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Title": title})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # inline: no XML declaration or doctype
    svg = svg.replace("<svg ", f'<svg data-pitch="{pitch:.4f}" ', 1)

    def tagged(match: re.Match[str]) -> str:
        tip = html.escape(tips[(int(match[1]), int(match[2]))], quote=False)
        return f'{match[0][:-1]} class="bar"><title>{tip}</title>'

    return _BAR_GROUP.sub(tagged, svg).strip()


def _value(value: float | None) -> float:
    return math.nan if value is None else float(value)
