"""Read a raw XMC dataset folder (AttentionXML text, Extreme Classification Repository BOW,
PECOS) into a `RawDataset`; every malformed input raises a DataFormatError naming file and line.

The layouts and how a folder's layout is found: `layouts`; BOW parsing: `bow`; line-per-document
files and the shared checks: `textfiles`; the dataclasses: `raw`. Their names are re-exported here.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..errors import DataFormatError
from .bow import BowFile, read_bow
from .layouts import (
    LAYOUT_BOW,
    LAYOUT_PECOS,
    LAYOUT_TEXT,
    SPLITS,
    FolderLayout,
    detect_layout,
)
from .raw import RawDataset, RawSplit
from .textfiles import (
    _absurd,
    _require_documents,
    check_counts,
    id_limit,
    iter_lines,
    read_ids,
    read_labels,
    read_texts,
)

__all__ = [
    "LAYOUT_BOW",
    "LAYOUT_PECOS",
    "LAYOUT_TEXT",
    "SPLITS",
    "BowFile",
    "FolderLayout",
    "RawDataset",
    "RawSplit",
    "check_counts",
    "detect_layout",
    "id_limit",
    "iter_lines",
    "label_lists",
    "load_sparse",
    "read_bow",
    "read_bow_split",
    "read_folder",
    "read_ids",
    "read_labels",
    "read_layout",
    "read_pecos_split",
    "read_split_files",
    "read_texts",
]


# ---------------------------------------------------------------- split readers


def read_split_files(
    texts_path: Path,
    labels_path: Path,
    *,
    ids_path: Path | None = None,
    bow_path: Path | None = None,
    allow_empty: bool = False,
) -> RawSplit:
    """One split from a texts file, a parallel labels file, optional ids and BOW features."""
    texts_path, labels_path = Path(texts_path), Path(labels_path)
    texts = read_texts(texts_path, allow_empty=allow_empty)
    _require_documents(texts_path, len(texts))
    labels = read_labels(labels_path)
    _require_documents(labels_path, len(labels))
    check_counts(texts_path, len(texts), labels_path, len(labels))
    ids = None
    if ids_path is not None:
        ids = read_ids(Path(ids_path))
        _require_documents(Path(ids_path), len(ids))
        check_counts(texts_path, len(texts), Path(ids_path), len(ids))
    features = None
    if bow_path is not None:
        features = read_bow(Path(bow_path)).features
        check_counts(texts_path, len(texts), Path(bow_path), features.shape[0], "documents")
    return RawSplit(texts=texts, labels=labels, features=features, ids=ids)


def read_bow_split(path: Path) -> RawSplit:
    """One split from an ECR BOW file: no texts, label ids as names."""
    bow = read_bow(path)
    return RawSplit(texts=None, labels=bow.labels, features=bow.features)


def load_sparse(path: Path, *, rows_of: tuple[Path, int] | None = None) -> sp.csr_matrix:
    """A scipy.sparse.save_npz file as float32 CSR with explicit zeros dropped.

    Before anything is converted (a COO file's shape alone can ask for gigabytes), the row count
    must match ``rows_of`` = (parallel file, its row count) when given, and the column count
    must not be absurd for the entries stored (see `id_limit`).
    """
    path = Path(path)
    try:
        matrix = sp.load_npz(path)
    except FileNotFoundError:
        raise DataFormatError(path, None, "file not found") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise DataFormatError(path, None, f"not a scipy sparse .npz file ({err})") from None
    n_rows, n_columns = matrix.shape
    if rows_of is not None:
        check_counts(rows_of[0], rows_of[1], path, n_rows, "rows")
    if n_columns > id_limit(matrix.nnz):
        raise DataFormatError(path, None, f"{n_columns} columns are {_absurd(matrix.nnz)}")
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def label_lists(matrix: sp.csr_matrix) -> list[list[str]]:
    """Label names (column ids as strings) of each row of a label matrix."""
    used = np.unique(matrix.indices).tolist()  # only columns in use: the width may be millions
    names = dict(zip(used, map(str, used), strict=True))  # shared string objects
    indices, indptr = matrix.indices.tolist(), matrix.indptr.tolist()
    return [[names[j] for j in indices[indptr[i] : indptr[i + 1]]] for i in range(matrix.shape[0])]


def read_pecos_split(
    texts_path: Path,
    labels_path: Path,
    *,
    tfidf_path: Path | None = None,
    allow_empty: bool = False,
) -> RawSplit:
    """One PECOS split: raw texts, a CSR label matrix, optional TF-IDF matrix."""
    texts_path, labels_path = Path(texts_path), Path(labels_path)
    texts = read_texts(texts_path, allow_empty=allow_empty)
    _require_documents(texts_path, len(texts))
    y = load_sparse(labels_path, rows_of=(texts_path, len(texts)))
    features = None
    if tfidf_path is not None:
        features = load_sparse(Path(tfidf_path), rows_of=(texts_path, len(texts)))
    return RawSplit(texts=texts, labels=label_lists(y), features=features)


# ---------------------------------------------------------------- whole folders


def read_folder(path: Path, *, allow_empty: bool = False) -> RawDataset:
    """Detect the layout of a local folder and read every split."""
    return read_layout(detect_layout(path), allow_empty=allow_empty)


def read_layout(layout: FolderLayout, *, allow_empty: bool = False) -> RawDataset:
    """Read the files a detected layout names."""
    splits: dict[str, RawSplit] = {}
    for split in SPLITS:
        if layout.kind == LAYOUT_PECOS and layout.get(split, "texts"):
            splits[split] = read_pecos_split(
                layout.roles[f"{split}.texts"],
                layout.roles[f"{split}.y"],
                tfidf_path=layout.get(split, "tfidf"),
                allow_empty=allow_empty,
            )
        elif layout.kind == LAYOUT_TEXT and layout.get(split, "texts"):
            splits[split] = read_split_files(
                layout.roles[f"{split}.texts"],
                layout.roles[f"{split}.labels"],
                ids_path=layout.get(split, "ids"),
                bow_path=layout.get(split, "bow"),
                allow_empty=allow_empty,
            )
        elif layout.kind == LAYOUT_BOW and layout.get(split, "bow"):
            splits[split] = read_bow_split(layout.roles[f"{split}.bow"])
    splits = _align_features(splits)
    return RawDataset(
        train=splits["train"],
        test=splits["test"],
        valid=splits.get("valid"),
        files=layout.files,
        layout=layout.kind,
    )


def _align_features(splits: dict[str, RawSplit]) -> dict[str, RawSplit]:
    """Give every split's feature matrix the widest column count (files may differ)."""
    widths = [s.features.shape[1] for s in splits.values() if s.features is not None]
    if not widths:
        return splits
    width = max(widths)
    out = {}
    for name, split in splits.items():
        features = split.features
        if features is not None and features.shape[1] != width:
            features = sp.csr_matrix(
                (features.data, features.indices, features.indptr), shape=(features.shape[0], width)
            )
        out[name] = RawSplit(
            texts=split.texts, labels=split.labels, features=features, ids=split.ids
        )
    return out
