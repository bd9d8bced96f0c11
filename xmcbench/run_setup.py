"""What a run was asked to do (`RunRequest`) and the method built from it.

The runner, the preflight checks and the sweep all build methods the same way; they share this
module so that none of them imports another to do it (no import cycle).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import XMCBenchError
from .metrics import DEFAULT_KS
from .registry import MethodSpec

__all__ = ["RANKING_K", "RunRequest", "build_method", "effective_params"]

RANKING_K = 100  # ranks saved per test document: enough to fuse runs (`xmcbench fuse`)


@dataclass(frozen=True)
class RunRequest:
    """Everything `xmcbench run` was asked to do."""

    method: str
    dataset: str
    params: Mapping[str, Any] = field(default_factory=dict)
    prep: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"
    results_dir: Path = Path("results")
    ks: Sequence[int] = DEFAULT_KS
    ranking_k: int = RANKING_K  # ranks predicted and saved; metrics read the first max(ks)
    progress: bool = True


def build_method(spec: MethodSpec, params: Mapping[str, Any], seed: int, device: str) -> Any:
    """Instantiate a method, turning a misspelled hyperparameter into a clear error."""
    cls = spec.load()
    merged = {**spec.params, **params}
    for name in ("seed", "device"):  # set by the harness (--seed, --device), never as a param
        if name in params:
            raise XMCBenchError(
                f"method {spec.name!r}: {name} is not a hyperparameter; use --{name} instead"
            )
    accepted = inspect.signature(cls).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    unknown = sorted(set(merged) - set(accepted)) if not takes_any else []
    if unknown:
        import difflib

        names = [n for n in accepted if n not in ("seed", "device")]
        details = []
        for name in unknown:
            close = difflib.get_close_matches(name, names, n=1)
            details.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        takes = ", ".join(names) or "none"
        raise XMCBenchError(
            f"method {spec.name!r} has no parameter {', '.join(details)}; it takes: {takes}"
        )
    try:
        return cls(**merged, seed=seed, device=device)
    except (TypeError, ValueError, XMCBenchError) as exc:  # a rejected hyperparameter value
        raise XMCBenchError(f"method {spec.name!r}: {exc}") from exc


def effective_params(method: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """The method's resolved hyperparameters when it can say them, else the ones given."""
    getter = getattr(method, "get_params", None)
    params = dict(getter()) if callable(getter) else dict(given)
    params.pop("seed", None)
    return params
