"""Published numbers, from whatever studies registered them (``register_reported``), as records.

Core code reads reported rows, and the order and names tables give their methods and datasets,
only through here; it never names a study's methods. A study's records carry
``source: "reported"`` and a citation, and hold fractions like measured runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from xmcbench.errors import XMCBenchError
from xmcbench.plugins import Plugins, get_plugins
from xmcbench.results.record import RunRecord

if TYPE_CHECKING:
    from xmcbench.studies import ReportedSpec

__all__ = ["dataset_order", "dataset_titles", "method_order", "reported_records"]


def reported_records(
    *,
    datasets: Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
    plugins: Plugins | None = None,
) -> list[RunRecord]:
    """Every registered study's published rows (optionally only some datasets or methods)."""
    wanted_ds = None if datasets is None else set(datasets)
    wanted_m = None if methods is None else set(methods)
    records = []
    for spec in _sources(plugins):
        for record in spec.load()():
            if not isinstance(record, RunRecord) or not record.is_reported:
                raise XMCBenchError(
                    f"plugin {spec.plugin!r}: reported rows {spec.name!r} must be RunRecords "
                    "with source 'reported'"
                )
            if (wanted_ds is None or record.dataset in wanted_ds) and (
                wanted_m is None or record.method in wanted_m
            ):
                records.append(record)
    return records


def method_order(plugins: Plugins | None = None) -> tuple[str, ...]:
    """The methods the studies list, in their order: tables show these first, in this order."""
    return tuple(dict.fromkeys(m for spec in _sources(plugins) for m in spec.method_order))


def dataset_order(plugins: Plugins | None = None) -> tuple[str, ...]:
    """The datasets the studies list, in their order: tables show these first, in this order."""
    return tuple(dict.fromkeys(d for spec in _sources(plugins) for d in spec.dataset_order))


def dataset_titles(plugins: Plugins | None = None) -> dict[str, str]:
    """Dataset key -> the name a study prints for it (``eurlex-4k`` -> ``EUR-Lex``)."""
    titles: dict[str, str] = {}
    for spec in _sources(plugins):
        for key, title in spec.dataset_titles.items():
            titles.setdefault(key, title)
    return titles


def _sources(plugins: Plugins | None) -> list[ReportedSpec]:
    return list((plugins or get_plugins()).reported)
