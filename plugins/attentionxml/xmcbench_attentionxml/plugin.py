"""Plugin entry point: registers AttentionXML lazily, so listing methods never imports torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xmcbench.hookspecs import hookimpl

# the paper's symbols (Table 2's columns, Tables 5, 7-9's rows); reports print these
PARAM_LABELS = {
    "epochs": "E",
    "batch_size": "B",
    "hidden_size": "N",
    "fc_sizes": "N_fc",
    "tree_height": "H",
    "tree_k": "K",
    "candidates": "C",
    "trees": "Trees",
}
TAGS = ("tree-based", "deep")


@hookimpl
def register_methods(register: Callable[..., Any]) -> None:
    """Register flat AttentionXML (BiLSTM + one attention vector per label) and its no-SWA alias."""
    register(
        "attentionxml",
        "xmcbench_attentionxml.method:AttentionXML",
        description="AttentionXML (You et al. 2019): BiLSTM + multi-label attention, flat labels",
        param_labels=PARAM_LABELS,
        tags=TAGS,
        ablation_column="BiLSTM+Att+SWA",
    )
    register(
        "attentionxml-noswa",
        "xmcbench_attentionxml.method:AttentionXML",
        description="AttentionXML without stochastic weight averaging (Table 4 'BiLSTM+Att')",
        params={"swa": False},
        param_labels=PARAM_LABELS,
        tags=TAGS,
        ablation_column="BiLSTM+Att",
    )
