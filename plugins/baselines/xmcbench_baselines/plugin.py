"""Plugin entry point: registers the baselines as lazy "module:Class" strings (no imports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xmcbench.hookspecs import hookimpl

# Bonsai as omikuji's README reproduces it: regular (unbalanced) k-means, k=100, depth 3.
BONSAI_PARAMS: dict[str, Any] = {"cluster_k": 100, "cluster_balanced": False, "max_depth": 3}
LINEAR_TREE_TAGS = ("tree-based", "linear")  # label trees of linear classifiers (Figure 2)


@hookimpl
def register_methods(register: Callable[..., Any]) -> None:
    """Register parabel, bonsai, plt, xr-linear (linear, CPU) and xml-cnn, bilstm-maxpool (deep)."""
    register(
        "parabel",
        "xmcbench_baselines.omikuji_methods:PartitionedLabelTrees",
        description="Parabel (Prabhu et al. 2018) via omikuji: balanced 2-means label trees, "
        "linear node classifiers on TF-IDF; CPU-only, device ignored",
        tags=LINEAR_TREE_TAGS,
    )
    register(
        "bonsai",
        "xmcbench_baselines.omikuji_methods:PartitionedLabelTrees",
        description="Bonsai (Khandagale et al. 2019) via omikuji: shallow unbalanced k-means "
        "trees (k=100, depth 3) on TF-IDF; CPU-only, device ignored",
        params=BONSAI_PARAMS,
        tags=LINEAR_TREE_TAGS,
    )
    register(
        "plt",
        "xmcbench_baselines.napkin_methods:ProbabilisticLabelTrees",
        description="Probabilistic label trees (Jasinska et al. 2016) via napkinXC, logistic "
        "node classifiers on TF-IDF; CPU-only, device ignored",
        tags=LINEAR_TREE_TAGS,
    )
    register(
        "xr-linear",
        "xmcbench_baselines.pecos_methods:XRLinear",
        description="XR-Linear (Yu et al. 2022) via PECOS: hierarchical k-means tree over PIFA "
        "label embeddings, linear rankers on TF-IDF, beam search; CPU-only, device ignored",
        aliases=("xrlinear",),
        tags=LINEAR_TREE_TAGS,
    )
    register(
        "xml-cnn",
        "xmcbench_baselines.xmlcnn:XMLCNN",
        description="XML-CNN (Liu et al. 2017): convolutions of widths 2/4/8, dynamic max-pooling, "
        "512-unit bottleneck; trained like AttentionXML by xmcbench.deep (torch, CPU or GPU)",
        tags=("deep",),
        ablation_column="XML-CNN",
    )
    register(
        "bilstm-maxpool",
        "xmcbench_baselines.bilstm_maxpool:BiLSTMMaxPool",
        description="AttentionXML's ablation (You et al. 2019, Table 4 'BiLSTM'): its BiLSTM, "
        "max-pooling over time, XML-CNN's fully connected layers (torch, CPU or GPU)",
        tags=("deep",),
        ablation_column="BiLSTM",
    )
