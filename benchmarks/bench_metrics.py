"""Time xmcbench.metrics.evaluate on synthetic XMC-sized data (power-law label frequencies).

Usage: python benchmarks/bench_metrics.py --docs 1000000 --k 5 --labels 670000 --repeats 5
Prints median / min / max seconds per call; no assertions on timings.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from xmcbench import metrics
from xmcbench.metrics import evaluate, inverse_propensity


def power_law_labels(
    rng: np.random.Generator, size: int, n_labels: int, alpha: float
) -> np.ndarray:
    """Draw label ids with P(label of popularity rank r) proportional to r^-alpha."""
    cdf = np.cumsum(np.arange(1, n_labels + 1, dtype=np.float64) ** -alpha)  # (L,)
    cdf /= cdf[-1]
    ranks = np.searchsorted(cdf, rng.random(size))  # (size,)
    ranks = np.minimum(ranks, n_labels - 1)  # guard against cdf[-1] rounding
    popularity_to_id = np.random.default_rng(12345).permutation(n_labels)  # fixed scatter
    return popularity_to_id[ranks]


def random_truth(
    rng: np.random.Generator, n_docs: int, n_labels: int, mean_labels: float, alpha: float
) -> sp.csr_matrix:
    """(n_docs, n_labels) 0/1 CSR with about ``mean_labels`` distinct labels per doc."""
    counts = 1 + rng.poisson(mean_labels - 1, size=n_docs)  # (n,)
    rows = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
    cols = power_law_labels(rng, rows.size, n_labels, alpha)
    keys = np.unique(rows * n_labels + cols)  # drop duplicate (doc, label) pairs
    rows, cols = keys // n_labels, keys % n_labels
    data = np.ones(keys.size, dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(n_docs, n_labels))


def random_predictions(
    rng: np.random.Generator, truth: sp.csr_matrix, k: int, alpha: float, p_true: float
) -> np.ndarray:
    """(n, k) ranked ids: each slot holds a random true label with prob ``p_true``."""
    n, n_labels = truth.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(truth.indptr))  # (nnz,)
    order = np.lexsort((rng.random(rows.size), rows))  # shuffle labels within each row
    rank = np.arange(rows.size) - truth.indptr[rows]
    keep = rank < k
    pred = np.full((n, k), -1, dtype=np.int64)  # (n, k)
    pred[rows[keep], rank[keep]] = truth.indices[order][keep]
    noise = (rng.random((n, k)) >= p_true) | (pred < 0)  # (n, k)
    pred[noise] = power_law_labels(rng, int(noise.sum()), n_labels, alpha)
    for r in range(1, k):  # k columns, not rows: make ids unique within a row
        dup = (pred[:, :r] == pred[:, r : r + 1]).any(axis=1)  # (n,)
        pred[dup, r] = -1
    return pred


def time_it(fn: Callable[[], object], repeats: int) -> tuple[float, float, float, object]:
    """Run ``fn`` ``repeats`` times; return median, min, max seconds and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), result


def report(name: str, stats: tuple[float, float, float, object]) -> None:
    med, lo, hi, _ = stats
    print(f"{name:<34s} median {med:7.3f} s   min {lo:7.3f} s   max {hi:7.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--labels", type=int, default=670_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mean-labels", type=float, default=5.0)
    parser.add_argument("--alpha", type=float, default=1.1, help="power-law exponent")
    parser.add_argument("--p-true", type=float, default=0.4, help="chance a slot is a true label")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    truth = random_truth(rng, args.docs, args.labels, args.mean_labels, args.alpha)
    train = random_truth(rng, args.docs, args.labels, args.mean_labels, args.alpha)
    pred = random_predictions(rng, truth, args.k, args.alpha, args.p_true)
    print(
        f"data: {args.docs} docs, {args.labels} labels, truth nnz {truth.nnz} "
        f"({truth.nnz / args.docs:.2f}/doc), pred {pred.shape}, "
        f"built in {time.perf_counter() - start:.1f} s"
    )
    ks = tuple(sorted({1, 3, args.k}))
    inv = time_it(lambda: inverse_propensity(train), args.repeats)
    report("inverse_propensity(train)", inv)
    inv_prop = inv[3]

    plain = time_it(lambda: evaluate(pred, truth, ks=ks), args.repeats)
    report(f"evaluate ks={ks}", plain)
    full = time_it(lambda: evaluate(pred, truth, ks=ks, inv_prop=inv_prop), args.repeats)
    report(f"evaluate ks={ks} + propensity", full)

    # phases (private helpers; the sum is about one full evaluate call)
    t = metrics._as_truth(truth)
    ids = metrics._as_pred(pred, max(ks))
    w = np.asarray(inv_prop)
    report("  phase: truth -> sorted keys", time_it(lambda: metrics._as_truth(truth), args.repeats))
    report("  phase: hit matrix", time_it(lambda: metrics._hits(ids, t), args.repeats))
    report(
        "  phase: ideal PS ranking",
        time_it(lambda: metrics._ideal_gains(t, w, max(ks)), args.repeats),
    )
    print("metrics:", ", ".join(f"{key}={value:.4f}" for key, value in full[3].items()))


if __name__ == "__main__":
    main()
