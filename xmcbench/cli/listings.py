"""Commands that list what is loaded: `plugins`, `methods` (or one method's parameters), `metrics`.

Listing imports no method module (no torch): a method's module is imported only to describe it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from ..plugins import Plugins
from .base import Command
from .console import console, echo

__all__ = ["METHODS", "METRICS", "PLUGINS", "method_description"]


def _plugins_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true", help="exit 1 if a plugin failed")


def cmd_plugins(args: argparse.Namespace, plugins: Plugins) -> int:
    """The loaded plugins and the ones that failed (exit 1 with --strict if one did)."""
    table = Table(title="plugins")
    for column in ("name", "distribution", "version", "status"):
        table.add_column(column)
    for info in sorted(plugins.info.values(), key=lambda p: p.name):
        status = f"[red]failed: {info.error}[/red]" if info.error else "[green]ok[/green]"
        table.add_row(info.name, info.distribution, info.version, status)
    console.print(table)
    return 1 if plugins.failures and args.strict else 0


def _methods_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="a method: its parameters and presets")
    parser.add_argument("--json", action="store_true", help="print JSON")


def cmd_methods(args: argparse.Namespace, plugins: Plugins) -> int:
    """List the methods (no method module imported), or describe one: parameters and presets."""
    if args.name:
        return _describe_method(args, plugins)
    if args.json:
        listing = [
            {
                "name": spec.name,
                "plugin": spec.plugin,
                "aliases": plugins.methods.aliases_of(spec.name),
                "description": spec.description,
                "fixed": dict(spec.params),
            }
            for spec in plugins.methods
        ]
        echo(json.dumps(listing, indent=2, default=str))
        return 0
    table = Table(title="methods")
    for column in ("name", "plugin", "description"):
        table.add_column(column)
    for spec in plugins.methods:
        aliases = plugins.methods.aliases_of(spec.name)
        name = spec.name + (f" ({', '.join(aliases)})" if aliases else "")
        fixed = f" [fixed: {json.dumps(dict(spec.params))}]" if spec.params else ""
        table.add_row(name, spec.plugin, spec.description + fixed)
    console.print(table)
    return 0


def method_description(spec: Any) -> dict[str, Any]:
    """A method's parameters and presets: its class's `describe()`, else its constructor's."""
    import inspect

    cls = spec.load()  # imports this method's module only
    describe = getattr(cls, "describe", None)
    if callable(describe):
        return {**describe(fixed=dict(spec.params)), "method": spec.name}
    params = []
    for name, p in inspect.signature(cls).parameters.items():
        if name in ("seed", "device") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        kind = "" if p.annotation is p.empty else str(p.annotation)
        default = None if p.default is p.empty else p.default
        params.append({"name": name, "default": default, "type": kind})
    return {"method": spec.name, "fixed": dict(spec.params), "params": params, "presets": {}}


def _describe_method(args: argparse.Namespace, plugins: Plugins) -> int:
    """`xmcbench methods NAME [--json]`: the parameters table and one row per preset."""
    info = method_description(plugins.methods.get(args.name))
    if args.json:
        echo(json.dumps(info, indent=2, default=str))
        return 0
    table = Table(title=f"{info['method']} parameters")
    for column in ("name", "default", "type"):
        table.add_column(column)
    defaults = {}
    for param in info["params"]:
        defaults[param["name"]] = param["default"]
        table.add_row(param["name"], json.dumps(param["default"], default=str), str(param["type"]))
    console.print(table)
    presets = Table(title=f"{info['method']} presets (values that differ from the defaults)")
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


def cmd_metrics(args: argparse.Namespace, plugins: Plugins) -> int:
    """The registered metrics in table order: label, which end is best, at every default k."""
    from ..metrics import DEFAULT_KS

    table = Table(title=f"metrics (each reported at k = {', '.join(map(str, DEFAULT_KS))})")
    for column in ("name", "label", "best", "plugin", "description"):
        table.add_column(column)
    for spec in sorted(plugins.metrics, key=lambda s: (s.order, s.name)):
        best = "higher" if spec.higher_is_better else "lower"
        table.add_row(spec.name + "@k", spec.label + "@k", best, spec.plugin, spec.description)
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
METRICS = Command("metrics", "list registered metrics", cmd_metrics)
