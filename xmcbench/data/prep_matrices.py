"""The prepared splits' matrices: features (given, or TF-IDF fit on train) and binary labels."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import XMCBenchError
from .prep_options import PrepareOptions
from .prep_tokens import _Encoded, _has_texts
from .raw import RawSplit


def _features(
    splits: dict[str, RawSplit],
    encoded: dict[str, _Encoded],
    remap: np.ndarray,
    n_vocab: int,
    options: PrepareOptions,
) -> dict[str, sp.csr_matrix] | None:
    """Given features (L2-normalised) when every split has them, else TF-IDF fit on train."""
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.preprocessing import normalize

    if all(split.features is not None for split in splits.values()):
        return {
            name: normalize(sp.csr_matrix(split.features, dtype=np.float32), norm="l2", copy=True)
            for name, split in splits.items()
        }
    if not _has_texts(splits):
        raise XMCBenchError("the dataset has neither texts nor features for every split")
    if not options.tfidf:
        return None
    counts = {name: _word_counts(enc.bag, remap, n_vocab) for name, enc in encoded.items()}
    transformer = TfidfTransformer(sublinear_tf=True, norm="l2").fit(counts["train"])
    return {
        name: sp.csr_matrix(transformer.transform(matrix), dtype=np.float32)
        for name, matrix in counts.items()
    }


def _word_counts(bag: sp.csr_matrix, remap: np.ndarray, n_vocab: int) -> sp.csr_matrix:
    """Counts over real vocabulary words: column = word id - 2; <unk> words are dropped."""
    columns = remap[bag.indices].astype(np.int64) - 2  # (nnz,)
    rows = np.repeat(np.arange(bag.shape[0]), np.diff(bag.indptr))  # (nnz,)
    keep = columns >= 0
    return sp.csr_matrix(
        (bag.data[keep], (rows[keep], columns[keep])), shape=(bag.shape[0], n_vocab - 2)
    )


def _binarize_labels(
    splits: dict[str, RawSplit],
) -> tuple[tuple[str, ...], dict[str, sp.csr_matrix]]:
    """Label space in order of first appearance (train, then valid, then test) and CSR rows."""
    index: dict[str, int] = {}
    flat = {}
    for name, split in splits.items():
        columns = np.fromiter(  # (total labels,)
            (index.setdefault(label, len(index)) for row in split.labels for label in row),
            dtype=np.int64,
        )
        lengths = np.fromiter(map(len, split.labels), dtype=np.int64, count=len(split))  # (n,)
        flat[name] = (columns, lengths)
    n_labels = len(index)
    matrices = {
        name: _label_matrix(cols, lengths, n_labels) for name, (cols, lengths) in flat.items()
    }
    return tuple(index), matrices


def _label_matrix(columns: np.ndarray, lengths: np.ndarray, n_labels: int) -> sp.csr_matrix:
    """Binary (n, L) float32 CSR; a label repeated within a row counts once."""
    width = max(n_labels, 1)
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)  # (total,)
    keys = np.unique(rows * width + columns)  # sorted, duplicates collapsed
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)  # (n + 1,)
    np.cumsum(np.bincount(keys // width, minlength=len(lengths)), out=indptr[1:])
    return sp.csr_matrix(
        (np.ones(len(keys), np.float32), (keys % width).astype(np.int32), indptr),
        shape=(len(lengths), n_labels),
    )


def _feature_source(splits: dict[str, RawSplit], features: dict | None) -> str:
    if features is None:
        return "none"
    return "files" if all(s.features is not None for s in splits.values()) else "tfidf"
