"""`xmcbench report NAME`: a report some study registered (``register_reports``), built from
a results folder. The AttentionXML paper's Tables 2-9 and Figure 2 are the built-in study's.

Output goes to stdout or, atomically, to a file whose suffix can pick the format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xmcbench.errors import XMCBenchError
from xmcbench.io import atomic_path
from xmcbench.plugins import Plugins, get_plugins
from xmcbench.results.formats import FORMATS
from xmcbench.results.method_meta import Specs
from xmcbench.results.tables import Table
from xmcbench.studies import FIGURE, TABLE, ReportSpec

__all__ = [  # plus REPORTS, TABLES, FIGURES: the registered names, read on use
    "format_for",
    "report_names",
    "report_spec",
    "report_tables",
    "write_output",
]

_SUFFIX_FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".tex": "latex",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
}


def report_names(kind: str | None = None, plugins: Plugins | None = None) -> tuple[str, ...]:
    """The registered reports (only tables or only figures, given `kind`), sorted by name."""
    specs = (plugins or get_plugins()).reports
    return tuple(spec.name for spec in specs if kind is None or spec.kind == kind)


def report_spec(name: str, plugins: Plugins | None = None) -> ReportSpec:
    """The registered report `name`; an unknown name is an error suggesting close matches."""
    return (plugins or get_plugins()).reports.get(name)


def report_tables(
    name: str,
    records: Iterable[Mapping[str, Any]],
    *,
    specs: Specs,
    datasets: Iterable[str] | None = None,
    methods: Sequence[str] | None = None,
    include_reported: bool = True,
) -> list[Table]:
    """The tables of the registered table report `name` (the paper's ``table2`` .. ``table9``)."""
    spec = report_spec(name)
    if spec.kind != TABLE:
        raise XMCBenchError(f"{name} is a {spec.kind}, not a table")
    build = spec.load()
    return build(
        list(records),
        specs=specs,
        datasets=datasets,
        methods=methods,
        include_reported=include_reported,
    )


def __getattr__(name: str) -> tuple[str, ...]:
    """``REPORTS``, ``TABLES``, ``FIGURES``: the registered report names, read when asked for."""
    kinds = {"REPORTS": None, "TABLES": TABLE, "FIGURES": FIGURE}
    if name not in kinds:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return report_names(kinds[name])


def format_for(fmt: str | None, output: Path | None) -> str:
    """The format asked for, else the one the output suffix implies, else the terminal table."""
    if fmt:
        return fmt
    if output is not None and output.suffix.lower() in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[output.suffix.lower()]
    if output is not None and output.suffix:
        raise XMCBenchError(
            f"{output}: cannot tell the format from {output.suffix!r}; pass --format "
            f"({', '.join(FORMATS)})"
        )
    return "table"


def write_output(text: str, output: Path) -> Path:
    """Write a rendered report atomically (never seen half-written), with the umask's mode."""
    with atomic_path(output) as tmp:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return output
