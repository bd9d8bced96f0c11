"""Training candidates of the levels below the first (paper §2.3, Algorithm 3).

For level d > 1 every document keeps C parents at level d-1: its positive nodes first (best
predicted first), then the nodes of level d-1's beam by predicted score. The children of those
parents, cut or padded with sampled negatives to one fixed count, are the level-d candidates, so
training batches stay rectangular: (batch, count), never (batch, nodes).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch

from xmcbench.deep.batching import Batch, bucketed_batches, clipped_lengths, token_batch
from xmcbench.types import Split

from .tree_structure import LabelTree


def is_member(rows: np.ndarray, nodes: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """Whether truth[rows[i], nodes[i]] is set, for any (rows, nodes) shape; -1 nodes: False."""
    truth = sp.csr_matrix(truth)
    truth.sort_indices()
    width = np.int64(truth.shape[1])
    counts = np.diff(truth.indptr)
    keys = np.repeat(np.arange(truth.shape[0], dtype=np.int64), counts) * width + truth.indices
    query = np.asarray(rows, dtype=np.int64) * width + np.asarray(nodes, dtype=np.int64)
    pos = np.minimum(np.searchsorted(keys, query), max(keys.size - 1, 0))
    hit = keys[pos] == query if keys.size else np.zeros(query.shape, dtype=bool)
    return hit & (np.asarray(nodes) >= 0)


def select_parents(beam_nodes: np.ndarray, truth: sp.csr_matrix, count: int) -> np.ndarray:
    """(n, count) parents per document: positives of `truth` first, then the beam's nodes.

    `beam_nodes` (n, w) is level d-1's beam, best first (-1 = empty). Positives found in the beam
    keep its order, the others follow them; rows with fewer distinct nodes are padded with -1.
    """
    beam_nodes = np.asarray(beam_nodes, dtype=np.int64)
    truth = sp.csr_matrix(truth)
    n, width = beam_nodes.shape
    beam_rows = np.repeat(np.arange(n, dtype=np.int64), width)  # (n * w,)
    flat = beam_nodes.ravel()
    positive = is_member(beam_rows, flat, truth)
    # rank: positive in beam < positive outside beam < negative in beam; by beam position within
    beam_rank = np.tile(np.arange(width, dtype=np.int64), n) + np.where(positive, 0, 2 * width)
    pos_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(truth.indptr))
    rows = np.concatenate([beam_rows[flat >= 0], pos_rows])
    nodes = np.concatenate([flat[flat >= 0], truth.indices.astype(np.int64)])
    ranks = np.concatenate([beam_rank[flat >= 0], np.full(pos_rows.size, width, dtype=np.int64)])
    order = np.lexsort((ranks, nodes, rows))  # by row, node, rank
    rows, nodes, ranks = rows[order], nodes[order], ranks[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (nodes[1:] != nodes[:-1])
    rows, nodes, ranks = rows[first], nodes[first], ranks[first]  # distinct (row, node), best rank
    order = np.lexsort((nodes, ranks, rows))  # by row, then rank
    rows, nodes = rows[order], nodes[order]
    starts = np.searchsorted(rows, np.arange(n))
    slot = np.arange(rows.size) - starts[rows]
    keep = slot < count
    out = np.full((n, count), -1, dtype=np.int64)
    out[rows[keep], slot[keep]] = nodes[keep]
    return out


def expand_candidates(
    tree: LabelTree, level: int, parents: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """(b, count) level-`level` candidates: children of (b, C) level-1 `parents` in their order,
    cut to `count` or padded with uniformly sampled nodes (extra negatives, or rare positives)."""
    parents = np.asarray(parents, dtype=np.int64)
    kids = tree.children_padded(level - 1, np.maximum(parents, 0))  # (b, C, K)
    kids[parents < 0] = -1
    kids = kids.reshape(len(parents), -1)  # (b, C*K)
    order = np.argsort(kids < 0, axis=1, kind="stable")  # real children first, order kept
    kids = np.take_along_axis(kids, order, axis=1)
    if kids.shape[1] >= count:
        kids = kids[:, :count]
    else:
        kids = np.pad(kids, ((0, 0), (0, count - kids.shape[1])), constant_values=-1)
    empty = kids < 0
    kids[empty] = rng.integers(0, tree.n_nodes(level), size=int(empty.sum()))
    return kids


class CandidateTrainingData:
    """Training batches of level `level` > 1: (b, count) candidates and their 0/1 targets.

    Candidates are expanded per batch from the stored (n, C) parents, so memory is O(n x C);
    the sampled padding depends only on (seed, level, epoch, batch), so a resume replays it.
    """

    def __init__(
        self,
        split: Split,
        tree: LabelTree,
        level: int,
        parents: np.ndarray,
        count: int,
        batch_size: int,
        max_len: int,
        seed: int,
    ) -> None:
        self.split, self.tree, self.level, self.parents = split, tree, level, parents
        self.count, self.batch_size, self.max_len, self.seed = count, batch_size, max_len, seed
        self.truth = tree.node_labels(split.labels, level)  # (n, nodes at level)
        self._lengths = clipped_lengths(split, max_len)

    @property
    def n_batches(self) -> int:
        return -(-len(self.split) // self.batch_size)

    def batches(self, epoch: int, skip: int = 0) -> Iterator[Batch]:
        """The batches of `epoch` but the first `skip` (already trained before a resume)."""
        order = bucketed_batches(self._lengths, self.batch_size, self.seed, epoch)
        for index, rows in enumerate(order):
            if index < skip:
                continue
            rng = np.random.default_rng([self.seed, self.level, epoch, index])
            cand = expand_candidates(self.tree, self.level, self.parents[rows], self.count, rng)
            targets = is_member(np.repeat(rows[:, None], cand.shape[1], axis=1), cand, self.truth)
            tokens, lengths = token_batch(self.split, rows, self.max_len)
            yield Batch(
                tokens,
                lengths,
                torch.from_numpy(targets.astype(np.float32)),  # (b, count)
                torch.from_numpy(cand),  # (b, count)
            )
