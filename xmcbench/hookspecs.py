"""The hooks a plugin can implement; each receives a `register` callback.

A plugin implementing any other name (a misspelling) is skipped with a warning naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("xmcbench")
hookimpl = pluggy.HookimplMarker("xmcbench")


@hookspec
def register_methods(register: Callable[..., Any]) -> None:
    """Register methods: ``register(name, "package.module:Class", description=..., params=...)``."""


@hookspec
def register_datasets(register: Callable[..., Any]) -> None:
    """Register datasets: ``register(DatasetSpec(...))``."""


@hookspec
def register_metrics(register: Callable[..., Any]) -> None:
    """Register metrics: ``register(name, function, needs_propensity=..., description=...)``.

    Optional keywords say how tables show the metric: ``label`` (the header before ``@k``,
    default the name upper-cased), ``order`` (place among metrics, built-ins 0-3, default 100),
    ``higher_is_better`` (default True: which end of a column is bold) and ``aliases``.
    """


@hookspec
def register_reports(register: Callable[..., Any]) -> None:
    """Register reports (`xmcbench report NAME`): ``register(name, "package.module:function",
    kind="table" | "figure", description=..., needs_measured=True)``; see `xmcbench.studies`."""


@hookspec
def register_reported(register: Callable[..., Any]) -> None:
    """Register published numbers: ``register(name, "package.module:function", method_order=...,
    dataset_order=..., dataset_titles=...)``; the function returns reported `RunRecord`s."""
