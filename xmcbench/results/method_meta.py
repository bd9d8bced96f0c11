"""What plugins declare about their methods, as the reports read it.

Parameter symbols (``tree_k`` prints as ``K``), tags (``tree-based``), the paper's Table 4
column, and which method a table of parameter variations is about, read from the registered
`MethodSpec`s. The one table keyed by method name is `METHOD_LINKS`: the paper and the code of
the methods the bundled plugins run (a plugin's spec may carry its own ``paper_url`` /
``code_url``, which win).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from xmcbench.errors import UnknownNameError, XMCBenchError
from xmcbench.registry import MethodSpec

__all__ = [
    "FLAT_PARAMS",
    "METHOD_LINKS",
    "TREE_TAG",
    "MethodLinks",
    "Specs",
    "describe_labelled",
    "effective_method",
    "is_label_tree_run",
    "labelled_order",
    "method_links",
    "param_text",
    "resolve_subject",
    "symbol",
    "with_params",
]

TREE_TAG = "tree-based"  # methods with this tag are the label-tree methods of Figure 2
Specs = Mapping[str, MethodSpec]


@dataclass(frozen=True)
class MethodLinks:
    """Where a method is described (its paper) and where the code the harness runs lives."""

    paper: str = ""
    code: str = ""


_ATTENTIONXML_PAPER = "https://arxiv.org/abs/1811.01727"  # You et al., NeurIPS 2019
_OMIKUJI = "https://github.com/tomtung/omikuji"  # runs parabel and bonsai here
# the bundled plugins' methods; aliases (``attentionxml-noswa``) share their base's links
METHOD_LINKS: Mapping[str, MethodLinks] = {
    "attentionxml": MethodLinks(_ATTENTIONXML_PAPER, "https://github.com/yourh/AttentionXML"),
    "attentionxml-noswa": MethodLinks(_ATTENTIONXML_PAPER, "https://github.com/yourh/AttentionXML"),
    "attentionxml-1": MethodLinks(_ATTENTIONXML_PAPER, "https://github.com/yourh/AttentionXML"),
    "bilstm-maxpool": MethodLinks(_ATTENTIONXML_PAPER),  # the paper's Table 4 ablation
    "xml-cnn": MethodLinks("https://doi.org/10.1145/3077136.3080834"),  # Liu et al., SIGIR 2017
    "parabel": MethodLinks("https://doi.org/10.1145/3178876.3185998", _OMIKUJI),  # WWW 2018
    "bonsai": MethodLinks("https://doi.org/10.1007/s10994-020-05888-2", _OMIKUJI),  # MLJ 2020
    "plt": MethodLinks(
        "https://proceedings.mlr.press/v48/jasinska16.html",  # Jasinska et al., ICML 2016
        "https://github.com/mwydmuch/napkinXC",
    ),
    "xr-linear": MethodLinks(
        "https://arxiv.org/abs/2010.05878",  # Yu et al., PECOS, JMLR 2022
        "https://github.com/amzn/pecos",
    ),
}


# Tree-based methods that can also run flat (no label tree): the parameter values that make a
# run flat, all of them present and matching (a plugin's spec may carry its own ``flat_params``).
_ATTENTIONXML_FLAT = {"tree_height": (0,), "trees": (1,)}
FLAT_PARAMS: Mapping[str, Mapping[str, tuple[Any, ...]]] = {
    "attentionxml": _ATTENTIONXML_FLAT,
    "attentionxml-noswa": _ATTENTIONXML_FLAT,
}


def is_label_tree_run(method: str, params: Mapping[str, Any], specs: Specs) -> bool:
    """Whether a run of `method` with `params` used a label tree: its plugin tags the method
    ``tree-based`` and the run's parameters are not the flat ones (unknown ones count as a tree,
    as for the paper's reported rows, which carry no parameters)."""
    spec = specs.get(method)
    if spec is None or TREE_TAG not in spec.tags:
        return False
    flat = getattr(spec, "flat_params", None) or FLAT_PARAMS.get(method)
    if not flat:
        return True
    return not all(name in params and params[name] in values for name, values in flat.items())


def method_links(method: str, specs: Specs | None = None) -> MethodLinks:
    """The paper and code links of `method`: its spec's own, else `METHOD_LINKS`, else none."""
    spec = (specs or {}).get(method)
    known = METHOD_LINKS.get(method, MethodLinks())
    paper = getattr(spec, "paper_url", "") or known.paper
    code = getattr(spec, "code_url", "") or known.code
    return MethodLinks(paper, code)


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
