"""AttentionXML's shallow and wide probabilistic label tree (paper sections 2.2, 2.3; Appendix B).

Labels are clustered top-down by balanced spherical 2-means on their label features (as in
Parabel), giving a complete binary tree T0 whose clusters at depth ``D`` hold at most ``M`` labels;
Algorithm 1 then keeps only the binary depths ``D, D - c, ..., D - c(H - 1)`` (``K = 2^c``), so
every internal node but the root has at most ``K`` children. Pure numpy/scipy: no torch here.

This module builds the tree (label features, level arithmetic, Algorithm 1); the structure is
`tree_structure`'s (node ids explained there), the clustering `tree_clustering`'s, and their
public names are importable from here too.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from .tree_clustering import CHUNK_NNZ, balanced_2means_split, cluster_labels
from .tree_structure import FORMAT_VERSION, LabelTree, TreeLevel

__all__ = [
    "CHUNK_NNZ",
    "FORMAT_VERSION",
    "LabelTree",
    "TreeLevel",
    "balanced_2means_split",
    "build_tree",
    "build_tree_from_label_features",
    "cluster_labels",
    "compress_tree",
    "compressed_depths",
    "label_features",
    "leaf_depth",
    "level_sizes",
]


# ----------------------------------------------------------------------------- label features


def label_features(features: sp.spmatrix, labels: sp.spmatrix) -> sp.csr_matrix:
    """(L, D) float32 CSR: each label's L2-normalised sum of its training documents' features.

    Computed as ``labels.T @ features`` on binarised labels, never densely; labels without a
    training document keep an empty row. Pass L2-normalised TF-IDF rows, as AttentionXML does.
    """
    features = sp.csr_matrix(features, dtype=np.float32)  # (n, D)
    labels = sp.csr_matrix(labels)  # (n, L)
    if features.shape[0] != labels.shape[0]:
        raise ValueError(f"{features.shape[0]} feature rows but {labels.shape[0]} label rows")
    pattern = labels.copy()
    pattern.eliminate_zeros()
    pattern.data = np.ones_like(pattern.data, dtype=np.float32)
    sums = (pattern.T.tocsr() @ features).tocsr()  # (L, D)
    sums.sort_indices()
    return normalize(sums, norm="l2", copy=False)


# ----------------------------------------------------------------------------- level arithmetic


def leaf_depth(n_labels: int, m: int) -> int:
    """Depth of T0's leaf clusters: the smallest d whose balanced clusters hold <= m labels.

    Balanced halving keeps every cluster at depth d at floor or ceil of L / 2^d labels.
    """
    if m < 2:
        raise ValueError(f"m (maximum cluster size) must be >= 2, got {m}")
    depth = 0
    while -(-n_labels // (1 << depth)) > m:
        depth += 1
    return depth


def compressed_depths(n_labels: int, k: int, m: int, height: int) -> list[int]:
    """T0 depths kept as internal levels by Algorithm 1, top-down: D - c(H-1), ..., D - c, D.

    Depths that would reach the root (tiny L) are dropped, so the tree is then lower than H.
    """
    c = _log2_exact(k)
    if height < 0:
        raise ValueError(f"height must be >= 0, got {height}")
    depth = leaf_depth(n_labels, m)
    kept = [depth - c * h for h in range(height) if depth - c * h >= 1]
    return sorted(kept)


def level_sizes(n_labels: int, k: int = 8, m: int | None = None, height: int = 3) -> list[int]:
    """Node counts per level, root first and leaves last, of the tree `build_tree` will return."""
    m = k if m is None else m
    return [1] + [1 << d for d in compressed_depths(n_labels, k, m, height)] + [n_labels]


def _log2_exact(k: int) -> int:
    if k < 2 or k & (k - 1):
        raise ValueError(f"k must be a power of two >= 2, got {k}")
    return k.bit_length() - 1


# ----------------------------------------------------------------------------- T0 and Algorithm 1


def compress_tree(
    leaf_cluster: np.ndarray, depth: int, *, k: int, m: int, height: int
) -> LabelTree:
    """Algorithm 1 on a complete binary T0 whose clusters at `depth` are given per label.

    S_0 = the clusters at `depth` (parents of the leaves); S_h = their c-th ancestors, i.e. depth
    ``depth - c*h`` (h < H); S_H = the root. Heap ids make the ancestor ``id >> shift``.
    """
    leaf_cluster = np.asarray(leaf_cluster, dtype=np.int64)  # (L,)
    n_labels = leaf_cluster.size
    c = _log2_exact(k)
    kept = sorted(depth - c * h for h in range(height) if depth - c * h >= 1)
    if not kept:
        leaf_cluster, depth = np.zeros(n_labels, dtype=np.int64), 0  # flat: root + leaves
    label_of_leaf = np.lexsort((np.arange(n_labels), leaf_cluster))  # (L,) cluster-major
    leaf_of_label = np.empty(n_labels, dtype=np.int64)
    leaf_of_label[label_of_leaf] = np.arange(n_labels)
    levels = []
    above = 0
    for d in kept:  # internal levels, top-down: 2^d nodes, parent id >> (d - above)
        ids = np.arange(1 << d, dtype=np.int64)
        levels.append(_level(ids >> (d - above), 1 << above))
        above = d
    levels.append(_level(leaf_cluster[label_of_leaf], 1 << above))
    return LabelTree(levels, leaf_of_label, label_of_leaf.astype(np.int64), k=k, m=m)


def _level(parent: np.ndarray, n_above: int) -> TreeLevel:
    """A level from its (sorted) parent ids: children are contiguous id ranges."""
    indptr = np.zeros(n_above + 1, dtype=np.int64)
    np.cumsum(np.bincount(parent, minlength=n_above), out=indptr[1:])
    return TreeLevel(parent=parent, children_indptr=indptr, children_ids=np.arange(parent.size))


def build_tree(
    features: sp.spmatrix,
    labels: sp.spmatrix,
    *,
    k: int = 8,
    m: int | None = None,
    height: int = 3,
    seed: int = 0,
    progress: bool = True,
    max_iter: int = 20,
    tol: float = 1e-4,
) -> LabelTree:
    """AttentionXML's PLT: label features, balanced 2-means T0 down to clusters of <= M labels,
    compressed (Algorithm 1) into a K-ary tree of height H. Deterministic given `seed`."""
    feats = label_features(features, labels)  # (L, D)
    return build_tree_from_label_features(
        feats, k=k, m=m, height=height, seed=seed, progress=progress, max_iter=max_iter, tol=tol
    )


def build_tree_from_label_features(
    label_feats: sp.spmatrix,
    *,
    k: int = 8,
    m: int | None = None,
    height: int = 3,
    seed: int = 0,
    progress: bool = True,
    max_iter: int = 20,
    tol: float = 1e-4,
) -> LabelTree:
    """`build_tree` from precomputed (L, D) label features (rows L2-normalised)."""
    m = k if m is None else m
    n_labels = label_feats.shape[0]
    if n_labels < 1:
        raise ValueError("cannot build a label tree without labels")
    depths = compressed_depths(n_labels, k, m, height)
    if not depths:
        return compress_tree(np.zeros(n_labels, dtype=np.int64), 0, k=k, m=m, height=0)
    depth = depths[-1]
    leaf_cluster = cluster_labels(
        label_feats, depth, seed=seed, max_iter=max_iter, tol=tol, progress=progress
    )
    return compress_tree(leaf_cluster, depth, k=k, m=m, height=height)
