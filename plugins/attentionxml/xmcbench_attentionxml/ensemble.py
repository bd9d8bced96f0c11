"""Ensembles of label trees (paper §3.7, Table 5): a label's score is its mean over the trees.

A label outside one tree's beam contributes 0 to that tree's term, as in the paper's code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xmcbench.types import TopK


def average_topk(
    labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], k: int, n_trees: int | None = None
) -> TopK:
    """Top-k of the per-label mean over trees of (n, w_t) label ids (-1 = none) and scores."""
    n_trees = len(labels) if n_trees is None else n_trees
    n = labels[0].shape[0]
    lab = np.concatenate([np.asarray(x, dtype=np.int64) for x in labels], axis=1)  # (n, sum w)
    sco = np.concatenate([np.asarray(x, dtype=np.float64) for x in scores], axis=1)
    rows = np.repeat(np.arange(n, dtype=np.int64), lab.shape[1])
    lab, sco = lab.ravel(), sco.ravel()
    real = lab >= 0
    rows, lab, sco = rows[real], lab[real], sco[real]
    order = np.lexsort((lab, rows))
    rows, lab, sco = rows[order], lab[order], sco[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (lab[1:] != lab[:-1])
    starts = np.flatnonzero(first)
    rows, lab = rows[starts], lab[starts]
    mean = np.add.reduceat(sco, starts) / n_trees if starts.size else sco[:0]  # per (row, label)
    order = np.lexsort((lab, -mean, rows))  # by row, best first, ties by label id
    rows, lab, mean = rows[order], lab[order], mean[order]
    slot = np.arange(rows.size) - np.searchsorted(rows, np.arange(n))[rows]
    keep = slot < k
    out_labels = np.full((n, k), -1, dtype=np.int32)
    out_scores = np.full((n, k), -np.inf, dtype=np.float32)
    out_labels[rows[keep], slot[keep]] = lab[keep]
    out_scores[rows[keep], slot[keep]] = mean[keep]
    return TopK(labels=out_labels, scores=out_scores)
