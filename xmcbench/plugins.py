"""Load plugins from the `xmcbench` entry-point group and collect what they register.

Built-in plugins are found exactly like third-party ones. A plugin that fails to import, or
whose hook raises, is reported with its name and reason while every other plugin keeps working.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .registry import DatasetSpec, MethodSpec, MetricSpec, Registry

ENTRY_POINT_GROUP = "xmcbench"


@dataclass(frozen=True)
class PluginInfo:
    """A loaded (or failed) plugin: its entry-point name, distribution and version."""

    name: str
    distribution: str = ""
    version: str = ""
    error: str | None = None  # why it failed, None when it loaded


@dataclass
class Plugins:
    """Everything the loaded plugins registered, plus the plugins that failed."""

    methods: Registry[MethodSpec] = field(default_factory=lambda: Registry("method"))
    datasets: Registry[DatasetSpec] = field(default_factory=lambda: Registry("dataset"))
    metrics: Registry[MetricSpec] = field(default_factory=lambda: Registry("metric"))
    info: dict[str, PluginInfo] = field(default_factory=dict)

    @property
    def failures(self) -> list[PluginInfo]:
        return [p for p in self.info.values() if p.error]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _register_method(plugin: str, registry: Registry[MethodSpec]) -> Callable[..., None]:
    def register(
        name: str,
        factory: str,
        *,
        description: str = "",
        params: dict[str, Any] | None = None,
        aliases: Iterable[str] = (),
        param_labels: dict[str, str] | None = None,
        tags: Iterable[str] = (),
        ablation_column: str = "",
    ) -> None:
        spec = MethodSpec(
            name,
            factory,
            description,
            dict(params or {}),
            plugin,
            param_labels=dict(param_labels or {}),
            tags=tuple(tags),
            ablation_column=ablation_column,
        )
        registry.add(spec, tuple(aliases))

    return register


def _register_dataset(plugin: str, registry: Registry[DatasetSpec]) -> Callable[..., None]:
    def register(spec: DatasetSpec) -> None:
        if not isinstance(spec, DatasetSpec):
            raise TypeError(f"register_datasets expects a DatasetSpec, got {type(spec).__name__}")
        spec = DatasetSpec(**{**spec.__dict__, "plugin": plugin})
        registry.add(spec, spec.aliases)

    return register


def _register_metric(plugin: str, registry: Registry[MetricSpec]) -> Callable[..., None]:
    def register(
        name: str,
        function: Callable[..., float],
        *,
        needs_propensity: bool = False,
        description: str = "",
    ) -> None:
        registry.add(MetricSpec(name, function, needs_propensity, description, plugin))

    return register


def load_plugins(
    eps: Iterable[EntryPoint] | None = None,
    modules: Iterable[tuple[str, ModuleType]] = (),
) -> Plugins:
    """Import every entry point of the group (plus `modules`, for tests) and run their hooks."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins()
    eps = entry_points(group=ENTRY_POINT_GROUP) if eps is None else eps
    candidates: list[tuple[str, Callable[[], ModuleType], str, str]] = []
    for ep in sorted(eps, key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else ""
        version = ep.dist.version if ep.dist else ""
        candidates.append((ep.name, ep.load, dist, version))
    for name, module in modules:
        candidates.append((name, lambda module=module: module, "", ""))

    for name, load, dist, version in candidates:
        try:
            pm.register(load(), name=name)
        except Exception as exc:  # a broken plugin must not break the others
            plugins.info[name] = PluginInfo(name, dist, version, error=_describe(exc))
            continue
        plugins.info[name] = PluginInfo(name, dist, version)

    _drop_plugins_with_unknown_hooks(pm, plugins)

    hooks = (
        ("register_methods", _register_method, plugins.methods),
        ("register_datasets", _register_dataset, plugins.datasets),
        ("register_metrics", _register_metric, plugins.metrics),
    )
    for hook_name, make_register, registry in hooks:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if plugins.info[impl.plugin_name].error:
                continue
            try:
                impl.function(register=make_register(impl.plugin_name, registry))
            except Exception as exc:
                previous = plugins.info[impl.plugin_name]
                reason = f"{hook_name} failed: {_describe(exc)}"
                plugins.info[impl.plugin_name] = PluginInfo(
                    previous.name, previous.distribution, previous.version, error=reason
                )
    return plugins


def _drop_plugins_with_unknown_hooks(pm: pluggy.PluginManager, plugins: Plugins) -> None:
    """pluggy's check_pending: a misspelled hook (``register_method``) fails its plugin loudly."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        known = {name for name in dir(hookspecs) if name.startswith("register_")}
        for name, module in list(pm.list_name_plugin()):
            unknown = sorted(
                attr
                for attr in dir(module)
                if attr.startswith("register_")
                and attr not in known
                and hasattr(getattr(module, attr), "xmcbench_impl")
            )
            if unknown:
                pm.unregister(name=name)
                info = plugins.info[name]
                plugins.info[name] = PluginInfo(
                    info.name,
                    info.distribution,
                    info.version,
                    error=f"implements unknown hook {unknown[0]!r} (misspelled? known: "
                    f"{', '.join(sorted(known))})",
                )
        pm.check_pending()


@functools.lru_cache(maxsize=1)
def get_plugins() -> Plugins:
    """The plugins of this process, loaded once; failures are warned about on stderr."""
    plugins = load_plugins()
    for failure in plugins.failures:
        print(f"warning: plugin {failure.name!r} failed to load: {failure.error}", file=sys.stderr)
    return plugins
