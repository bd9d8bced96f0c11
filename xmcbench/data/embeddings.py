"""Initial word embeddings from a GloVe or word2vec text file, streamed, for one vocabulary."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataFormatError
from ..types import PAD_ID
from .tokenize import SEP

SEP_FALLBACK = "."  # AttentionXML initialises /SEP/ with the vector of "."


def load_word_vectors(
    path: Path,
    vocab: Sequence[str],
    *,
    dim: int | None = None,
    seed: int = 0,
    scale: float = 0.1,
) -> tuple[np.ndarray, int]:
    """A (len(vocab), d) float32 matrix: file vectors where found (exact, else lowercase match),
    uniform(-scale, scale) noise elsewhere, zeros for padding; plus the number of words found."""
    path = Path(path)
    index = {word: i for i, word in enumerate(vocab) if i != PAD_ID}
    wanted = set(index) | ({SEP_FALLBACK} if SEP in index else set())
    vectors = _Vectors(
        exact={}, folded={}, want_exact=wanted, want_folded={w.lower() for w in wanted}
    )
    dim = _scan(path, dim, vectors)
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(len(vocab), dim)).astype(np.float32)  # (V, d)
    found = 0
    for word, row in index.items():
        vector = vectors.lookup(word)
        if vector is None and word == SEP:
            vector = vectors.lookup(SEP_FALLBACK)
        if vector is not None:
            matrix[row] = vector
            found += 1
    if len(vocab) > PAD_ID:
        matrix[PAD_ID] = 0.0
    return matrix, found


@dataclass
class _Vectors:
    """Vectors kept from the file: by exact word, and by lowercased word (first one seen)."""

    exact: dict[str, np.ndarray]
    folded: dict[str, np.ndarray]
    want_exact: set[str]
    want_folded: set[str]

    def wants(self, word: str) -> bool:
        """Whether a vocabulary word may use this file word's vector."""
        folded = word.lower()
        return (word in self.want_exact and word not in self.exact) or (
            folded in self.want_folded and folded not in self.folded
        )

    def keep(self, word: str, vector: np.ndarray) -> None:
        """Store the vector under the word and its lowercase form, first one wins."""
        if word in self.want_exact:
            self.exact.setdefault(word, vector)
        if (folded := word.lower()) in self.want_folded:
            self.folded.setdefault(folded, vector)

    def lookup(self, word: str) -> np.ndarray | None:
        vector = self.exact.get(word)
        return vector if vector is not None else self.folded.get(word.lower())


def _scan(path: Path, dim: int | None, vectors: _Vectors) -> int:
    """Stream the file, offering each line's word to `vectors`; return the vector length."""
    if not path.is_file():
        raise DataFormatError(path, None, "embedding file not found")
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.rstrip()
            if not line:
                continue
            if number == 1 and _is_word2vec_header(line):
                dim = _header_dim(path, line, dim)
                continue
            if dim is None:
                dim = line.count(b" ")
                if dim < 1:
                    raise DataFormatError(path, number, "a word without a vector")
            word, values = _split_line(path, number, line, dim)
            if vectors.wants(word):
                vectors.keep(word, _parse_vector(path, number, values, dim))
    if dim is None:
        raise DataFormatError(path, None, "empty embedding file")
    return dim


def _header_dim(path: Path, line: bytes, dim: int | None) -> int:
    header_dim = int(line.split()[1])
    if dim is not None and dim != header_dim:
        raise DataFormatError(path, 1, f"header declares {header_dim} dimensions, expected {dim}")
    return header_dim


def _split_line(path: Path, number: int, line: bytes, dim: int) -> tuple[str, bytes]:
    """(word, the vector's text); a word may hold spaces (glove.840B), the vector never does."""
    n_values = line.count(b" ")
    if n_values < dim:
        raise DataFormatError(path, number, f"{n_values} values, expected {dim}")
    if n_values == dim:
        word, _, values = line.partition(b" ")
    else:
        parts = line.rsplit(b" ", dim)
        word, values = parts[0], line[len(parts[0]) + 1 :]
        if _is_float(word.rsplit(b" ", 1)[-1]):  # "cat 0.1 0.2 0.3" is a count error, not a word
            raise DataFormatError(path, number, f"{n_values} values, expected {dim}")
    return word.decode("utf-8", errors="replace"), values


def _is_word2vec_header(line: bytes) -> bool:
    fields = line.split()
    return len(fields) == 2 and all(field.isdigit() for field in fields)


def _parse_vector(path: Path, number: int, values: bytes, dim: int) -> np.ndarray:
    with warnings.catch_warnings():  # numpy warns (future: raises) when it stops early
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            vector = np.fromstring(values, dtype=np.float32, sep=" ")  # (d,)
        except ValueError:
            vector = np.zeros(0, np.float32)
    if len(vector) != dim or not np.isfinite(vector).all():
        bad = next((f for f in values.split(b" ") if not _is_float(f)), b"")
        problem = f"value {bad.decode(errors='replace')!r} is not a number"
        raise DataFormatError(path, number, problem)
    return vector


def _is_float(field: bytes) -> bool:
    try:
        return math.isfinite(float(field))
    except ValueError:
        return False
