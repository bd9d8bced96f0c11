"""Initial word embeddings from a GloVe or word2vec text file, streamed, for one vocabulary.

How each row of the matrix starts, following the way AttentionXML's authors build theirs
(`build_vocab` in their deepxml/data_utils.py, fed by preprocess.py):

- A vocabulary word found in the file takes the file's vector. Their tokens are lowercased and
  looked up as they are; we look up the exact form first and, failing that, the first cased
  form in the file whose lowercase equals the word (GloVe 840B is cased, so "Paris" still
  serves "paris" when no lowercase line exists). Every word they find, we find identically.
- `/SEP/`, the title/body separator, takes the vector of "." (their choice).
- Every other word, and `<unk>` (a bucket of rare words, never looked up in the file), starts
  from independent draws of uniform(-1, 1) in each dimension, as theirs do. Our draws are
  seeded, so a run is reproducible; theirs come from numpy's unseeded global generator.
- The padding row is zero, and stays zero in training (the model's `padding_idx`).

The file is streamed line by line and only the vectors of vocabulary words are parsed and
kept, so glove.840B.300d.txt (5.6 GB, 2.2 million lines) costs the memory of the vocabulary's
rows, not of the file. Named downloadable files (GloVe 840B) are in .resources.
"""

from __future__ import annotations

import contextlib
import math
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFormatError
from ..types import PAD_ID, UNK_ID
from .resources import expected_path as expected_path  # re-exported for the method plugins
from .resources import resource_path as resource_path  # re-exported for the method plugins
from .tokenize import SEP

SEP_FALLBACK = "."  # AttentionXML initialises /SEP/ with the vector of "."
MISSING_SCALE = 1.0  # missing words start from uniform(-1, 1), as in AttentionXML's build_vocab
_PROGRESS_STEP = 32 << 20  # bytes read between two progress-bar updates


def load_word_vectors(
    path: Path,
    vocab: Sequence[str],
    *,
    dim: int | None = None,
    seed: int = 0,
    scale: float = MISSING_SCALE,
    progress: bool | None = None,
) -> tuple[np.ndarray, int]:
    """A (len(vocab), d) float32 matrix started as the module docstring says, and the number of
    vocabulary words found in the file; missing words draw from uniform(-scale, scale).

    `progress`: a rich bar on stderr while reading (None: only when stderr is a terminal).
    """
    path = Path(path)
    index = {word: i for i, word in enumerate(vocab) if i not in (PAD_ID, UNK_ID)}
    wanted = set(index) | ({SEP_FALLBACK} if SEP in index else set())
    vectors = _Vectors(
        exact={}, folded={}, want_exact=wanted, want_folded={w.lower() for w in wanted}
    )
    show = sys.stderr.isatty() if progress is None else progress
    dim = _scan(path, dim, vectors, show)
    matrix = _uniform(np.random.default_rng(seed), (len(vocab), dim), scale)  # (V, d)
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


def _uniform(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """uniform(-scale, scale) float32 drawn in place: no float64 copy of a (500k, 300) matrix."""
    out = rng.random(shape, dtype=np.float32)  # (V, d) in [0, 1)
    out *= 2.0 * scale
    out -= scale
    return out


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


def _scan(path: Path, dim: int | None, vectors: _Vectors, progress: bool) -> int:
    """Stream the file, offering each line's word to `vectors`; return the vector length."""
    if not path.is_file():
        raise DataFormatError(path, None, "embedding file not found")
    with open(path, "rb") as handle, _reading_bar(progress, path) as advance:
        unreported = 0
        for number, raw in enumerate(handle, 1):
            unreported += len(raw)
            if unreported >= _PROGRESS_STEP:
                advance(unreported)
                unreported = 0
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
        advance(unreported)
    if dim is None:
        raise DataFormatError(path, None, "empty embedding file")
    return dim


@contextlib.contextmanager
def _reading_bar(enabled: bool, path: Path) -> Iterator[Any]:
    """Yield `advance(n_bytes)`: a rich bar on stderr over the file's size, or a no-op."""
    if not enabled:
        yield lambda _n: None
        return
    from .download_progress import bytes_progress

    with bytes_progress() as bar:
        task = bar.add_task(f"reading {path.name}", total=path.stat().st_size)
        yield lambda n: bar.update(task, advance=n)


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
