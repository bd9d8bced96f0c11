"""Tokenize raw splits into provisional word ids and bags of words, then pick the vocabulary."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import XMCBenchError
from ..types import UNK_ID
from . import tokenize as _tokenize
from .prep_options import PrepareOptions
from .raw import RawSplit

PAD, UNK = "<pad>", "<unk>"
_CHUNK_DOCS = 4096  # documents tokenized before their ids are turned into arrays
_PROGRESS_MIN_DOCS = 20_000  # show a progress bar only for inputs at least this big


def _has_texts(splits: dict[str, RawSplit]) -> bool:
    return all(split.texts is not None for split in splits.values())


@dataclass(frozen=True)
class _Encoded:
    """One split tokenized with provisional word ids (order of first sight)."""

    tokens: np.ndarray  # (total,) int64 provisional ids, each document cut to max_len
    offsets: np.ndarray  # (n + 1,) int64
    bag: sp.csr_matrix  # (n, P) counts of provisional ids over the FULL text


def _encode_splits(
    splits: dict[str, RawSplit], options: PrepareOptions, advance: Callable[[int], None]
) -> tuple[dict[str, _Encoded], list[str]]:
    """Tokenize every split once (train first, so its words get the lowest provisional ids)."""
    if not _has_texts(splits):
        if any(split.texts is not None for split in splits.values()):
            raise XMCBenchError("some splits have texts and some do not")
        return {name: _empty_encoding(len(split)) for name, split in splits.items()}, []
    index: dict[str, int] = {}  # word -> provisional id, in order of first sight
    encoded = {}
    for name, split in splits.items():
        assert split.texts is not None
        encoded[name] = _encode(split.texts, index, options.max_len, advance)
    width = len(index)
    widened = {
        name: dataclasses.replace(e, bag=_widen(e.bag, width)) for name, e in encoded.items()
    }
    return widened, list(index)


def _empty_encoding(n: int) -> _Encoded:
    return _Encoded(
        tokens=np.zeros(0, np.int64), offsets=np.zeros(n + 1, np.int64), bag=sp.csr_matrix((n, 0))
    )


def _widen(matrix: sp.csr_matrix, width: int) -> sp.csr_matrix:
    """The same CSR with `width` columns (the provisional vocabulary grew after it was built)."""
    return sp.csr_matrix(
        (matrix.data, matrix.indices, matrix.indptr), shape=(matrix.shape[0], width)
    )


def _encode(
    texts: Sequence[str], index: dict[str, int], max_len: int, advance: Callable[[int], None]
) -> _Encoded:
    """Provisional ids of `texts`, growing `index`; arrays are built per chunk, vectorised."""
    tokens, lengths, bags = [], [], []
    for start in range(0, len(texts), _CHUNK_DOCS):
        docs = texts[start : start + _CHUNK_DOCS]
        words, doc_lengths = _tokenize.tokenize_batch(docs)  # doc_lengths: (c,)
        fresh = [word for word in dict.fromkeys(words) if word not in index]
        index.update(zip(fresh, itertools.count(len(index))))
        flat = np.fromiter(  # (sum lengths,) provisional ids of the full texts
            map(index.__getitem__, words), dtype=np.int64, count=len(words)
        )
        starts = np.repeat(np.cumsum(doc_lengths) - doc_lengths, doc_lengths)  # (sum lengths,)
        keep = np.arange(len(flat)) - starts < max_len  # position within its document
        tokens.append(flat[keep])
        lengths.append(np.minimum(doc_lengths, max_len))
        bags.append(_bag_of_words(flat, doc_lengths, len(index)))
        advance(len(docs))
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if lengths:
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
    width = len(index)
    return _Encoded(
        tokens=np.concatenate(tokens) if tokens else np.zeros(0, np.int64),
        offsets=offsets,
        bag=(
            sp.vstack([_widen(b, width) for b in bags], format="csr")
            if bags
            else sp.csr_matrix((len(texts), width))
        ),
    )


def _bag_of_words(flat: np.ndarray, lengths: np.ndarray, width: int) -> sp.csr_matrix:
    """Count matrix (docs, width) from concatenated ids, via unique (row, id) keys."""
    width = max(width, 1)
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)  # (total,)
    keys, counts = np.unique(rows * width + flat, return_counts=True)  # sorted by row, then id
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)  # (docs + 1,)
    np.cumsum(np.bincount(keys // width, minlength=len(lengths)), out=indptr[1:])
    return sp.csr_matrix(
        (counts.astype(np.float32), (keys % width).astype(np.int32), indptr),
        shape=(len(lengths), width),
    )


def _vocabulary(
    train: _Encoded, words: list[str], options: PrepareOptions
) -> tuple[tuple[str, ...], np.ndarray]:
    """Words by descending training document frequency (ties by word), and provisional -> id."""
    width = len(words)
    doc_freq = np.bincount(train.bag.indices, minlength=width)[:width]  # (P,) docs holding it
    candidates = np.flatnonzero(doc_freq >= options.min_count)  # (C,)
    candidate_words = [words[i] for i in candidates]
    rank = np.empty(len(candidates), dtype=np.int64)  # (C,) alphabetical rank
    rank[sorted(range(len(candidates)), key=candidate_words.__getitem__)] = np.arange(len(rank))
    order = np.lexsort((rank, -doc_freq[candidates]))  # frequency first, then word
    keep = candidates[order][: options.max_vocab - 2]
    remap = np.full(width, UNK_ID, dtype=np.int32)  # (P,) provisional id -> final id
    remap[keep] = np.arange(2, 2 + len(keep), dtype=np.int32)
    return (PAD, UNK, *(words[i] for i in keep)), remap


@contextlib.contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A transient rich bar over documents for big inputs; a no-op callback otherwise."""
    if not enabled or total < _PROGRESS_MIN_DOCS:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("tokenizing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("tokenizing", total=total)
        yield lambda n: bar.advance(task, n)
