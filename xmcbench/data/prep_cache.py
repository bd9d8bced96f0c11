"""Write a prepared dataset into its cache folder and read it back (None when stale or unreadable).

Cache layout: ``<cache_root>/<content_hash>/`` holds ``meta.json`` (version, options, counts),
``vocab.json`` (id -> word), ``labels.json`` (label id -> name) and one ``<split>.npz`` per
split (tokens, offsets, label CSR parts, optional feature CSR parts, optional ids). The folder
is written with `io.atomic_dir`, so it is complete or absent; an unreadable one is rebuilt.
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..metrics import PROPENSITY_A, PROPENSITY_B
from ..types import Dataset, Split
from .prep_options import PREP_VERSION

log = logging.getLogger(__name__)


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
