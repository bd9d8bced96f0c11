"""`Table`: one dataset's comparison, formatted and ready for any renderer (no pandas here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Table", "metric_numbers"]


def metric_numbers(mean: float | None, std: float | None, count: int) -> tuple[float | None, ...]:
    """A metric cell's (mean, std) in percent, as `Table.numbers` holds it; None where none."""
    if count == 0:
        return (None, None)
    return tuple(
        None if value is None or math.isnan(value) else round(100 * float(value), 6)
        for value in (mean, std)
    )


@dataclass(frozen=True)
class Table:
    """One dataset's comparison: header, formatted cells, the (row, column) cells to bold, notes."""

    dataset: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    best: frozenset[tuple[int, int]] = frozenset()
    notes: tuple[str, ...] = ()
    align: tuple[str, ...] | None = None  # per column; default: first left, the rest right
    # spanning headers over consecutive columns, left to right: (label or "", columns spanned)
    column_groups: tuple[tuple[str, int], ...] = ()
    # headers of groups of rows: (index of the group's first row, header), in row order
    row_groups: tuple[tuple[int, str], ...] = ()
    # the numbers behind the cells, for csv (empty: text only): per row, per column, None for a
    # text cell, (count,) for a count, (mean, std) for a metric; None inside means missing
    numbers: tuple[tuple[tuple[float | None, ...] | None, ...], ...] = ()

    def flat_columns(self) -> list[str]:
        """Column names prefixed by their spanning header (``Amazon-670K P@1``): flat formats."""
        return [f"{group} {name}" if group else name for group, name in self._grouped_columns()]

    def _grouped_columns(self) -> list[tuple[str, str]]:
        groups = [label for label, span in self.column_groups for _ in range(span)]
        if len(groups) != len(self.columns):
            groups = [""] * len(self.columns)
        return list(zip(groups, self.columns, strict=True))

    def group_of_row(self) -> list[str]:
        """The row-group header each row falls under ("" before the first group)."""
        out, current, starts = [], "", dict(self.row_groups)
        for i in range(len(self.rows)):
            current = starts.get(i, current)
            out.append(current)
        return out
