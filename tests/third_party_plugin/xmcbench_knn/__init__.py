"""A third-party plugin, as a user would write it: a k-nearest-neighbour method and a metric.

It lives outside the core package and is found only through its entry point
(`xmcbench_knn-0.1.dist-info/entry_points.txt`), exactly like a published plugin.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from xmcbench import Split, TopK, hookimpl


class NearestNeighbours:
    """Scores labels by the summed cosine similarity of the `neighbours` closest training docs."""

    def __init__(self, *, neighbours: int = 10, seed: int = 0, device: str = "cpu") -> None:
        if not isinstance(neighbours, int) or neighbours < 1:
            raise ValueError(f"neighbours must be a positive integer, got {neighbours!r}")
        self.neighbours = neighbours
        self.seed = seed
        self.features_: sp.csr_matrix | None = None
        self.labels_: sp.csr_matrix | None = None

    def get_params(self) -> dict:
        return {"neighbours": self.neighbours}

    def fit(self, train: Split, valid: Split | None, workdir: Path) -> None:
        self.features_, self.labels_ = train.features, train.labels

    def predict(self, test: Split, k: int) -> TopK:
        similarity = (test.features @ self.features_.T).toarray()  # (n, n_train)
        top = np.argsort(-similarity, axis=1)[:, : self.neighbours]  # (n, neighbours)
        weights = np.take_along_axis(similarity, top, axis=1)
        rows = np.repeat(np.arange(len(test)), self.neighbours)
        votes = sp.csr_matrix(
            (weights.ravel(), (rows, top.ravel())), shape=(len(test), similarity.shape[1])
        )
        scores = (votes @ self.labels_).toarray()  # (n, L)
        return TopK.from_scores(scores, k)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "model.pkl").write_bytes(pickle.dumps(self))

    @classmethod
    def load(cls, path: Path) -> NearestNeighbours:
        return pickle.loads((path / "model.pkl").read_bytes())


def recall_at_k(pred: np.ndarray, truth: sp.csr_matrix, k: int) -> float:
    """Fraction of each document's true labels found in its top k, averaged over documents."""
    truth = sp.csr_matrix(truth)
    hits = np.array(
        [
            len(set(pred[i, :k]) & set(truth.indices[truth.indptr[i] : truth.indptr[i + 1]]))
            for i in range(truth.shape[0])
        ]
    )
    sizes = np.diff(truth.indptr)
    return float(np.mean(np.where(sizes > 0, hits / np.maximum(sizes, 1), 0.0)))


@hookimpl
def register_methods(register):
    register(
        "knn",
        "xmcbench_knn:NearestNeighbours",
        description="cosine k-nearest neighbours (test plugin)",
    )


@hookimpl
def register_metrics(register):
    register("recall", recall_at_k, description="recall at k (test plugin)", label="Recall")
