"""Time AttentionXML's label tree (label features, balanced 2-means, Algorithm 1) on synthetic data.

Usage: python benchmarks/bench_tree.py --labels 1000000 --features 100000 --docs 200000 (--k 8
--height 3 are the defaults, like the 1M-label figures).
Random TF-IDF-like documents (Zipf word frequencies), every label on at least one document plus
power-law extra labels. Prints seconds per phase, node counts per level, the mean cosine of labels
to their leaf cluster (against a random tree of the same shape) and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from xmcbench_attentionxml.tree import (
    LabelTree,
    build_tree_from_label_features,
    label_features,
    level_sizes,
)


def zipf_ids(rng: np.random.Generator, size: int, n: int, alpha: float) -> np.ndarray:
    """`size` ids in [0, n) with P(rank r) proportional to r^-alpha, ranks scattered over ids."""
    cdf = np.cumsum(np.arange(1, n + 1, dtype=np.float64) ** -alpha)  # (n,)
    cdf /= cdf[-1]
    ranks = np.minimum(np.searchsorted(cdf, rng.random(size)), n - 1)
    return np.random.default_rng(12345).permutation(n)[ranks]


def dedupe(rows: np.ndarray, cols: np.ndarray, n_cols: int) -> tuple[np.ndarray, ...]:
    """Distinct (row, col) pairs, sorted, with their multiplicities."""
    keys = np.sort(rows.astype(np.int64) * n_cols + cols)
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    counts = np.diff(np.append(first, keys.size))
    keys = keys[first]
    return keys // n_cols, keys % n_cols, counts


def random_documents(rng: np.random.Generator, n_docs: int, n_features: int, words: float):
    """(docs, features) float32 CSR: (1 + log tf) * idf, rows L2-normalised."""
    lengths = 1 + rng.poisson(words - 1, size=n_docs)  # (n,)
    rows = np.repeat(np.arange(n_docs), lengths)
    rows, cols, tf = dedupe(rows, zipf_ids(rng, rows.size, n_features, 1.0), n_features)
    df = np.bincount(cols, minlength=n_features)  # (D,)
    idf = np.log((1 + n_docs) / (1 + df)) + 1.0
    data = ((1.0 + np.log(tf)) * idf[cols]).astype(np.float32)
    x = sp.csr_matrix((data, (rows, cols)), shape=(n_docs, n_features))
    return normalize(x, copy=False)


def random_labels(rng: np.random.Generator, n_docs: int, n_labels: int, extra: float):
    """(docs, labels) 0/1 CSR: each label on one random doc, plus `extra` power-law labels/doc."""
    n_extra = int(extra * n_docs)
    rows = np.concatenate([rng.integers(0, n_docs, n_labels), rng.integers(0, n_docs, n_extra)])
    cols = np.concatenate([np.arange(n_labels), zipf_ids(rng, n_extra, n_labels, 0.8)])
    rows, cols, _ = dedupe(rows, cols, n_labels)
    data = np.ones(rows.size, dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(n_docs, n_labels))


def leaf_cosine(feats: sp.csr_matrix, leaf_parent: np.ndarray) -> float:
    """Mean cosine of labels to their leaf cluster's centroid: sum over clusters of |sum| / L."""
    n_clusters = int(leaf_parent.max()) + 1
    member = sp.csr_matrix(
        (np.ones(leaf_parent.size, np.float32), (leaf_parent, np.arange(leaf_parent.size))),
        shape=(n_clusters, leaf_parent.size),
    )  # (clusters, L)
    sums = (member @ feats).tocsr()  # (clusters, D)
    norms = np.sqrt(np.asarray(sums.multiply(sums).sum(axis=1)).ravel())
    return float(norms.sum() / leaf_parent.size)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--height", type=int, default=3)
    parser.add_argument("--words-per-doc", type=float, default=30.0)
    parser.add_argument("--extra-labels-per-doc", type=float, default=2.0)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    timings: dict[str, float] = {}
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    x = random_documents(rng, args.docs, args.features, args.words_per_doc)
    y = random_labels(rng, args.docs, args.labels, args.extra_labels_per_doc)
    timings["synthetic data"] = time.perf_counter() - start
    print(
        f"docs {x.shape[0]:,} x features {x.shape[1]:,} (nnz {x.nnz:,}); labels {y.shape[1]:,}"
        f" (nnz {y.nnz:,}); peak RSS {peak_rss_gib():.2f} GiB"
    )

    start = time.perf_counter()
    feats = label_features(x, y)  # (L, D)
    timings["label features"] = time.perf_counter() - start
    del x
    print(f"label features: nnz {feats.nnz:,}; peak RSS {peak_rss_gib():.2f} GiB")

    start = time.perf_counter()
    tree = build_tree_from_label_features(
        feats,
        k=args.k,
        height=args.height,
        seed=args.seed,
        max_iter=args.max_iter,
        progress=not args.no_progress,
    )
    timings["2-means + compression"] = time.perf_counter() - start
    print(tree.summary())
    assert tree.level_sizes == level_sizes(args.labels, k=args.k, height=args.height)

    start = time.perf_counter()
    for level in range(1, tree.height + 2):
        tree.node_labels(y, level)
    timings["node labels, all levels"] = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        tree.save(Path(tmp) / "tree.npz")
        LabelTree.load(Path(tmp) / "tree.npz")
        timings["save + load"] = time.perf_counter() - start

    leaf_parent = tree.levels[-1].parent[tree.leaf_of_label]  # (L,)
    shuffled = np.random.default_rng(1).permutation(leaf_parent)  # same cluster sizes
    print(
        f"mean cosine to leaf cluster: tree {leaf_cosine(feats, leaf_parent):.3f}, "
        f"random {leaf_cosine(feats, shuffled):.3f}"
    )
    for phase, seconds in timings.items():
        print(f"{phase:>26}: {seconds:8.1f} s")
    print(f"peak RSS: {peak_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
