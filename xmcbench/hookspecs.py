"""The three hooks a plugin can implement; each receives a `register` callback."""

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
    """Register metrics: ``register(name, function, needs_propensity=..., description=...)``."""
