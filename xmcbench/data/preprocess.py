"""Turn a RawDataset into a prepared `types.Dataset` (vocabulary, token ids, binary labels,
TF-IDF, validation carve) and cache the result on disk, keyed by file contents and options.

Cache layout: ``<cache_root>/<content_hash>/`` holds ``meta.json`` (version, options, counts),
``vocab.json`` (id -> word), ``labels.json`` (label id -> name) and one ``<split>.npz`` per
split (tokens, offsets, label CSR parts, optional feature CSR parts, optional ids). The folder
is written with `io.atomic_dir`, so it is complete or absent; an unreadable one is rebuilt.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import XMCBenchError
from ..io import atomic_dir
from ..metrics import PROPENSITY_A, PROPENSITY_B
from ..paths import dataset_dir
from ..registry import DatasetSpec
from ..types import UNK_ID, Dataset, Split
from . import tokenize as _tokenize
from .holdout import VALID_SEED, holdout_rows
from .readers import RawDataset, RawSplit, detect_layout, read_layout

PREP_VERSION = "1"  # bump whenever the prepared arrays would change for the same inputs
PAD, UNK = "<pad>", "<unk>"
DEFAULT_VALID_MAX = 4000  # default validation size: min(4000, 10% of train)
DEFAULT_VALID_FRACTION = 0.1
_CHUNK_DOCS = 4096  # documents tokenized before their ids are turned into arrays
_PROGRESS_MIN_DOCS = 20_000  # show a progress bar only for inputs at least this big
_HASH_BLOCK = 1 << 20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrepareOptions:
    """How raw text becomes arrays; every field is part of the cache key."""

    max_vocab: int = 500_000  # vocabulary size including <pad> and <unk> (AttentionXML's rule)
    min_count: int = 1  # least number of training documents a word must occur in
    max_len: int = 500  # token ids kept per document; TF-IDF always sees the full text
    tfidf: bool = True  # build TF-IDF from the text when the files give no features
    valid_size: int | None = None  # None: min(4000, 10% of train); 0: no validation split
    valid_seed: int = VALID_SEED  # the original AttentionXML's random_state

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            wanted = bool if item.name == "tfidf" else int
            ok = isinstance(value, wanted) and (wanted is bool or not isinstance(value, bool))
            if not ok and not (item.name == "valid_size" and value is None):
                raise XMCBenchError(
                    f"preprocessing option {item.name}={value!r}: not {wanted.__name__}"
                )
        if self.max_vocab < 2 or self.min_count < 1 or self.max_len < 1:
            raise XMCBenchError(
                f"invalid preprocessing options: need max_vocab >= 2, min_count >= 1, max_len >= 1 "
                f"(got {self.max_vocab}, {self.min_count}, {self.max_len})"
            )
        if self.valid_size is not None and self.valid_size < 0:
            raise XMCBenchError(
                f"preprocessing option valid_size must be >= 0, got {self.valid_size}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> PrepareOptions:
        """Options from e.g. a ``[prep]`` config table; an unknown key is a clear error."""
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            listing = ", ".join(sorted(known))
            raise XMCBenchError(f"unknown preprocessing option(s) {', '.join(unknown)} ({listing})")
        return cls(**values)

    def with_spec(self, spec: DatasetSpec) -> PrepareOptions:
        """These options with the spec's validation size when none was chosen here."""
        if self.valid_size is None and spec.valid_size is not None:
            return dataclasses.replace(self, valid_size=spec.valid_size)
        return self

    def effective_valid_size(self, n_train: int) -> int:
        """Documents to carve from a training split of `n_train` documents."""
        if self.valid_size is not None:
            return self.valid_size
        return min(DEFAULT_VALID_MAX, int(n_train * DEFAULT_VALID_FRACTION))


# ---------------------------------------------------------------- hashing


def hash_files(paths: Iterable[Path]) -> str:
    """sha256 over the names, sizes and contents of `paths` (sorted), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode("utf-8") + b"\0")
        digest.update(path.stat().st_size.to_bytes(8, "little"))
        with open(path, "rb") as handle:
            while block := handle.read(_HASH_BLOCK):
                digest.update(block)
    return digest.hexdigest()


def _hash_raw(raw: RawDataset) -> str:
    """sha256 of an in-memory dataset with no files (texts, labels, ids, features)."""
    digest = hashlib.sha256()
    for name, split in (("train", raw.train), ("valid", raw.valid), ("test", raw.test)):
        if split is None:
            continue
        digest.update(f"\0{name}:{len(split)}\0".encode())
        for text in split.texts or ():
            digest.update(text.encode("utf-8") + b"\n")
        for row in split.labels:
            digest.update(" ".join(row).encode("utf-8") + b"\n")
        for doc_id in split.ids or ():
            digest.update(doc_id.encode("utf-8") + b"\n")
        if split.features is not None:
            features = sp.csr_matrix(split.features)
            for part in (features.indptr, features.indices, features.data):
                digest.update(np.ascontiguousarray(part).tobytes())
    return digest.hexdigest()


def content_hash(files_digest: str, layout: str, options: PrepareOptions) -> str:
    """The cache key: input contents, layout, options and PREP_VERSION."""
    key = json.dumps(
        {
            "version": PREP_VERSION,
            "files": files_digest,
            "layout": layout,
            "options": dataclasses.asdict(options),
        },
        sort_keys=True,
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _dataset_hash(raw: RawDataset, options: PrepareOptions) -> str:
    files_digest = hash_files(raw.files) if raw.files else _hash_raw(raw)
    return content_hash(files_digest, raw.layout, options)


# ---------------------------------------------------------------- entry points


def prepare(
    raw: RawDataset,
    name: str,
    options: PrepareOptions | None = None,
    *,
    propensity: tuple[float, float] = (PROPENSITY_A, PROPENSITY_B),
    cache_root: Path | None = None,
    progress: bool = True,
) -> Dataset:
    """Prepare `raw` (or load it from the cache under ``cache_root/<content_hash>/``)."""
    options = options or PrepareOptions()
    digest = _dataset_hash(raw, options)
    root = Path(cache_root) if cache_root is not None else dataset_dir(name) / "prepared"
    cached = load_prepared(root / digest, name, propensity=propensity, expect_hash=digest)
    if cached is not None:
        return cached
    return _build_and_store(raw, name, options, digest, root / digest, propensity, progress)


def prepare_folder(
    path: Path,
    name: str,
    options: PrepareOptions | None = None,
    *,
    propensity: tuple[float, float] = (PROPENSITY_A, PROPENSITY_B),
    cache_root: Path | None = None,
    progress: bool = True,
    allow_empty: bool = False,
) -> Dataset:
    """Like `prepare(read_folder(path), ...)`, but a cache hit never parses the raw files."""
    options = options or PrepareOptions()
    layout = detect_layout(Path(path))
    digest = content_hash(hash_files(layout.files), layout.kind, options)
    root = Path(cache_root) if cache_root is not None else dataset_dir(name) / "prepared"
    cached = load_prepared(root / digest, name, propensity=propensity, expect_hash=digest)
    if cached is not None:
        return cached
    raw = read_layout(layout, allow_empty=allow_empty)
    return _build_and_store(raw, name, options, digest, root / digest, propensity, progress)


def _build_and_store(
    raw: RawDataset,
    name: str,
    options: PrepareOptions,
    digest: str,
    target: Path,
    propensity: tuple[float, float],
    progress: bool,
) -> Dataset:
    dataset = build(raw, name, options, digest, propensity=propensity, progress=progress)
    with atomic_dir(target) as tmp:
        _save(dataset, tmp)
    dataset.info["cache_dir"] = str(target)
    return dataset


# ---------------------------------------------------------------- building


def build(
    raw: RawDataset,
    name: str,
    options: PrepareOptions,
    digest: str = "",
    *,
    propensity: tuple[float, float] = (PROPENSITY_A, PROPENSITY_B),
    progress: bool = True,
) -> Dataset:
    """Prepare `raw` in memory, without touching the cache."""
    splits = carve_validation(raw, options)
    total = sum(len(split) for split in splits.values())
    with _progress_bar(total, progress and _has_texts(splits)) as advance:
        encoded, words = _encode_splits(splits, options, advance)
    vocab, remap = _vocabulary(encoded["train"], words, options)
    features = _features(splits, encoded, remap, len(vocab), options)
    label_names, labels = _binarize_labels(splits)
    prepared = {
        split: Split(
            name=split,
            tokens=remap[encoded[split].tokens],
            offsets=encoded[split].offsets,
            labels=labels[split],
            vocab=vocab,
            label_names=label_names,
            features=None if features is None else features[split],
            ids=None if splits[split].ids is None else tuple(splits[split].ids),
        )
        for split in splits
    }
    info = _describe(raw, options, splits, prepared, _feature_source(splits, features))
    return Dataset(
        name=name,
        train=prepared["train"],
        valid=prepared.get("valid"),
        test=prepared["test"],
        content_hash=digest,
        propensity_a=propensity[0],
        propensity_b=propensity[1],
        info=info,
    )


def _describe(
    raw: RawDataset,
    options: PrepareOptions,
    splits: dict[str, RawSplit],
    prepared: dict[str, Split],
    features: str,
) -> dict[str, Any]:
    """Provenance and counts for `Dataset.info` (also stored in the cache's meta.json)."""
    return {
        "layout": raw.layout,
        "files": [p.name for p in raw.files],
        "options": dataclasses.asdict(options),
        "prep_version": PREP_VERSION,
        "documents": {s: len(prepared[s]) for s in prepared},
        "unlabelled": {s: splits[s].n_unlabelled for s in splits},
        "no_tokens": {s: int((prepared[s].lengths == 0).sum()) for s in prepared},
        "valid_source": "none" if "valid" not in splits else "files" if raw.valid else "carved",
        "features": features,
        "from_cache": False,
    }


def carve_validation(raw: RawDataset, options: PrepareOptions) -> dict[str, RawSplit]:
    """train/valid/test raw splits: the given valid split, or one carved from train by seed."""
    for split_name, split in (("train", raw.train), ("valid", raw.valid), ("test", raw.test)):
        if split is not None and len(split) == 0:  # files are checked when read; data in memory
            raise XMCBenchError(f"the {split_name} split has no documents")
    if options.valid_size == 0:
        return {"train": raw.train, "test": raw.test}
    if raw.valid is not None:
        return {"train": raw.train, "valid": raw.valid, "test": raw.test}
    n_train = len(raw.train)
    size = options.effective_valid_size(n_train)
    if size >= n_train:
        raise XMCBenchError(f"valid_size {size} leaves no training documents (train has {n_train})")
    if size == 0:
        return {"train": raw.train, "test": raw.test}
    keep, held = holdout_rows(n_train, size, options.valid_seed)
    return {
        "train": raw.train.take(keep),
        "valid": raw.train.take(held),
        "test": raw.test,
    }


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


# ---------------------------------------------------------------- the cache


def _save(dataset: Dataset, folder: Path) -> None:
    """Write a dataset's arrays and names into `folder` (meta.json last)."""
    splits = {"train": dataset.train, "valid": dataset.valid, "test": dataset.test}
    present = {name: split for name, split in splits.items() if split is not None}
    _write_json(folder / "vocab.json", list(dataset.train.vocab))
    _write_json(folder / "labels.json", list(dataset.train.label_names))
    for name, split in present.items():
        with open(folder / f"{name}.npz", "wb") as handle:
            np.savez(handle, **_split_arrays(split))
        if split.ids is not None:
            _write_json(folder / f"{name}_ids.json", list(split.ids))
    meta = {
        "prep_version": PREP_VERSION,
        "content_hash": dataset.content_hash,
        "name": dataset.name,
        "splits": {name: {"ids": split.ids is not None} for name, split in present.items()},
        "info": dataset.info,
    }
    _write_json(folder / "meta.json", meta)


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


def _split_arrays(split: Split) -> dict[str, np.ndarray]:
    arrays = {"tokens": split.tokens, "offsets": split.offsets}
    arrays.update(_csr_arrays("y", split.labels))
    if split.features is not None:
        arrays.update(_csr_arrays("x", split.features))
    return arrays


def _csr_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_data": matrix.data,
        f"{prefix}_indices": matrix.indices,
        f"{prefix}_indptr": matrix.indptr,
        f"{prefix}_shape": np.asarray(matrix.shape, dtype=np.int64),
    }


def load_prepared(
    folder: Path,
    name: str,
    *,
    propensity: tuple[float, float] = (PROPENSITY_A, PROPENSITY_B),
    expect_hash: str | None = None,
) -> Dataset | None:
    """The dataset cached in `folder`, or None when absent, stale or unreadable."""
    folder = Path(folder)
    if not (folder / "meta.json").is_file():
        return None
    try:
        return _load(folder, name, propensity, expect_hash)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        log.warning("ignoring unreadable prepared data in %s (%s); rebuilding it", folder, err)
        return None


def _load(
    folder: Path, name: str, propensity: tuple[float, float], expect_hash: str | None
) -> Dataset:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    if meta["prep_version"] != PREP_VERSION:
        raise ValueError(f"prepared with version {meta['prep_version']}, not {PREP_VERSION}")
    if expect_hash is not None and meta["content_hash"] != expect_hash:
        raise ValueError("content hash does not match the folder name")
    vocab = tuple(json.loads((folder / "vocab.json").read_text(encoding="utf-8")))
    label_names = tuple(json.loads((folder / "labels.json").read_text(encoding="utf-8")))
    splits = {
        split: _load_split(folder, split, vocab, label_names, has_ids=entry["ids"])
        for split, entry in meta["splits"].items()
    }
    info = dict(meta["info"], from_cache=True, cache_dir=str(folder))
    return Dataset(
        name=name,
        train=splits["train"],
        valid=splits.get("valid"),
        test=splits["test"],
        content_hash=meta["content_hash"],
        propensity_a=propensity[0],
        propensity_b=propensity[1],
        info=info,
    )


def _load_split(
    folder: Path, split: str, vocab: tuple[str, ...], label_names: tuple[str, ...], *, has_ids: bool
) -> Split:
    with np.load(folder / f"{split}.npz", allow_pickle=False) as arrays:
        tokens, offsets = arrays["tokens"], arrays["offsets"]
        labels = _csr_from(arrays, "y")
        features = _csr_from(arrays, "x") if "x_data" in arrays.files else None
    if offsets[-1] != len(tokens) or labels.shape[1] != len(label_names):
        raise ValueError(f"{split}.npz does not fit its vocabulary or label names")
    ids = None
    if has_ids:
        ids = tuple(json.loads((folder / f"{split}_ids.json").read_text(encoding="utf-8")))
    return Split(
        name=split,
        tokens=tokens,
        offsets=offsets,
        labels=labels,
        vocab=vocab,
        label_names=label_names,
        features=features,
        ids=ids,
    )


def _csr_from(arrays: Any, prefix: str) -> sp.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{prefix}_shape"])
    parts = (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"])
    return sp.csr_matrix(parts, shape=shape)
