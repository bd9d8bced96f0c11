"""Where a method's P@k comes from: its top-k hits binned by how often each label is trained.

Reads saved runs (their records and top-k files) of one dataset and prints, per run, the points
of P@k earned by labels seen 1, 2, 3-5, 6-19, 20-99 and 100+ times in the training split, and
how many such labels it predicts per document; then the share of the test truth in each bin.
Labels that never occur in training cannot be predicted and earn nothing.

    python scripts/precision_by_label_frequency.py ../shared/datasets/debian-depends \\
        results/debian-depends/bonsai/RUN.json results/debian-depends/attentionxml/RUN.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import xmcbench
from xmcbench.results.store import load_topk, read_record

BINS = ((0, 1), (1, 2), (2, 3), (3, 6), (6, 20), (20, 100), (100, None))


def in_bin(counts: np.ndarray, low: int, high: int | None) -> np.ndarray:
    """Whether each training count lies in [low, high) (high None: no upper end)."""
    return (counts >= low) & (counts < (high if high is not None else np.inf))


def bin_name(low: int, high: int | None) -> str:
    """'1', '3-5', '100+' for the half-open range [low, high)."""
    if high is None:
        return f"{low}+"
    return str(low) if high == low + 1 else f"{low}-{high - 1}"


def hits_by_bin(
    top: np.ndarray, truth: sp.csr_matrix, frequency: np.ndarray, k: int
) -> list[tuple[float, float]]:
    """Per bin of BINS: (points of P@k earned, labels predicted per document) of (n, >=k) ids."""
    ids = np.asarray(top)[:, :k]  # (n, k), -1 = none
    n = ids.shape[0]
    rows = np.repeat(np.arange(n), k)
    flat = ids.ravel()
    real = flat >= 0
    hit = np.zeros(flat.shape, dtype=bool)
    hit[real] = np.asarray(truth[rows[real], flat[real]]).ravel() > 0
    seen = np.where(real, frequency[np.maximum(flat, 0)], -1)
    out = []
    for low, high in BINS:
        inside = in_bin(seen, low, high) & real
        out.append((100.0 * hit[inside].sum() / (k * n), inside.sum() / n))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="dataset name or path, as given to xmcbench run")
    parser.add_argument("records", nargs="+", type=Path, help="run records (.json) of it")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    data = xmcbench.load_dataset(args.dataset)
    frequency = np.asarray(data.train.labels.sum(axis=0)).ravel().astype(np.int64)  # (L,)
    truth = sp.csr_matrix(data.test.labels)
    print(" | ".join(["run", *(bin_name(lo, hi) for lo, hi in BINS), f"P@{args.k}"]))
    for path in args.records:
        method = read_record(path).method
        cells = hits_by_bin(load_topk(path).labels, truth, frequency, args.k)
        total = sum(points for points, _ in cells)
        shown = [f"{points:.2f} ({per_doc:.2f}/doc)" for points, per_doc in cells]
        print(" | ".join([method, *shown, f"{total:.2f}"]))
    seen = frequency[truth.indices]
    shares = [f"{100 * in_bin(seen, lo, hi).mean():.1f}%" for lo, hi in BINS]
    print(" | ".join(["test truth", *shares, ""]))


if __name__ == "__main__":
    main()
