"""Shared by the linear baselines: feature checks, label compaction, ranked lists to TopK."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from xmcbench.errors import XMCBenchError
from xmcbench.types import Split, TopK


def default_threads() -> int:
    """Worker threads when none are given: every core the machine reports."""
    return os.cpu_count() or 1


def require_features(split: Split, method: str) -> sp.csr_matrix:
    """The split's TF-IDF rows as float32 CSR with sorted indices, or a clear error."""
    if split.features is None:
        raise XMCBenchError(
            f"method {method!r} needs TF-IDF features, but split {split.name!r} has none; "
            "prepare the dataset with tfidf enabled (the default)"
        )
    features = sp.csr_matrix(split.features, dtype=np.float32)
    features.sort_indices()
    return features


def compact_labels(labels: sp.csr_matrix) -> tuple[np.ndarray, sp.csr_matrix]:
    """Keep only labels with a training document: (seen ids (L',) int32, (n, L') binary CSR).

    The label space also holds test-only labels; training on empty columns wastes tree leaves.
    """
    labels = sp.csr_matrix(labels)
    labels.eliminate_zeros()
    seen = np.flatnonzero(np.bincount(labels.indices, minlength=labels.shape[1])).astype(np.int32)
    compact = labels[:, seen]
    compact.data[:] = 1.0
    compact.sort_indices()
    return seen, sp.csr_matrix(compact, dtype=np.float32)


def ranked_to_topk(
    ranked: Sequence[Sequence[tuple[int, float]]], k: int, label_map: np.ndarray
) -> TopK:
    """Per-document (compact label, score) lists to TopK, mapped back to dataset label ids.

    Rows with fewer than k predictions are padded with label -1 and score -inf.
    """
    n = len(ranked)
    labels = np.full((n, k), -1, dtype=np.int64)  # (n, k) compact ids, -1 for none
    scores = np.full((n, k), -np.inf, dtype=np.float32)  # (n, k)
    for i, pairs in enumerate(ranked):
        top = pairs[:k]
        if top:
            ids, values = zip(*top, strict=True)
            labels[i, : len(top)] = ids
            scores[i, : len(top)] = values
    order = np.argsort(-scores, axis=1, kind="stable")  # libraries rank already; make sure
    labels = np.take_along_axis(labels, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    mapped = np.where(labels >= 0, label_map[np.maximum(labels, 0)], -1).astype(np.int32)
    return TopK(labels=mapped, scores=scores)


@contextmanager
def native_output_to(log_path: Path) -> Iterator[None]:
    """Send what native code prints on fds 1 and 2 to `log_path` (omikuji logs every step)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    try:
        with log_path.open("ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        os.close(saved[0])
        os.close(saved[1])


def log_tail(log_path: Path, lines: int = 5) -> str:
    """Last lines of a library log, for error messages."""
    if not log_path.exists():
        return ""
    text = log_path.read_text(errors="replace").replace("\r", "\n")
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
