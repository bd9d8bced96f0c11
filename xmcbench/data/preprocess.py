"""Turn a RawDataset into a prepared `types.Dataset` (vocabulary, token ids, binary labels,
TF-IDF, validation carve) and cache the result on disk, keyed by file contents and options.

The parts: options `prep_options`, cache key `prep_hash`, tokens and vocabulary `prep_tokens`,
feature and label matrices `prep_matrices`, the cache folder `prep_cache`; their public names
are re-exported here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..errors import XMCBenchError
from ..io import atomic_dir
from ..metrics import PROPENSITY_A, PROPENSITY_B
from ..paths import dataset_dir
from ..types import Dataset, Split
from .holdout import holdout_rows
from .layouts import detect_layout
from .prep_cache import _save, load_prepared
from .prep_hash import _dataset_hash, content_hash, hash_files
from .prep_matrices import _binarize_labels, _feature_source, _features
from .prep_options import (
    DEFAULT_VALID_FRACTION,
    DEFAULT_VALID_MAX,
    PREP_VERSION,
    PrepareOptions,
)
from .prep_tokens import PAD, UNK, _encode_splits, _has_texts, _progress_bar, _vocabulary
from .raw import RawDataset, RawSplit
from .readers import read_layout

__all__ = [
    "DEFAULT_VALID_FRACTION",
    "DEFAULT_VALID_MAX",
    "PAD",
    "PREP_VERSION",
    "UNK",
    "PrepareOptions",
    "build",
    "carve_validation",
    "content_hash",
    "hash_files",
    "load_prepared",
    "prepare",
    "prepare_folder",
]


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
