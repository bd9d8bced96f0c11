"""Beam search down a label tree (paper §2.3 step 3, Algorithm 4), batched, never docs x labels.

A node's score is the product of the sigmoid probabilities on its path (paper eq. 1); each level
keeps the best `width` nodes, and only their children are scored at the next level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from xmcbench.deep.batching import clipped_lengths, prediction_blocks, token_batch
from xmcbench.deep.engine import autocast
from xmcbench.deep.predict import PredictConfig
from xmcbench.types import Split

from .tree_structure import LabelTree


def beam_step(
    model: nn.Module,
    tree: LabelTree,
    level: int,
    tokens: torch.Tensor,
    lengths: torch.Tensor,
    parents: torch.Tensor | None,
    parent_scores: torch.Tensor | None,
    keep: int,
    precision: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best `keep` level-`level` nodes (b, keep) and path probabilities (b, keep), best first.

    Level 1 scores every node; deeper levels score the children of (b, C) `parents` (-1 = none)
    and multiply by `parent_scores`. Empty slots are node -1 with score 0.
    """
    device = tokens.device
    with autocast(device, precision):
        if level == 1:
            probs = torch.sigmoid(model(tokens, lengths).float())  # (b, N1)
            nodes = None
        else:
            assert parents is not None and parent_scores is not None
            par = parents.cpu().numpy()
            kids = tree.children_padded(level - 1, np.maximum(par, 0))  # (b, C, K)
            kids[par < 0] = -1
            per_parent = kids.shape[2]
            nodes = torch.from_numpy(kids.reshape(len(par), -1)).to(device)  # (b, C*K)
            logits = model(tokens, lengths, nodes.clamp(min=0)).float()  # (b, C*K)
            probs = torch.sigmoid(logits) * parent_scores.repeat_interleave(per_parent, dim=1)
            probs = probs.masked_fill(nodes < 0, -1.0)
    top, idx = torch.topk(probs, min(keep, probs.shape[1]), dim=1)  # (b, keep')
    ids = idx if nodes is None else torch.gather(nodes, 1, idx)
    ids = ids.masked_fill(top < 0, -1)
    top = top.clamp(min=0.0)
    if ids.shape[1] < keep:  # fewer nodes than `keep`
        pad = keep - ids.shape[1]
        ids = torch.cat([ids, ids.new_full((len(ids), pad), -1)], dim=1)
        top = torch.cat([top, top.new_zeros((len(top), pad))], dim=1)
    return ids, top


@torch.no_grad()
def beam_search(
    models: Sequence[nn.Module],
    tree: LabelTree,
    split: Split,
    width: int,
    final_width: int,
    config: PredictConfig,
    first_level: int = 1,
    parents: np.ndarray | None = None,
    parent_scores: np.ndarray | None = None,
    path_exponent: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, final_width) node ids (-1 = none) at level first_level + len(models) - 1 and scores.

    `models[i]` scores level first_level + i; when first_level > 1 the (n, C) beam of the level
    above is given as `parents`/`parent_scores`. Intermediate levels keep `width` nodes. The
    last level's scores are its probabilities times the path's to `path_exponent` (`path.py`).
    """
    for model in models:
        model.eval()
    n = len(split)
    out_nodes = np.full((n, final_width), -1, dtype=np.int64)
    out_scores = np.zeros((n, final_width), dtype=np.float32)
    if n == 0 or not models:
        return out_nodes, out_scores
    lengths = clipped_lengths(split, config.max_len)
    fan_out = max(level.max_children for level in tree.levels)
    widest = max(tree.n_nodes(1) if first_level == 1 else 0, width * fan_out)
    for rows in prediction_blocks(lengths, config.batch_size, max(widest, final_width)):
        tokens, lens = token_batch(split, rows, config.max_len)
        tokens, lens = tokens.to(config.device), lens.to(config.device)
        par = sco = None
        if first_level > 1:
            assert parents is not None and parent_scores is not None
            par = torch.from_numpy(np.asarray(parents[rows], dtype=np.int64)).to(config.device)
            sco = torch.from_numpy(np.asarray(parent_scores[rows], np.float32)).to(config.device)
        for offset, model in enumerate(models):
            level = first_level + offset
            last = offset == len(models) - 1
            keep = final_width if last else width
            if last and sco is not None and path_exponent != 1.0:
                sco = sco.pow(path_exponent)  # (b, C) ancestors' path probabilities, tempered
            par, sco = beam_step(model, tree, level, tokens, lens, par, sco, keep, config.precision)
        assert par is not None and sco is not None
        out_nodes[rows], out_scores[rows] = par.cpu().numpy(), sco.cpu().numpy()
    return out_nodes, out_scores
