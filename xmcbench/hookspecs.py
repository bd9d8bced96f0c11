"""The three hooks a plugin can implement; each receives a `register` callback.

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
