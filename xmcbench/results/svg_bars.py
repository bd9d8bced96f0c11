"""Grouped horizontal bar charts as inline SVG of plain rects and text: no plotting library."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

__all__ = ["grouped_bars_svg"]

COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2")
_BAR, _BAR_GAP, _GROUP_GAP = 11, 2, 12  # bar height, gap between a group's bars and groups
_PLOT_WIDTH, _CHAR, _MAX_LABEL = 440, 7, 48  # plot width, label px per character, label chars
_TOP, _BOTTOM, _RIGHT = 46, 28, 46  # margins: legend above, axis below, value text right


def grouped_bars_svg(
    groups: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str], title: str
) -> str:
    """One group of bars per (label, values) — one bar per series, values in percent.

    Bars run left to right from 0; a missing value (None or NaN) draws no bar. The full label
    of a group is its tooltip when the shown one is cut.
    """
    shown = [_cut(label) for label, _ in groups]
    left = 12 + _CHAR * max([len(s) for s in shown] + [8])
    group_height = len(series) * (_BAR + _BAR_GAP) - _BAR_GAP + _GROUP_GAP
    height = _TOP + max(1, len(groups)) * group_height + _BOTTOM
    width = left + _PLOT_WIDTH + _RIGHT
    values = [v for _, vs in groups for v in vs if _present(v)]
    top, step = _axis(max(values, default=0.0))
    scale = _PLOT_WIDTH / top
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" '
        'font-family="system-ui,sans-serif" font-size="12">',
        f"<title>{esc(title)}</title>",
    ]
    x = left
    for i, name in enumerate(series):  # legend
        parts.append(
            f'<rect x="{x}" y="8" width="12" height="12" fill="{COLOURS[i % len(COLOURS)]}"/>'
            f'<text x="{x + 16}" y="18">{esc(name)}</text>'
        )
        x += 28 + _CHAR * len(name)
    axis_y = height - _BOTTOM
    for tick in range(0, int(top) + 1, step):  # grid and tick labels
        tx = left + tick * scale
        parts.append(
            f'<line x1="{tx:.1f}" y1="{_TOP - 6}" x2="{tx:.1f}" y2="{axis_y}" stroke="#ddd"/>'
            f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#555">{tick}</text>'
        )
    for g, ((label, vals), cut) in enumerate(zip(groups, shown, strict=True)):
        y0 = _TOP + g * group_height
        middle = y0 + (group_height - _GROUP_GAP) / 2 + 4
        tip = f"<title>{esc(label)}</title>" if cut != label else ""
        parts.append(
            f'<text x="{left - 8}" y="{middle:.1f}" text-anchor="end">{tip}{esc(cut)}</text>'
        )
        for i, value in enumerate(vals):
            if not _present(value):
                continue
            y = y0 + i * (_BAR + _BAR_GAP)
            w = max(0.0, float(value)) * scale
            parts.append(
                f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" height="{_BAR}" '
                f'fill="{COLOURS[i % len(COLOURS)]}"><title>{esc(label)}: {esc(series[i])} '
                f"{value:.2f}</title></rect>"
                f'<text x="{left + w + 3:.1f}" y="{y + _BAR - 2}" font-size="10" fill="#333">'
                f"{value:.1f}</text>"
            )
    parts.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{left + _PLOT_WIDTH}" y2="{axis_y}" stroke="#888"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _present(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _cut(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def _axis(largest: float) -> tuple[float, int]:
    """Axis end (a multiple of the step, at least 10) and a tick step giving at most ~6 ticks."""
    steps = (2, 5, 10, 20, 25, 50, 100)
    step = next((s for s in steps if largest / s <= 5), 10 ** len(str(int(largest))))
    return float(max(10, step * math.ceil(largest / step - 1e-9))), step
