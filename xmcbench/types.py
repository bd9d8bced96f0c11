"""The data a method sees (Split), what it returns (TopK), and the Method contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from .metrics import PROPENSITY_A, PROPENSITY_B

PAD_ID = 0  # token id of padding: never a real word
UNK_ID = 1  # token id of out-of-vocabulary words


@dataclass(frozen=True, eq=False)
class Split:
    """One prepared split: ragged token ids, binary labels and optional TF-IDF features.

    Token ids are stored ragged (documents concatenated, CSR-style offsets) so that memory
    follows the real text length; `padded` cuts a batch to its own longest document.
    """

    name: str
    tokens: np.ndarray  # (total_tokens,) int32, documents concatenated
    offsets: np.ndarray  # (n + 1,) int64; document i is tokens[offsets[i]:offsets[i + 1]]
    labels: sp.csr_matrix  # (n, L) float32, 1 where the label is relevant
    vocab: tuple[str, ...]  # id -> word, shared by all splits; vocab[0] pad, vocab[1] unk
    label_names: tuple[str, ...]  # label id -> name, shared by all splits
    features: sp.csr_matrix | None = None  # (n, D) float32 TF-IDF rows, L2-normalised
    ids: tuple[str, ...] | None = None  # document ids when the dataset has them

    def __post_init__(self) -> None:
        n = len(self.offsets) - 1
        if self.labels.shape[0] != n:
            raise ValueError(
                f"split {self.name!r}: {n} documents but {self.labels.shape[0]} label rows"
            )
        if self.features is not None and self.features.shape[0] != n:
            raise ValueError(
                f"split {self.name!r}: {n} documents but {self.features.shape[0]} feature rows"
            )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_labels(self) -> int:
        return self.labels.shape[1]

    @property
    def lengths(self) -> np.ndarray:
        """Real token count of every document, (n,) int64."""
        return np.diff(self.offsets)

    def document(self, i: int) -> np.ndarray:
        """Token ids of document i, without padding."""
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]

    def padded(self, rows: np.ndarray | None = None, max_len: int | None = None) -> np.ndarray:
        """Token ids of `rows` as a zero-padded (b, T) int32 matrix, T = longest real length."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]  # (b,)
        lengths = ends - starts
        if max_len is not None:
            lengths = np.minimum(lengths, max_len)
        width = int(lengths.max(initial=0))
        out = np.full((len(rows), width), PAD_ID, dtype=np.int32)  # (b, T)
        mask = np.arange(width)[None, :] < lengths[:, None]  # (b, T)
        positions = starts[:, None] + np.arange(width)[None, :]  # (b, T)
        out[mask] = self.tokens[positions[mask]]
        return out

    def subset(self, rows: np.ndarray, name: str | None = None) -> Split:
        """A new split holding `rows` of this one, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # gather every kept token at once: position of token j of kept doc i
        within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths)
        tokens = self.tokens[np.repeat(starts, lengths) + within]
        return Split(
            name=name or self.name,
            tokens=tokens,
            offsets=offsets,
            labels=self.labels[rows],
            vocab=self.vocab,
            label_names=self.label_names,
            features=None if self.features is None else self.features[rows],
            ids=None if self.ids is None else tuple(self.ids[i] for i in rows),
        )


@dataclass(frozen=True, eq=False)
class Dataset:
    """A prepared dataset: its splits plus what scoring needs (propensity constants)."""

    name: str
    train: Split
    valid: Split | None
    test: Split
    content_hash: str  # sha256 of the input files and the preprocessing options
    propensity_a: float = PROPENSITY_A
    propensity_b: float = PROPENSITY_B
    info: dict[str, Any] = field(default_factory=dict)  # free-form provenance (source, options)

    @property
    def n_labels(self) -> int:
        return self.train.n_labels

    @property
    def propensity_labels(self) -> sp.csr_matrix:
        """(n, L) labels of the whole training file, which PS metrics fit propensities on.

        That is train plus a validation split carved from it (`info["valid_source"] ==
        "carved"`), as pyxclib fits on the training label matrix it is given; a validation
        split that came in its own files is not part of the training file and is left out.
        """
        if self.valid is None or self.info.get("valid_source") != "carved":
            return self.train.labels
        return sp.vstack([self.train.labels, self.valid.labels], format="csr")


@dataclass(frozen=True, eq=False)
class TopK:
    """Ranked predictions: label ids (n, k) int, best first, -1 where no label; scores (n, k)."""

    labels: np.ndarray  # (n, k) int32
    scores: np.ndarray  # (n, k) float32, non-increasing along each row

    def __post_init__(self) -> None:
        if self.labels.shape != self.scores.shape or self.labels.ndim != 2:
            raise ValueError(
                "TopK needs two (n, k) arrays of one shape, "
                f"got {self.labels.shape} and {self.scores.shape}"
            )

    def __len__(self) -> int:
        return self.labels.shape[0]

    @property
    def k(self) -> int:
        return self.labels.shape[1]

    @classmethod
    def from_scores(cls, scores: np.ndarray, k: int) -> TopK:
        """Top k of a dense (n, L) score matrix, best first, equal scores by lower label id.

        Rows with fewer than k labels are padded with -1 ("no prediction") scored -inf.
        """
        scores = np.asarray(scores)
        labels = dense_topk_ids(scores, k)  # (n, k) int64, -1 past the labels
        present = labels >= 0
        top = np.take_along_axis(scores, np.where(present, labels, 0), axis=1)  # (n, k)
        return cls(
            labels=labels.astype(np.int32),
            scores=np.where(present, top, -np.inf).astype(np.float32),
        )


BLOCK_CELLS = 1 << 22  # score cells ranked at once: bounds the temporary arrays of a dense top-k


def dense_topk_ids(scores: np.ndarray, k: int) -> np.ndarray:
    """Top k label ids of each row of a dense (n, L) score matrix, (n, k) int64, best first.

    Deterministic: equal scores rank the lower label id first; -1 fills rows past L labels.
    Works in blocks of rows (`BLOCK_CELLS`); ValueError names the first row holding NaN.
    """
    n, n_labels = scores.shape
    out = np.full((n, k), -1, dtype=np.int64)  # (n, k)
    width = min(k, n_labels)
    if width == 0 or n == 0:
        return out
    step = max(1, BLOCK_CELLS // n_labels)
    for start in range(0, n, step):
        block = scores[start : start + step]  # (b, L)
        if block.dtype == np.bool_ or block.dtype.itemsize < 4:
            block = block.astype(np.float32)
        if np.isnan(block).any():
            row = start + int(np.isnan(block).any(axis=1).argmax())
            raise ValueError(f"scores of row {row} hold NaN")
        # the width-th largest score of each row; every score above it is in the top
        threshold = np.partition(block, n_labels - width, axis=1)[:, n_labels - width]  # (b,)
        above = block > threshold[:, None]  # (b, L)
        tied = block == threshold[:, None]
        room = width - above.sum(axis=1)  # (b,) places left for the tied scores, lowest ids first
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= room[:, None]))
        cols = np.nonzero(chosen)[1].reshape(len(block), width)  # (b, width), ascending ids
        values = np.take_along_axis(block, cols, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")  # ties keep the lower id first
        out[start : start + len(block), :width] = np.take_along_axis(cols, order, axis=1)
    return out


@runtime_checkable
class Method(Protocol):
    """What a method plugin provides. Every hyperparameter is an __init__ keyword.

    The harness constructs it as ``cls(**params, seed=..., device=...)``; `fit` receives a
    `workdir` that survives an interrupted run of the same command, for checkpoints.
    """

    def fit(self, train: Split, valid: Split | None, workdir: Path) -> None: ...

    def predict(self, test: Split, k: int) -> TopK: ...

    def save(self, path: Path) -> None: ...

    @classmethod
    def load(cls, path: Path) -> Method: ...
