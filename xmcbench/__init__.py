"""xmcbench: a benchmark harness for extreme multi-label text classification.

From Python: `load_dataset`, `run`, `evaluate` and `inv_propensity` (see `xmcbench.api`);
they are imported on first use, so ``import xmcbench`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import XMCBenchError
from .hookspecs import hookimpl
from .types import Dataset, Method, Split, TopK

__version__ = "0.1.0"

_LAZY = {  # attribute -> module that defines it, imported when first asked for
    "load_dataset": "xmcbench.api",
    "run": "xmcbench.api",
    "evaluate": "xmcbench.evaluation",
    "inv_propensity": "xmcbench.evaluation",
    "scores_to_topk": "xmcbench.evaluation",
    "EvaluationError": "xmcbench.evaluation",
    "RunRecord": "xmcbench.results.record",
}

__all__ = [
    "Dataset",
    "EvaluationError",
    "Method",
    "RunRecord",
    "Split",
    "TopK",
    "XMCBenchError",
    "__version__",
    "evaluate",
    "hookimpl",
    "inv_propensity",
    "load_dataset",
    "run",
    "scores_to_topk",
]


def __getattr__(name: str) -> Any:
    """The API's functions, imported on first use (they pull in plugins, pluggy and the runner)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'xmcbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
