"""The cache key of a prepared dataset: sha256 over input contents, layout, options, version."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .prep_options import PREP_VERSION, PrepareOptions
from .raw import RawDataset

_HASH_BLOCK = 1 << 20


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
