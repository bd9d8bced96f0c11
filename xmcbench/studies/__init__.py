"""What a study registers: named reports and published numbers, through the plugin hooks.

A study is a plugin (an ``xmcbench`` entry point) implementing ``register_reports`` and/or
``register_reported``. Core code (`xmcbench report`, `compare`, `leaderboard`) reads these specs
from the registry and never names a study's methods, datasets or tables itself. The AttentionXML
paper's Tables 2-9, Figure 2 and reported numbers ship as the study `attentionxml_paper`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xmcbench.registry import import_object

__all__ = ["FIGURE", "TABLE", "ReportSpec", "ReportedSpec"]

TABLE, FIGURE = "table", "figure"


@dataclass(frozen=True)
class ReportSpec:
    """A report `xmcbench report NAME` builds: a lazy builder of tables or of a figure file.

    A table builder is ``builder(records, *, specs, datasets, methods, include_reported)``
    returning a list of `Table`; a figure builder takes ``(records, output, **the same)`` and
    writes `output`. `needs_measured`: refused when the results hold only reported rows.
    """

    name: str
    builder: str  # "package.module:function", imported only when the report is built
    kind: str = TABLE
    description: str = ""
    needs_measured: bool = True
    plugin: str = ""

    def __post_init__(self) -> None:
        if self.kind not in (TABLE, FIGURE):
            raise ValueError(f"report {self.name!r}: kind must be {TABLE!r} or {FIGURE!r}")

    def load(self) -> Any:
        """The builder function."""
        return import_object(self.builder)


@dataclass(frozen=True)
class ReportedSpec:
    """Published numbers as records (``source: "reported"``), shown beside measured runs.

    `loader` returns the records; `method_order` and `dataset_order` are the order tables list
    them in, `dataset_titles` the names they print (``EUR-Lex`` for ``eurlex-4k``).
    """

    name: str
    loader: str  # "package.module:function" -> list of RunRecord
    method_order: tuple[str, ...] = ()
    dataset_order: tuple[str, ...] = ()
    dataset_titles: Mapping[str, str] = field(default_factory=dict)
    plugin: str = ""

    def load(self) -> Any:
        """The loader function."""
        return import_object(self.loader)
