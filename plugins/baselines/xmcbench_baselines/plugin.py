"""Plugin entry point: registers the baselines as lazy "module:Class" strings (no imports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xmcbench.hookspecs import hookimpl

# Bonsai as omikuji's README reproduces it: regular (unbalanced) k-means, k=100, depth 3.
BONSAI_PARAMS: dict[str, Any] = {"cluster_k": 100, "cluster_balanced": False, "max_depth": 3}


@hookimpl
def register_methods(register: Callable[..., Any]) -> None:
    """Register parabel, bonsai (both omikuji) and plt (napkinXC); all CPU-only."""
    register(
        "parabel",
        "xmcbench_baselines.omikuji_methods:PartitionedLabelTrees",
        description="Parabel (Prabhu et al. 2018) via omikuji: balanced 2-means label trees, "
        "linear node classifiers on TF-IDF; CPU-only, device ignored",
    )
    register(
        "bonsai",
        "xmcbench_baselines.omikuji_methods:PartitionedLabelTrees",
        description="Bonsai (Khandagale et al. 2019) via omikuji: shallow unbalanced k-means "
        "trees (k=100, depth 3) on TF-IDF; CPU-only, device ignored",
        params=BONSAI_PARAMS,
    )
    register(
        "plt",
        "xmcbench_baselines.napkin_methods:ProbabilisticLabelTrees",
        description="Probabilistic label trees (Jasinska et al. 2016) via napkinXC, logistic "
        "node classifiers on TF-IDF; CPU-only, device ignored",
    )
