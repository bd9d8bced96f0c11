"""Balanced spherical 2-means over all clusters of a depth at once, and T0's clusters of labels.

Labels without any training document have an all-zero feature row: every similarity is 0, so each
balanced split places them by a seeded random tie-break. They end up spread over the clusters,
next to labels they share nothing with, which costs nothing since they never have positives.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from xmcbench.notes import quiet

from .tree_structure import _concat_ranges

CHUNK_NNZ = 1 << 22  # nnz per vectorised block: bounds the temporaries of one 2-means step
_DENSE_SPAN = 1 << 24  # (cluster, feature) key spans up to this are indexed without sorting
_JITTER = 1e-8  # random tie-break added to 2-means scores (cosine differences in [-1, 1])


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
    stderr = Console(stderr=True)  # stdout carries results only
    shown = progress and not quiet() and stderr.is_terminal
    with Progress(*columns, disable=not shown, transient=False, console=stderr) as bar:
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
