"""What plugins declare about their methods, as the reports read it.

Parameter symbols (``tree_k`` prints as ``K``), tags (``tree-based``), the paper's Table 4
column, and which method a table of parameter variations is about. Core code never names a
method: it only reads this metadata from the registered `MethodSpec`s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from xmcbench.errors import UnknownNameError, XMCBenchError
from xmcbench.registry import MethodSpec

__all__ = [
    "TREE_TAG",
    "Specs",
    "describe_labelled",
    "effective_method",
    "labelled_order",
    "param_text",
    "resolve_subject",
    "symbol",
    "with_params",
]

TREE_TAG = "tree-based"  # methods with this tag are the label-tree methods of Figure 2
Specs = Mapping[str, MethodSpec]


def with_params(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (from records_frame) with a ``params`` column of dicts parsed from params_key."""
    return frame.assign(params=frame["params_key"].map(json.loads))


def symbol(name: str, labels: Mapping[str, str]) -> str:
    """The symbol a plugin declared for a parameter, else the parameter's own name."""
    return labels.get(name, name)


def param_text(value: Any) -> str:
    """A parameter value as a table shows it: ``8``, ``0.001``, ``512,256``, ``true``, ``–``."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(param_text(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def describe_labelled(params: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """``K = 8, C = 160``: declared parameters in the plugin's order, then the others by name."""
    names = labelled_order(params, labels)
    return ", ".join(f"{symbol(n, labels)} = {param_text(params[n])}" for n in names)


def labelled_order(names: Iterable[str], labels: Mapping[str, str]) -> list[str]:
    """Names with a declared symbol first (in declaration order), then the rest alphabetically."""
    names = set(names)
    return [n for n in labels if n in names] + sorted(names - set(labels))


def effective_method(method: str, params: Mapping[str, Any], specs: Specs) -> str:
    """The registered name a run amounts to: a run of ``m`` with ``swa=false`` is the alias of
    ``m`` whose fixed params say so. Aliases share the run's class; the one fixing most wins."""
    spec = specs.get(method)
    if spec is None:
        return method
    matches = [
        other
        for other in specs.values()
        if other.factory == spec.factory
        and other.params
        and all(_same(params.get(k, _ABSENT), v) for k, v in other.params.items())
    ]
    if not matches:
        return method
    return max(matches, key=lambda s: (len(s.params), s.name == method, s.name)).name


_ABSENT = object()


def _same(a: Any, b: Any) -> bool:
    if a is _ABSENT:
        return False
    return json.dumps(a, sort_keys=True, default=list) == json.dumps(
        b, sort_keys=True, default=list
    )


def resolve_subject(
    frame: pd.DataFrame,
    wanted: Sequence[str],
    specs: Specs,
    methods: Sequence[str] | None = None,
) -> tuple[str, list[str]]:
    """The one method a parameter table is about, and the parameter names `wanted` stands for.

    `wanted` holds parameter names or the symbols plugins declare (``K`` for ``tree_k``). A
    method qualifies when one of its measured runs has every wanted parameter (with none
    wanted: when its plugin declares symbols). Several qualifying: the base method (no fixed
    params) declaring all of them is chosen; otherwise `methods` must name one.
    """
    frame = with_params(frame[~frame["reported"]])
    if frame.empty:
        raise XMCBenchError("no measured runs to tabulate")
    runs = {m: list(g["params"]) for m, g in frame.groupby("method", sort=True)}
    if methods:
        if len(methods) != 1:
            raise XMCBenchError(f"a parameter table shows one method; got {', '.join(methods)}")
        if methods[0] not in runs:
            raise UnknownNameError("method with measured runs", methods[0], sorted(runs))
        runs = {methods[0]: runs[methods[0]]}
    found = {}
    for method, params in runs.items():
        names = _names_for(wanted, specs.get(method), params)
        if names is not None and (wanted or _labels(specs, method)):
            found[method] = names
    if not found:
        raise _nothing_found(wanted, runs, methods)
    if len(found) > 1:
        preferred = [m for m in found if _is_base(specs.get(m), found[m], wanted)]
        if len(preferred) != 1:
            what = f"parameter(s) {', '.join(wanted)}" if wanted else "declared parameters"
            raise XMCBenchError(
                f"several methods have runs with {what}: {', '.join(sorted(found))}; "
                "choose one with --methods"
            )
        found = {preferred[0]: found[preferred[0]]}
    ((method, names),) = found.items()
    return method, names


def _labels(specs: Specs, method: str) -> Mapping[str, str]:
    spec = specs.get(method)
    return spec.param_labels if spec is not None else {}


def _names_for(
    wanted: Sequence[str], spec: MethodSpec | None, runs: list[dict[str, Any]]
) -> list[str] | None:
    """Parameter names of `wanted` (names or declared symbols) that one of `runs` all has."""
    by_symbol = {v: k for k, v in (spec.param_labels if spec else {}).items()}
    names = [w if any(w in p for p in runs) else by_symbol.get(w, w) for w in wanted]
    if any(all(n in p for n in names) for p in runs):
        return names
    return None


def _is_base(spec: MethodSpec | None, names: list[str], wanted: Sequence[str]) -> bool:
    if spec is None or spec.params:
        return False
    return all(n in spec.param_labels for n in names) if wanted else bool(spec.param_labels)


def _nothing_found(
    wanted: Sequence[str], runs: Mapping[str, list[dict[str, Any]]], methods: Sequence[str] | None
) -> XMCBenchError:
    where = f"method {methods[0]!r}" if methods else "any method"
    if not wanted:
        return XMCBenchError(
            f"no measured runs of {where} come from a plugin that declares parameter symbols"
        )
    known = sorted({k for params in runs.values() for p in params for k in p})
    missing = [w for w in wanted if not any(w in p for ps in runs.values() for p in ps)]
    if missing and not methods:
        return UnknownNameError("parameter", missing[0], known)
    return XMCBenchError(
        f"no measured run of {where} has all of the parameters {', '.join(wanted)}"
    )
