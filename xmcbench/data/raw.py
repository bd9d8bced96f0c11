"""The in-memory raw dataset as read from disk: splits of texts, label names, features, ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class RawSplit:
    """One split as read from disk: texts and/or BOW features, label names, optional ids."""

    texts: list[str] | None
    labels: list[list[str]]  # label names of each document (may be empty)
    features: sp.csr_matrix | None = None  # (n, D) float32 BOW/TF-IDF rows when provided
    ids: list[str] | None = None

    def __post_init__(self) -> None:
        n = len(self.labels)
        for what, size in (
            ("texts", None if self.texts is None else len(self.texts)),
            ("features", None if self.features is None else self.features.shape[0]),
            ("ids", None if self.ids is None else len(self.ids)),
        ):
            if size is not None and size != n:
                raise ValueError(f"RawSplit: {n} label rows but {size} {what}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_unlabelled(self) -> int:
        """Documents without any label (allowed: real XMC data has a few)."""
        return sum(1 for row in self.labels if not row)

    def take(self, rows: Sequence[int] | np.ndarray) -> RawSplit:
        """The documents at `rows`, in that order."""
        rows = [int(i) for i in rows]
        return RawSplit(
            texts=None if self.texts is None else [self.texts[i] for i in rows],
            labels=[self.labels[i] for i in rows],
            features=None if self.features is None else self.features[rows],
            ids=None if self.ids is None else [self.ids[i] for i in rows],
        )


@dataclass(frozen=True, eq=False)
class RawDataset:
    """A whole raw dataset plus the files it came from (their contents key the cache)."""

    train: RawSplit
    test: RawSplit
    valid: RawSplit | None = None
    files: list[Path] = field(default_factory=list)
    layout: str = ""
