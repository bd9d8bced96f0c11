"""Attention weights of chosen labels over a document's tokens (paper Appendix E, Figure 3).

Flat model: the label's own attention vector. Label tree: the leaf level's network, its
candidates being the labels' leaves (the leaf level holds one attention vector per label);
an ensemble averages its trees' weights, which still sum to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from xmcbench.deep.batching import token_batch
from xmcbench.types import Split

from .levels import TreeModel


@torch.no_grad()
def network_attention(
    net: nn.Module,
    split: Split,
    rows: np.ndarray,
    candidates: np.ndarray,
    max_len: int,
    batch_size: int,
) -> list[np.ndarray]:
    """Per row, (n_tokens, c) attention of `net` for its (len(rows), c) output ids `candidates`.

    Tokens past `max_len` were never read: they weigh 0. Computed in fp32, in eval mode.
    """
    net.eval()
    device = next(net.parameters()).device
    rows, candidates = np.asarray(rows, dtype=np.int64), np.asarray(candidates, dtype=np.int64)
    out: list[np.ndarray] = []
    for start in range(0, len(rows), max(1, batch_size)):
        block = rows[start : start + batch_size]
        tokens, lengths = token_batch(split, block, max_len)  # (b, T), (b,)
        ids = torch.from_numpy(candidates[start : start + batch_size])  # (b, c)
        alpha = net.attention_weights(tokens.to(device), lengths.to(device), ids.to(device))
        alpha = alpha.float().cpu().numpy()  # (b, T, c)
        for i, row in enumerate(block):
            n_tokens = int(split.lengths[row])
            weights = np.zeros((n_tokens, ids.shape[1]), dtype=np.float64)
            seen = min(n_tokens, max_len)
            weights[:seen] = alpha[i, :seen]
            out.append(weights)
    return out


def tree_attention(
    models: Sequence[TreeModel],
    split: Split,
    rows: np.ndarray,
    labels: np.ndarray,
    max_len: int,
    batch_size: int,
) -> list[np.ndarray]:
    """Leaf-level attention of each tree for the labels' leaves, averaged over the trees."""
    total: list[np.ndarray] | None = None
    for model in models:
        leaves = model.tree.leaf_of_label[np.asarray(labels, dtype=np.int64)]  # (b, c)
        weights = network_attention(model.nets[-1], split, rows, leaves, max_len, batch_size)
        total = weights if total is None else [a + b for a, b in zip(total, weights, strict=True)]
    assert total is not None, "a tree method has at least one tree"
    return [block / len(models) for block in total]
