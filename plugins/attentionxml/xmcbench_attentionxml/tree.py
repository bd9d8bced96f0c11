"""AttentionXML's shallow and wide probabilistic label tree (paper sections 2.2, 2.3; Appendix B).

Labels are clustered top-down by balanced spherical 2-means on their label features (as in
Parabel), giving a complete binary tree T0 whose clusters at depth ``D`` hold at most ``M`` labels;
Algorithm 1 then keeps only the binary depths ``D, D - c, ..., D - c(H - 1)`` (``K = 2^c``), so
every internal node but the root has at most ``K`` children. Pure numpy/scipy: no torch here.

Node ids. At binary depth ``d`` of T0 the ``2^d`` clusters are numbered in heap order (cluster
``i`` splits into ``2i`` and ``2i + 1``), and the compressed tree keeps those ids, so a node's
ancestor ``s`` depths up is ``id >> s``. Leaves are numbered 0..L-1 in cluster order
(``label_of_leaf[leaf]`` is the original label id) so that every node's children are contiguous.

Labels without any training document have an all-zero feature row: every similarity is 0, so each
balanced split places them by a seeded random tie-break. They end up spread over the clusters,
next to labels they share nothing with, which costs nothing since they never have positives.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sklearn.preprocessing import normalize

from xmcbench.io import write_npz

FORMAT_VERSION = 1
CHUNK_NNZ = 1 << 22  # nnz per vectorised block: bounds the temporaries of one 2-means step
_DENSE_SPAN = 1 << 24  # (cluster, feature) key spans up to this are indexed without sorting
_JITTER = 1e-8  # random tie-break added to 2-means scores (cosine differences in [-1, 1])


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


# ----------------------------------------------------------------------------- the tree


@dataclass(frozen=True, eq=False)
class TreeLevel:
    """One level: each node's parent (in the level above) and the parents' children lists (CSR)."""

    parent: np.ndarray  # (n_nodes,) ids in the level above; 0 (the root) for level 1
    children_indptr: np.ndarray  # (n_above + 1,) children of node p: ids[indptr[p]:indptr[p+1]]
    children_ids: np.ndarray  # (n_nodes,) this level's ids, grouped by parent

    @property
    def n_nodes(self) -> int:
        return int(self.parent.size)

    @property
    def max_children(self) -> int:
        """Largest number of children a node of the level above has in this level."""
        return int(np.diff(self.children_indptr).max(initial=0))


@dataclass(frozen=True, eq=False)
class LabelTree:
    """Shallow and wide PLT: ``levels[d - 1]`` is level d (1 = root's children, height+1 = leaves).

    Leaf ids are not label ids: ``label_of_leaf[leaf]`` / ``leaf_of_label[label]`` convert.
    """

    levels: list[TreeLevel]
    leaf_of_label: np.ndarray  # (L,)
    label_of_leaf: np.ndarray  # (L,)
    k: int
    m: int

    @property
    def height(self) -> int:
        """Internal levels between the root and the leaves (H)."""
        return len(self.levels) - 1

    @property
    def n_labels(self) -> int:
        return self.levels[-1].n_nodes

    @property
    def level_sizes(self) -> list[int]:
        """Node counts, root (1) first, leaves (L) last."""
        return [1] + [level.n_nodes for level in self.levels]

    def n_nodes(self, level: int) -> int:
        """Number of nodes at `level` (0 = the root)."""
        return self.level_sizes[self._check_level(level, low=0)]

    def label_to_node(self, level: int) -> np.ndarray:
        """(L,) id of each label's ancestor at `level` (1..height+1; its leaf at height+1)."""
        level = self._check_level(level, low=1)
        node = self.leaf_of_label
        for lower in range(self.height + 1, level, -1):
            node = self.levels[lower - 1].parent[node]
        return node

    def node_labels(self, labels: sp.spmatrix, level: int) -> sp.csr_matrix:
        """(n, nodes at `level`) 0/1 CSR, Algorithm 2: a node is positive iff a label below it is.

        At level height+1 the columns are leaves (map back with ``label_of_leaf``).
        """
        labels = sp.csr_matrix(labels)  # (n, L)
        if labels.shape[1] != self.n_labels:
            raise ValueError(f"labels have {labels.shape[1]} columns, tree has {self.n_labels}")
        labels = labels.copy()
        labels.eliminate_zeros()
        node = self.label_to_node(level)  # (L,)
        out = sp.csr_matrix(
            (np.ones(labels.nnz, dtype=np.float32), node[labels.indices], labels.indptr.copy()),
            shape=(labels.shape[0], self.n_nodes(level)),
        )  # (n, nodes), duplicates where two labels share an ancestor
        out.sum_duplicates()
        out.data[:] = 1.0
        return out

    def children(self, level: int, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Children (ids at level+1) of `nodes` (ids at `level`, 0 = root) as CSR (indptr, ids)."""
        level = self._check_level(level, low=0, high=self.height)
        below = self.levels[level]
        nodes = np.asarray(nodes, dtype=np.int64).ravel()  # (q,)
        starts = below.children_indptr[nodes]  # (q,)
        counts = below.children_indptr[nodes + 1] - starts  # (q,)
        indptr = np.zeros(nodes.size + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return indptr, below.children_ids[_concat_ranges(starts, counts)]

    def children_padded(self, level: int, nodes: np.ndarray, fill: int = -1) -> np.ndarray:
        """(*nodes.shape, max children) children ids of `nodes` at `level`, padded with `fill`."""
        nodes = np.asarray(nodes, dtype=np.int64)
        level = self._check_level(level, low=0, high=self.height)
        width = self.levels[level].max_children
        indptr, ids = self.children(level, nodes)
        counts = np.diff(indptr)  # (q,)
        out = np.full((nodes.size, width), fill, dtype=np.int64)  # (q, width)
        rows = np.repeat(np.arange(nodes.size), counts)
        out[rows, np.arange(ids.size) - indptr[rows]] = ids
        return out.reshape(*nodes.shape, width)

    def validate(self) -> None:
        """Raise ValueError unless parents, children lists and the leaf permutation agree."""
        n_labels = self.n_labels
        if not np.array_equal(np.sort(self.label_of_leaf), np.arange(n_labels)):
            raise ValueError("label_of_leaf is not a permutation of the labels")
        if not np.array_equal(self.leaf_of_label[self.label_of_leaf], np.arange(n_labels)):
            raise ValueError("leaf_of_label is not the inverse of label_of_leaf")
        for depth, level in enumerate(self.levels, start=1):
            n_above = self.level_sizes[depth - 1]
            indptr = level.children_indptr
            if indptr.size != n_above + 1 or indptr[-1] != level.n_nodes:
                raise ValueError(f"level {depth}: children_indptr does not fit the level sizes")
            if not np.array_equal(np.sort(level.children_ids), np.arange(level.n_nodes)):
                raise ValueError(f"level {depth}: children_ids is not a permutation of the nodes")
            owner = np.repeat(np.arange(n_above), np.diff(level.children_indptr))
            if not np.array_equal(level.parent[level.children_ids], owner):
                raise ValueError(f"level {depth}: parent and children lists disagree")
            below = self.levels[depth] if depth < len(self.levels) else None
            if below is not None and np.any(np.diff(below.children_indptr) == 0):
                raise ValueError(f"level {depth}: an internal node has no children")

    def save(self, path: str | Path) -> None:
        """Write the tree as one .npz, atomically."""
        arrays = {
            "format_version": np.array(FORMAT_VERSION),
            "k": np.array(self.k),
            "m": np.array(self.m),
            "height": np.array(self.height),
            "leaf_of_label": self.leaf_of_label,
            "label_of_leaf": self.label_of_leaf,
        }
        for depth, level in enumerate(self.levels, start=1):
            arrays[f"parent_{depth}"] = level.parent
            arrays[f"children_indptr_{depth}"] = level.children_indptr
            arrays[f"children_ids_{depth}"] = level.children_ids
        write_npz(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> LabelTree:
        """Read a tree written by `save` and check it."""
        with np.load(path, allow_pickle=False) as data:
            if int(data["format_version"]) != FORMAT_VERSION:
                raise ValueError(f"{path}: unknown label tree format {int(data['format_version'])}")
            levels = [
                TreeLevel(
                    parent=data[f"parent_{d}"],
                    children_indptr=data[f"children_indptr_{d}"],
                    children_ids=data[f"children_ids_{d}"],
                )
                for d in range(1, int(data["height"]) + 2)
            ]
            tree = cls(
                levels=levels,
                leaf_of_label=data["leaf_of_label"],
                label_of_leaf=data["label_of_leaf"],
                k=int(data["k"]),
                m=int(data["m"]),
            )
        tree.validate()
        return tree

    def summary(self) -> str:
        """Node counts per level, and the widest node of each level's parents."""
        lines = [f"label tree: L={self.n_labels:,}, K={self.k}, M={self.m}, height {self.height}"]
        lines.append("  level 0 (root): 1")
        for depth, level in enumerate(self.levels, start=1):
            name = "leaves" if depth == len(self.levels) else "nodes"
            lines.append(
                f"  level {depth}: {level.n_nodes:,} {name} "
                f"(at most {level.max_children:,} per parent)"
            )
        return "\n".join(lines)

    def _check_level(self, level: int, *, low: int, high: int | None = None) -> int:
        high = self.height + 1 if high is None else high
        if not low <= level <= high:
            raise ValueError(f"level must be in [{low}, {high}], got {level}")
        return int(level)


# ----------------------------------------------------------------------------- balanced 2-means


class _Chunk(NamedTuple):
    """A run of whole clusters: rows [r0, r1), nnz [p0, p1), (cluster, feature) keys [u0, u1)."""

    r0: int
    r1: int
    p0: int
    p1: int
    u0: int
    u1: int


@dataclass
class _LevelIndex:
    """All clusters of one depth in one flat layout: each nnz's (cluster, feature) key id."""

    chunks: list[_Chunk]
    key_of_nnz: np.ndarray  # (nnz,) intp: key index relative to its chunk's u0
    key_cluster: np.ndarray  # (n_keys,) cluster of each distinct (cluster, feature) pair
    total: np.ndarray  # (n_keys,) float64: sum of the cluster's feature rows


def balanced_2means_split(
    features: sp.spmatrix,
    cluster: np.ndarray,
    *,
    rng: np.random.Generator,
    max_iter: int = 20,
    tol: float = 1e-4,
) -> np.ndarray:
    """(L,) bool: which half of its cluster each row goes to, for all clusters at once.

    Spherical (cosine) 2-means per cluster with halves of sizes ceil(n/2) (False) and
    floor(n/2) (True); rows of `features` should be L2-normalised.
    """
    features = _canonical(features)  # (L, D)
    cluster = np.asarray(cluster, dtype=np.int64)  # (L,)
    if cluster.size == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(cluster, kind="stable")  # (L,)
    ordered = cluster[order]
    dense = np.concatenate([[0], np.cumsum(ordered[1:] != ordered[:-1])])  # (L,) 0..G-1
    starts = np.searchsorted(dense, np.arange(dense[-1] + 2))  # (G + 1,)
    ones, _, _ = _split_sorted(features[order], dense, starts, rng, max_iter, tol)
    out = np.empty_like(ones)
    out[order] = ones
    return out


def _canonical(features: sp.spmatrix) -> sp.csr_matrix:
    """float64 CSR (what bincount works in) without duplicate entries."""
    x = sp.csr_matrix(features, dtype=np.float64)
    if not x.has_canonical_format:
        x = x.copy()
        x.sum_duplicates()
    return x


def _split_sorted(
    x: sp.csr_matrix,
    cluster: np.ndarray,
    starts: np.ndarray,
    rng: np.random.Generator,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, int, float]:
    """Balanced 2-means of clusters laid out contiguously (rows sorted by cluster).

    Returns the side of every row, the iterations run and the mean cosine to the own centroid.
    """
    index = _index_level(x, cluster, starts)
    sizes = np.diff(starts)  # (G,)
    diff = _initial_centroid_difference(x, starts, sizes, index, rng)  # (n_keys,)
    previous, objective, ones = -np.inf, 0.0, np.zeros(x.shape[0], dtype=bool)
    n_iter = 0
    while n_iter < max(max_iter, 1):
        n_iter += 1
        score = _row_dots(x, index, diff)  # (L,) cos(c0) - cos(c1)
        ones = _balanced_halves(score, cluster, starts, sizes, rng)
        diff, objective = _centroid_difference(x, index, ones, sizes.size)
        if objective - previous < tol:
            break
        previous = objective
    return ones, n_iter, objective


def _index_level(x: sp.csr_matrix, cluster: np.ndarray, starts: np.ndarray) -> _LevelIndex:
    """Number the distinct (cluster, feature) pairs, chunk by chunk, in sorted key order."""
    n_features = x.shape[1]
    key_of_nnz = np.empty(x.nnz, dtype=np.intp)
    chunks, clusters, totals, n_keys = [], [], [], 0
    for r0, r1 in _chunk_rows(x.indptr, starts):
        p0, p1 = int(x.indptr[r0]), int(x.indptr[r1])
        first = int(cluster[r0])
        counts = np.diff(x.indptr[r0 : r1 + 1])  # (rows,)
        keys = np.repeat((cluster[r0:r1] - first) * n_features, counts)  # (nnz_c,)
        keys += x.indices[p0:p1]
        span = (int(cluster[r1 - 1]) - first + 1) * n_features
        local, distinct = _distinct_keys(keys, span)  # (nnz_c,), (keys_c,)
        key_of_nnz[p0:p1] = local
        clusters.append(first + distinct // n_features)
        totals.append(np.bincount(key_of_nnz[p0:p1], x.data[p0:p1], minlength=distinct.size))
        chunks.append(_Chunk(r0, r1, p0, p1, n_keys, n_keys + distinct.size))
        n_keys += distinct.size
    return _LevelIndex(chunks, key_of_nnz, np.concatenate(clusters), np.concatenate(totals))


def _chunk_rows(indptr: np.ndarray, starts: np.ndarray) -> Iterator[tuple[int, int]]:
    """Row ranges of whole clusters with about CHUNK_NNZ nonzeros each (a big cluster alone)."""
    cluster_nnz_start = indptr[starts]  # (G + 1,)
    targets = np.arange(CHUNK_NNZ, int(indptr[-1]), CHUNK_NNZ)
    inner = np.searchsorted(cluster_nnz_start, targets)  # first cluster of each later chunk
    cuts = np.unique(np.concatenate([[0], inner, [starts.size - 1]]))
    for c0, c1 in itertools.pairwise(cuts):
        yield int(starts[c0]), int(starts[c1])


def _distinct_keys(keys: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """(inverse, sorted distinct keys) of keys in [0, span): a dense map if small, else a sort."""
    if span <= _DENSE_SPAN:
        present = np.zeros(span, dtype=bool)
        present[keys] = True
        distinct = np.flatnonzero(present)  # (keys_c,)
        position = np.zeros(span, dtype=np.int32)
        position[distinct] = np.arange(distinct.size)
        return position[keys], distinct
    order = np.argsort(keys)
    ordered = keys[order]
    new = np.empty(ordered.size, dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(keys.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return inverse, ordered[new]


def _initial_centroid_difference(
    x: sp.csr_matrix,
    starts: np.ndarray,
    sizes: np.ndarray,
    index: _LevelIndex,
    rng: np.random.Generator,
) -> np.ndarray:
    """(n_keys,) c0 - c1 with the two centroids of each cluster two distinct random rows of it."""
    first = np.floor(rng.random(sizes.size) * sizes).astype(np.int64)  # (G,)
    second = np.floor(rng.random(sizes.size) * np.maximum(sizes - 1, 1)).astype(np.int64)
    second = np.where(sizes > 1, second + (second >= first), first)
    diff = np.zeros(index.total.size)  # (n_keys,)
    for offset, sign in ((first, 1.0), (second, -1.0)):
        rows = starts[:-1] + offset  # (G,) one row per cluster: distinct keys within each pass
        begin = x.indptr[rows]
        at = _concat_ranges(begin, x.indptr[rows + 1] - begin)
        chunk_start = np.array([chunk.u0 for chunk in index.chunks])[_chunk_of(index, rows)]
        keys = index.key_of_nnz[at] + np.repeat(chunk_start, x.indptr[rows + 1] - begin)
        diff[keys] += sign * x.data[at]
    return diff


def _chunk_of(index: _LevelIndex, rows: np.ndarray) -> np.ndarray:
    """Chunk number of each row."""
    return np.searchsorted([chunk.r1 for chunk in index.chunks], rows, side="right")


def _row_dots(x: sp.csr_matrix, index: _LevelIndex, diff: np.ndarray) -> np.ndarray:
    """(L,) each row's dot product with its own cluster's entry of `diff` (keys → values)."""
    out = np.zeros(x.shape[0])
    for chunk in index.chunks:
        products = diff[chunk.u0 : chunk.u1][index.key_of_nnz[chunk.p0 : chunk.p1]]  # (nnz_c,)
        products *= x.data[chunk.p0 : chunk.p1]
        begin = x.indptr[chunk.r0 : chunk.r1] - chunk.p0  # (rows_c,)
        filled = x.indptr[chunk.r0 + 1 : chunk.r1 + 1] - chunk.p0 > begin  # rows with entries
        if products.size:  # reduceat sums [begin_i, begin_next): right for non-empty rows
            out[chunk.r0 : chunk.r1][filled] = np.add.reduceat(products, begin[filled])
    return out


def _balanced_halves(
    score: np.ndarray,
    cluster: np.ndarray,
    starts: np.ndarray,
    sizes: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """(L,) bool: True for the floor(n/2) rows of each cluster with the lowest score.

    Sorted by (cluster, -score); scores within ~1e-8 of each other, and exact ties such as
    featureless labels, fall in seeded random order (a tiny jitter).
    """
    jitter = rng.random(score.size) * _JITTER  # (L,)
    key = cluster * 4.0 + (1.0 - np.clip(score, -1.0, 1.0) + jitter)  # clusters 4 apart
    order = np.argsort(key)  # (L,) cluster-major, best score first
    rank = np.arange(score.size) - starts[cluster]  # cluster[order] == cluster: sorted input
    ones = np.empty(score.size, dtype=bool)
    ones[order] = rank >= (sizes[cluster] + 1) // 2
    return ones


def _centroid_difference(
    x: sp.csr_matrix, index: _LevelIndex, ones: np.ndarray, n_clusters: int
) -> tuple[np.ndarray, float]:
    """(n_keys,) c0 - c1 of the normalised half sums, and the mean cosine of rows to their own."""
    first_half = np.zeros(index.total.size)  # (n_keys,) sum of the False half
    for chunk in index.chunks:
        counts = np.diff(x.indptr[chunk.r0 : chunk.r1 + 1])
        keep = np.repeat(~ones[chunk.r0 : chunk.r1], counts)  # (nnz_c,)
        weights = x.data[chunk.p0 : chunk.p1] * keep
        local = index.key_of_nnz[chunk.p0 : chunk.p1]
        first_half[chunk.u0 : chunk.u1] = np.bincount(
            local, weights=weights, minlength=chunk.u1 - chunk.u0
        )
    second_half = index.total - first_half  # (n_keys,)
    norm0 = np.sqrt(np.bincount(index.key_cluster, first_half**2, minlength=n_clusters))  # (G,)
    norm1 = np.sqrt(np.bincount(index.key_cluster, second_half**2, minlength=n_clusters))
    objective = float((norm0.sum() + norm1.sum()) / max(ones.size, 1))  # = sum of own cosines
    first_half *= _safe_inverse(norm0)[index.key_cluster]
    second_half *= _safe_inverse(norm1)[index.key_cluster]
    first_half -= second_half
    return first_half, objective


def _safe_inverse(values: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values)
    np.divide(1.0, values, out=out, where=values > 0)
    return out


def _concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (s, c), vectorised."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(total, dtype=np.int64)


# ----------------------------------------------------------------------------- T0 and Algorithm 1


def cluster_labels(
    features: sp.spmatrix,
    depth: int,
    *,
    seed: int = 0,
    max_iter: int = 20,
    tol: float = 1e-4,
    progress: bool = True,
) -> np.ndarray:
    """(L,) heap id (0..2^depth-1) of each label's cluster at `depth` of T0.

    T0 is split level by level: one vectorised balanced 2-means step serves all 2^d clusters.
    """
    x = _canonical(features)  # (L, D), rows L2-normalised
    n_labels = x.shape[0]
    rng = np.random.default_rng(seed)
    label_ids = np.arange(n_labels, dtype=np.int64)  # (L,) original id of each current row
    cluster = np.zeros(n_labels, dtype=np.int64)  # (L,) sorted
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task("label tree: balanced 2-means", total=depth)
        for d in range(depth):
            starts = np.searchsorted(cluster, np.arange((1 << d) + 1))  # (2^d + 1,)
            ones, n_iter, objective = _split_sorted(x, cluster, starts, rng, max_iter, tol)
            cluster = 2 * cluster + ones
            order = np.argsort(cluster, kind="stable")  # (L,)
            x, label_ids, cluster = x[order], label_ids[order], cluster[order]
            bar.update(
                task,
                advance=1,
                description=f"label tree: depth {d + 1}/{depth}, {n_iter} it, cos {objective:.3f}",
            )
    out = np.empty(n_labels, dtype=np.int64)
    out[label_ids] = cluster
    return out


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
