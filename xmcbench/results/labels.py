"""Names and cells of tables: metric specs (``p@k``), column labels and order, dataset titles.

Light (no pandas): the metric registry says how each metric is labelled, ordered and ranked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from xmcbench.errors import XMCBenchError
from xmcbench.metrics import DEFAULT_KS
from xmcbench.plugins import metric_registry
from xmcbench.registry import MetricRegistry
from xmcbench.results import reported

__all__ = [
    "dataset_title",
    "expand_metrics",
    "format_cell",
    "higher_is_better",
    "metric_label",
    "metric_registry_or",
    "metric_sort_key",
]


def expand_metrics(
    metrics: str | Iterable[str],
    ks: Sequence[int] = DEFAULT_KS,
    *,
    registry: MetricRegistry | None = None,
) -> list[str]:
    """Record metric names for a spec: ``p@k`` -> p@1, p@3, p@5; ``n@3`` -> ndcg@3; comma lists ok.

    Families are the registered metrics (p, n/ndcg, psp, psn/psndcg and any plugin's); an
    unknown one raises one error naming the known ones, with a did-you-mean hint.
    """
    ks = [_positive_k(k) for k in ks]
    return metric_registry_or(registry).expand(metrics, ks)


def metric_registry_or(registry: MetricRegistry | None) -> MetricRegistry:
    """`registry`, or the metrics this process's plugins registered."""
    return metric_registry() if registry is None else registry


def _positive_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise XMCBenchError(f"k must be a positive integer, got {k!r}")
    return k


def metric_label(name: str, registry: MetricRegistry | None = None) -> str:
    """Column header of a record metric, as the paper writes it: ``ndcg@3`` -> ``N@3``."""
    return metric_registry_or(registry).label(name)


def metric_sort_key(name: str, registry: MetricRegistry | None = None) -> tuple[int, str, int, str]:
    """Column place of a record metric: its family's order (p, ndcg, psp, psndcg, ...), then k."""
    return metric_registry_or(registry).sort_key(name)


def higher_is_better(name: str, registry: MetricRegistry | None = None) -> bool:
    """Whether the best value of a record metric's column is its largest (else its smallest)."""
    return metric_registry_or(registry).higher_is_better(name)


def dataset_title(dataset: str) -> str:
    """``EUR-Lex (eurlex-4k)`` for the paper's datasets, the key itself otherwise."""
    name = reported.dataset_titles().get(dataset)
    return f"{name} ({dataset})" if name else dataset


def format_cell(mean: float, std: float, count: int, *, missing: str = "-") -> str:
    """Percent with 2 decimals; ``mean ± std`` over several runs; `missing` when there is none."""
    if count == 0 or mean is None or math.isnan(mean):
        return missing
    if count > 1:
        return f"{100 * mean:.2f} ± {100 * std:.2f}"
    return f"{100 * mean:.2f}"
