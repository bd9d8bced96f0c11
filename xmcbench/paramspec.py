"""Typed hyperparameters: each method declares its parameters once and checks what it is given.

A method declares a mapping of name to `Param` (built with `integer`, `number`, `fraction`,
`flag`, `choice`, `integers` or `text`, each taking a one-line ``help``: what the parameter
means, shown by `xmcbench methods NAME`) and calls `check_params` on the values it is given: it
returns them normalised (3.0 -> 3 for an integer, 1 -> 1.0 for a number, lists -> tuples) or
raises `ParamError` naming the first bad one. `describe_signature` lists a method's keywords
with their types and meanings for a method class that has no ``describe`` of its own.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ParamError

__all__ = [
    "RUN_ONLY_PARAMS",
    "Param",
    "check_params",
    "choice",
    "describe_signature",
    "flag",
    "fraction",
    "integer",
    "integers",
    "number",
    "result_params",
    "text",
]


@dataclass(frozen=True)
class Param:
    """One hyperparameter's type ("int", "float", "bool", "choice", "ints", "text") and range.

    `low`/`high` bound numbers (and every element of "ints"); `low_open`/`high_open` exclude the
    bound itself; `optional` lets the value be None; `help` is the one-line meaning users read.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False
    help: str = ""

    def with_help(self, text: str) -> Param:
        """This spec with another meaning (a shared parameter a method reads its own way)."""
        return dataclasses.replace(self, help=text)

    def describe(self) -> str:
        """What a valid value is, for the error message: 'a finite number > 0'."""
        if self.kind == "bool":
            what = "true or false"
        elif self.kind == "choice":
            what = "one of " + ", ".join(self.choices)
        elif self.kind == "text":
            what = "a non-empty text"
        else:
            bounded = self.low is not None and self.high is not None
            noun = {"int": "an integer", "float": "a number" if bounded else "a finite number"}.get(
                self.kind, "a list of integers"
            )
            what = noun + self._range(plural=self.kind == "ints")
        return what + (" (or null)" if self.optional else "")

    def _range(self, plural: bool) -> str:
        each = " each" if plural else ""
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{each} in {left}{_num(self.low)}, {_num(self.high)}{right}"
        if self.low is not None:
            return f"{each} {'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{each} {'<' if self.high_open else '<='} {_num(self.high)}"
        return ""

    def check(self, name: str, value: Any) -> Any:
        """`value` normalised to this type, or ParamError naming `name` and the value."""
        if value is None and self.optional:
            return None
        normalised = self._convert(value)
        if normalised is None:
            raise ParamError(f"{name} must be {self.describe()}, got {_shown(value)}")
        return normalised

    def _convert(self, value: Any) -> Any:
        """The value in canonical form, or None when it is not valid."""
        if self.kind == "bool":
            return value if isinstance(value, bool) else None
        if self.kind == "choice":
            return value if isinstance(value, str) and value in self.choices else None
        if self.kind == "text":
            return value if isinstance(value, str) and value.strip() else None
        if self.kind == "ints":
            items = [value] if _is_number(value) else value
            if not isinstance(items, (list, tuple)) or not items:
                return None
            converted = [self._number(item, integral=True) for item in items]
            return None if any(c is None for c in converted) else tuple(converted)
        return self._number(value, integral=self.kind == "int")

    def _number(self, value: Any, integral: bool) -> int | float | None:
        if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
            return None
        if integral:
            if float(value) != int(value):
                return None
            value = int(value)
        else:
            value = float(value)
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return None
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return None
        return value


def integer(
    low: int | None = 1, high: int | None = None, *, optional: bool = False, help: str = ""
) -> Param:
    """An integer in [low, high] (a whole float such as 3.0 counts; 2.5 does not)."""
    return Param("int", low=low, high=high, optional=optional, help=help)


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
    help: str = "",
) -> Param:
    """A finite float in the range (NaN and infinities are refused)."""
    return Param("float", low, high, low_open, high_open, optional=optional, help=help)


def fraction(*, help: str = "") -> Param:
    """A probability-like value in [0, 1): dropout rates."""
    return Param("float", 0.0, 1.0, high_open=True, help=help)


def flag(*, optional: bool = False, help: str = "") -> Param:
    """true or false (not 0 or 1); `optional`: also none (the method decides)."""
    return Param("bool", optional=optional, help=help)


def choice(*options: str, help: str = "") -> Param:
    """One of the given strings."""
    return Param("choice", choices=options, help=help)


def integers(low: int | None = 1, *, optional: bool = False, help: str = "") -> Param:
    """A non-empty list of integers, each >= low (a single integer counts as a list of one)."""
    return Param("ints", low=low, optional=optional, help=help)


def text(*, help: str = "") -> Param:
    """A non-empty string."""
    return Param("text", help=help)


def check_params(values: Mapping[str, Any], specs: Mapping[str, Param]) -> dict[str, Any]:
    """`values` with every one that `specs` declares checked and normalised; others untouched."""
    return {
        name: specs[name].check(name, value) if name in specs else value
        for name, value in values.items()
    }


def describe_signature(
    cls: type, specs: Mapping[str, Param], fixed: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`xmcbench methods NAME` for a class whose keywords are its parameters: each one's
    default, type and meaning from `specs` (its annotation when it has no spec)."""
    params = []
    for name, p in inspect.signature(cls).parameters.items():
        if name in ("seed", "device") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        spec = specs.get(name)
        kind = spec.describe() if spec else "" if p.annotation is p.empty else str(p.annotation)
        default = None if p.default is p.empty else p.default
        params.append(
            {"name": name, "default": default, "type": kind, "help": spec.help if spec else ""}
        )
    return {"method": "", "fixed": dict(fixed or {}), "params": params, "presets": {}}


# Parameters that decide how a run executes, never what it computes: thread counts, where and in
# what batches it predicts, whether an ensemble's trees train at once or one after another, and
# attention_impl (the same maths in another order). Runs that differ only in these are one
# configuration: one row (their seeds averaged) in compare, the leaderboard and the reports, one
# point for sweep. The records keep them. A method must not give one of these names to a
# parameter that changes its results.
RUN_ONLY_PARAMS: frozenset[str] = frozenset(
    {
        "attention_impl",
        "device",
        "n_threads",
        "parallel_trees",
        "predict_batch_size",
        "progress",
    }
)


def result_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` without the run-only ones (`RUN_ONLY_PARAMS`): what decides a run's results."""
    return {name: value for name, value in params.items() if name not in RUN_ONLY_PARAMS}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"{value!r} (text)"
    return repr(value)
