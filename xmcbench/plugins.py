"""Load plugins from the `xmcbench` entry-point group and collect what they register.

Built-in plugins are found exactly like third-party ones. A plugin that fails to import,
implements a hook that does not exist, or whose hook raises is reported with its name and reason,
registers nothing, and every other plugin keeps working.
"""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .registry import (
    PLUGIN_METRIC_ORDER,
    DatasetSpec,
    MethodSpec,
    MetricRegistry,
    MetricSpec,
    Registry,
)
from .studies import TABLE, ReportedSpec, ReportSpec

ENTRY_POINT_GROUP = "xmcbench"
HOOKS: tuple[str, ...] = tuple(
    sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "xmcbench_spec"))
)  # the hooks a plugin may implement


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
    metrics: MetricRegistry = field(default_factory=MetricRegistry)
    reports: Registry[ReportSpec] = field(default_factory=lambda: Registry("report"))
    reported: Registry[ReportedSpec] = field(default_factory=lambda: Registry("reported source"))
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


def _register_metric(plugin: str, registry: MetricRegistry) -> Callable[..., None]:
    def register(
        name: str,
        function: Callable[..., float],
        *,
        needs_propensity: bool = False,
        description: str = "",
        label: str = "",
        order: int = PLUGIN_METRIC_ORDER,
        higher_is_better: bool = True,
        aliases: Iterable[str] = (),
    ) -> None:
        spec = MetricSpec(
            name,
            function,
            needs_propensity,
            description,
            plugin,
            label=label,
            order=order,
            higher_is_better=higher_is_better,
        )
        registry.add(spec, tuple(aliases))

    return register


def _register_report(plugin: str, registry: Registry[ReportSpec]) -> Callable[..., None]:
    def register(
        name: str,
        builder: str,
        *,
        kind: str = TABLE,
        description: str = "",
        needs_measured: bool = True,
    ) -> None:
        registry.add(ReportSpec(name, builder, kind, description, needs_measured, plugin))

    return register


def _register_reported(plugin: str, registry: Registry[ReportedSpec]) -> Callable[..., None]:
    def register(
        name: str,
        loader: str,
        *,
        method_order: Iterable[str] = (),
        dataset_order: Iterable[str] = (),
        dataset_titles: dict[str, str] | None = None,
    ) -> None:
        spec = ReportedSpec(
            name,
            loader,
            tuple(method_order),
            tuple(dataset_order),
            dict(dataset_titles or {}),
            plugin,
        )
        registry.add(spec)

    return register


def load_plugins(
    eps: Iterable[EntryPoint] | None = None,
    modules: Iterable[tuple[str, ModuleType]] = (),
) -> Plugins:
    """Import every entry point of the group (plus `modules`, for tests) and run their hooks.

    Each plugin stands alone: one that fails to import, implements a hook that does not exist
    (a misspelling) or whose hook raises is recorded in `info` with the reason, registers
    nothing at all, and leaves every other plugin loading as usual.
    """
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

    loaded: list[str] = []
    for name, load, dist, version in candidates:
        plugins.info[name] = PluginInfo(name, dist, version)
        try:
            pm.register(load(), name=name)
        except Exception as exc:  # a broken plugin must not break the others
            _fail(plugins, name, _describe(exc))
            continue
        unknown = _unknown_hooks(pm, name)
        if unknown:
            pm.unregister(name=name)
            _fail(plugins, name, _unknown_hooks_reason(unknown))
            continue
        loaded.append(name)
    for name in loaded:
        _run_hooks(pm, name, plugins)
    return plugins


def _fail(plugins: Plugins, name: str, reason: str) -> None:
    """Record why plugin `name` failed (its entry stays, with the reason)."""
    info = plugins.info[name]
    plugins.info[name] = PluginInfo(info.name, info.distribution, info.version, error=reason)


def _unknown_hooks(pm: pluggy.PluginManager, name: str) -> list[str]:
    """Hooks plugin `name` implements that no spec defines (pluggy's check_pending, per plugin)."""
    plugin = pm.get_plugin(name)
    callers = pm.get_hookcallers(plugin) or []
    return sorted(
        caller.name
        for caller in callers
        if not caller.has_spec()
        and any(i.plugin_name == name and not i.optionalhook for i in caller.get_hookimpls())
    )


def _unknown_hooks_reason(hooks: list[str]) -> str:
    """``implements unknown hook 'x' (did you mean 'y'?)``: each with the closest valid hook."""
    named = []
    for hook in hooks:
        closest = difflib.get_close_matches(hook, HOOKS, n=1, cutoff=0.0)
        named.append(f"{hook!r}" + (f" (did you mean {closest[0]!r}?)" if closest else ""))
    plural = "s" if len(hooks) > 1 else ""
    return f"implements unknown hook{plural} {', '.join(named)}; valid hooks: {', '.join(HOOKS)}"


def _run_hooks(pm: pluggy.PluginManager, name: str, plugins: Plugins) -> None:
    """Run plugin `name`'s hooks; if one raises, undo everything the plugin registered."""
    hooks = (
        ("register_methods", _register_method, plugins.methods),
        ("register_datasets", _register_dataset, plugins.datasets),
        ("register_metrics", _register_metric, plugins.metrics),
        ("register_reports", _register_report, plugins.reports),
        ("register_reported", _register_reported, plugins.reported),
    )
    saved = [(registry, registry.snapshot()) for _, _, registry in hooks]
    for hook_name, make_register, registry in hooks:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name != name:
                continue
            register = make_register(name, registry)
            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except Exception as exc:
                for touched, snapshot in saved:
                    touched.restore(snapshot)
                _fail(plugins, name, f"{hook_name} failed: {_describe(exc)}")
                return


@functools.lru_cache(maxsize=1)
def get_plugins() -> Plugins:
    """The plugins of this process, loaded once; failures are warned about on stderr."""
    plugins = load_plugins()
    for failure in plugins.failures:
        print(f"warning: plugin {failure.name!r} failed to load: {failure.error}", file=sys.stderr)
    return plugins


def metric_registry() -> MetricRegistry:
    """The metrics of this process's plugins: what tables, reports and the leaderboard accept."""
    return get_plugins().metrics
