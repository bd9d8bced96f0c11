"""Commands that list what is loaded: `plugins`, `methods` (or one method's parameters), `metrics`.

Each prints a table, or with `--json` the same facts as JSON (stable keys, numbers as numbers)
for scripts. Listing imports no method module (no torch): a method's module is imported only
to describe it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..plugins import Plugins
from .base import Command
from .console import console, print_json, titled_table

__all__ = [
    "METHODS",
    "METRICS",
    "PLUGINS",
    "add_json_option",
    "method_description",
    "methods_listing",
    "metrics_listing",
    "plugins_listing",
]


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """`--json`: print the listing as JSON (stable keys, numbers as numbers) instead."""
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")


def _plugins_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true", help="exit 1 if a plugin failed")
    add_json_option(parser)


def plugins_listing(plugins: Plugins) -> list[dict[str, Any]]:
    """One entry per plugin, by name: name, distribution, version, status ("ok"/"failed"), error."""
    return [
        {
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "status": "failed" if info.error else "ok",
            "error": info.error,
        }
        for info in sorted(plugins.info.values(), key=lambda p: p.name)
    ]


def cmd_plugins(args: argparse.Namespace, plugins: Plugins) -> int:
    """The loaded plugins and the ones that failed (exit 1 with --strict if one did)."""
    listing = plugins_listing(plugins)
    if args.json:
        print_json(listing)
    else:
        table = titled_table("plugins")
        for column in ("name", "distribution", "version", "status"):
            table.add_column(column)
        for entry in listing:
            failed = f"[red]failed: {entry['error']}[/red]"
            status = failed if entry["error"] else "[green]ok[/green]"
            table.add_row(entry["name"], entry["distribution"], entry["version"], status)
        console.print(table)
    return 1 if plugins.failures and args.strict else 0


def _methods_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="a method: its parameters and presets")
    add_json_option(parser)


def methods_listing(plugins: Plugins) -> list[dict[str, Any]]:
    """One entry per method: name, plugin, aliases, description, fixed (an alias's parameters)."""
    return [
        {
            "name": spec.name,
            "plugin": spec.plugin,
            "aliases": list(plugins.methods.aliases_of(spec.name)),
            "description": spec.description,
            "fixed": dict(spec.params),
        }
        for spec in plugins.methods
    ]


def cmd_methods(args: argparse.Namespace, plugins: Plugins) -> int:
    """List the methods (no method module imported), or describe one: parameters and presets."""
    if args.name:
        return _describe_method(args, plugins)
    listing = methods_listing(plugins)
    if args.json:
        print_json(listing)
        return 0
    table = titled_table("methods")
    for column in ("name", "plugin", "description"):
        table.add_column(column)
    for entry in listing:
        aliases = entry["aliases"]
        name = entry["name"] + (f" ({', '.join(aliases)})" if aliases else "")
        fixed = f" [fixed: {json.dumps(entry['fixed'])}]" if entry["fixed"] else ""
        table.add_row(name, entry["plugin"], entry["description"] + fixed)
    console.print(table)
    return 0


def method_description(spec: Any) -> dict[str, Any]:
    """A method's parameters (name, default, type, help) and presets, from its class.

    The class's `describe()` when it has one, else its constructor's signature; each
    parameter's `help` is its one-line meaning ("" when the method gives none).
    """
    import inspect

    cls = spec.load()  # imports this method's module only
    describe = getattr(cls, "describe", None)
    if callable(describe):
        info = {**describe(fixed=dict(spec.params)), "method": spec.name}
    else:
        params = []
        for name, p in inspect.signature(cls).parameters.items():
            if name in ("seed", "device") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            kind = "" if p.annotation is p.empty else str(p.annotation)
            default = None if p.default is p.empty else p.default
            params.append({"name": name, "default": default, "type": kind})
        info = {"method": spec.name, "fixed": dict(spec.params), "params": params, "presets": {}}
    specs = _param_specs(cls)
    for param in info["params"]:
        param["help"] = param.get("help") or getattr(specs.get(param["name"]), "help", "") or ""
    return info


def _param_specs(cls: type) -> dict[str, Any]:
    """The `Param` specs a method class declares, wherever it keeps them (may be none)."""
    for owner, attribute in ((getattr(cls, "params_class", None), "specs"), (cls, "param_specs")):
        found = getattr(owner, attribute, None) if owner is not None else None
        if isinstance(found, dict):
            return found
    return {}


def _describe_method(args: argparse.Namespace, plugins: Plugins) -> int:
    """`xmcbench methods NAME [--json]`: the parameters table and one row per preset."""
    info = method_description(plugins.methods.get(args.name))
    if args.json:
        print_json(info)
        return 0
    table = titled_table(f"{info['method']} parameters")
    for column in ("name", "default", "type", "meaning"):
        table.add_column(column)
    defaults = {}
    for param in info["params"]:
        defaults[param["name"]] = param["default"]
        table.add_row(
            param["name"],
            json.dumps(param["default"], default=str),
            str(param["type"]),
            param.get("help", ""),
        )
    console.print(table)
    presets = titled_table(f"{info['method']} presets (values that differ from the defaults)")
    for column in ("preset", "values"):
        presets.add_column(column)
    for name, values in info.get("presets", {}).items():
        changed = {k: v for k, v in values.items() if defaults.get(k) != v}
        default = " (default)" if name == info.get("default_preset") else ""
        presets.add_row(name + default, json.dumps(changed, default=str))
    if info.get("presets"):
        console.print(presets)
    for name, note in info.get("notes", {}).items():
        console.print(f"{name}: {note}", highlight=False, soft_wrap=True)
    return 0


def _metrics_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser)


def metrics_listing(plugins: Plugins) -> list[dict[str, Any]]:
    """The metric families in table order: name, label, direction, ks, plugin, description."""
    from ..metrics import DEFAULT_KS

    return [
        {
            "name": spec.name,
            "label": spec.label,
            "higher_is_better": spec.higher_is_better,
            "needs_propensity": spec.needs_propensity,
            "order": spec.order,
            "ks": list(DEFAULT_KS),
            "plugin": spec.plugin,
            "description": spec.description,
        }
        for spec in sorted(plugins.metrics, key=lambda s: (s.order, s.name))
    ]


def cmd_metrics(args: argparse.Namespace, plugins: Plugins) -> int:
    """The registered metrics in table order: label, which end is best, at every default k."""
    from ..metrics import DEFAULT_KS

    listing = metrics_listing(plugins)
    if args.json:
        print_json(listing)
        return 0
    ks = ", ".join(map(str, DEFAULT_KS))
    table = titled_table(f"metrics (each reported at k = {ks})")
    for column in ("name", "label", "best", "plugin", "description"):
        table.add_column(column)
    for entry in listing:
        best = "higher" if entry["higher_is_better"] else "lower"
        row = (entry["name"] + "@k", entry["label"] + "@k", best)
        table.add_row(*row, entry["plugin"], entry["description"])
    console.print(table)
    return 0


PLUGINS = Command(
    "plugins", "list loaded plugins and the ones that failed", cmd_plugins, _plugins_arguments
)
METHODS = Command(
    "methods",
    "list registered methods, or one method's parameters and presets",
    cmd_methods,
    _methods_arguments,
)
METRICS = Command("metrics", "list registered metrics", cmd_metrics, _metrics_arguments)
