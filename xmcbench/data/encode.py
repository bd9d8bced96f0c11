"""Encode new texts exactly as `preprocess` encoded a prepared dataset (for predict on a saved run).

Token ids come from the dataset's vocabulary (unknown words -> <unk>), cut to its ``max_len``.
TF-IDF is rebuilt when the dataset's features were built from its texts: the prepared training
rows keep every word a training document holds (a TF-IDF value is never 0), so their column
counts are the document frequencies the idf was fit on, and no extra state needs storing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..types import UNK_ID, Dataset, Split
from .prep_options import PrepareOptions
from .tokenize import tokenize_batch

__all__ = ["encode_texts", "idf_from_train", "tfidf_rows"]

FIRST_WORD_ID = 2  # ids 0 and 1 are <pad> and <unk>; feature column = word id - 2


def encode_texts(texts: Sequence[str], dataset: Dataset, name: str = "input") -> Split:
    """A Split of `texts` (no labels) in `dataset`'s vocabulary, with TF-IDF rows when rebuildable.

    ``features`` is None when the dataset's features came from files (a bag of words whose
    feature ids no text maps to) or when TF-IDF was turned off.
    """
    vocab = dataset.train.vocab
    words, counts = tokenize_batch(list(texts))  # counts: (n,) tokens per text
    index = {word: i for i, word in enumerate(vocab) if i >= FIRST_WORD_ID}
    ids = np.fromiter((index.get(w, UNK_ID) for w in words), dtype=np.int32, count=len(words))
    max_len = int(dataset.info.get("options", {}).get("max_len", PrepareOptions().max_len))
    starts = np.repeat(np.cumsum(counts) - counts, counts)  # (m,) start of each token's text
    keep = np.arange(len(ids)) - starts < max_len  # position within its text
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.minimum(counts, max_len), out=offsets[1:])
    features = None
    if dataset.info.get("features") == "tfidf" and dataset.train.features is not None:
        idf = idf_from_train(dataset.train.features, len(dataset.train))
        features = tfidf_rows(ids, counts, idf)
    return Split(
        name=name,
        tokens=ids[keep],
        offsets=offsets,
        labels=sp.csr_matrix((len(texts), len(dataset.train.label_names)), dtype=np.float32),
        vocab=vocab,
        label_names=dataset.train.label_names,
        features=features,
    )


def idf_from_train(train_features: sp.csr_matrix, n_train: int) -> np.ndarray:
    """(D,) smoothed idf as sklearn's TfidfTransformer fit it: ln((1 + n) / (1 + df)) + 1."""
    features = sp.csr_matrix(train_features)
    features.eliminate_zeros()
    df = np.bincount(features.indices, minlength=features.shape[1])  # (D,) training docs per word
    return np.log((1.0 + n_train) / (1.0 + df)) + 1.0


def tfidf_rows(ids: np.ndarray, counts: np.ndarray, idf: np.ndarray) -> sp.csr_matrix:
    """(n, D) float32 rows: sublinear tf (1 + ln count) x idf, L2-normalised; <unk> dropped.

    `ids` are the full texts' token ids concatenated (never cut to max_len), `counts` per text.
    """
    n, width = len(counts), len(idf)
    rows = np.repeat(np.arange(n, dtype=np.int64), counts)  # (m,)
    columns = ids.astype(np.int64) - FIRST_WORD_ID  # (m,)
    known = columns >= 0
    bag = sp.csr_matrix(
        (np.ones(int(known.sum())), (rows[known], columns[known])), shape=(n, width)
    )  # duplicates summed: word counts
    bag.sum_duplicates()
    bag.data = (1.0 + np.log(bag.data)) * idf[bag.indices]
    norms = np.sqrt(np.asarray(bag.multiply(bag).sum(axis=1)).ravel())  # (n,)
    bag.data /= np.repeat(np.where(norms > 0, norms, 1.0), np.diff(bag.indptr))
    return sp.csr_matrix(bag, dtype=np.float32)
