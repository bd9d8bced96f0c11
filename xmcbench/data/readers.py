"""Read a raw XMC dataset folder (AttentionXML text, Extreme Classification Repository BOW,
PECOS) into a `RawDataset`; every malformed input raises a DataFormatError naming file and line.

Layout detection (`detect_layout`), in this order; a folder with none of these but exactly one
visible sub-folder (an unpacked tarball's top directory) is searched one level down:

* ``pecos``: ``X.trn.txt``/``Y.trn.npz`` present. Needs ``X.{trn,tst}.txt`` (one raw text per
  line) and ``Y.{trn,tst}.npz`` (scipy CSR label matrices); optional ``X.val.txt`` +
  ``Y.val.npz`` and ``tfidf-attnxml/X.{trn,tst,val}.npz`` features. Label names: column ids.
* ``attentionxml``: ``train_texts.txt`` (else ``train_raw_texts.txt``) or ``train_labels.txt``
  present. Needs ``{train,test}_texts.txt`` (or ``_raw_texts.txt``) and ``{train,test}_labels.txt``
  (space-separated label names); optional ``*_ids.txt``, a ``valid_*`` split of the same kind,
  and ECR BOW features ``{train,test,valid}_v1.txt`` (else ``{train,test,valid}.txt``).
* ``xmc-repo``: Extreme Classification Repository sparse BOW (``l1,l2 f:v f:v``, optional
  ``n_docs n_features n_labels`` header, 0-based feature ids), as ``train.txt``/``test.txt``,
  ``train_v1.txt``/``test_v1.txt`` or ``<prefix>_train.txt``/``<prefix>_test.txt``, with an
  optional ``valid`` file named alike. Label names: the label ids; no texts.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..errors import DataFormatError

LAYOUT_PECOS = "pecos"
LAYOUT_TEXT = "attentionxml"
LAYOUT_BOW = "xmc-repo"

SPLITS = ("train", "valid", "test")
_PECOS_SPLIT = {"train": "trn", "valid": "val", "test": "tst"}
_BOW_CHUNK = 100_000  # BOW lines converted to arrays at once: bounds the temporary strings
_MAX_FEATURES = 2**31 - 1  # feature ids are stored as int32 CSR indices

# How large an id (feature or label) or a declared width may be before it is corruption, not
# data. Real XMC data stay far below 2^24 (16.8M): the largest ECR/PECOS sets have 2.4M features
# (Wikipedia-500K) and 2.8M labels (Amazon-3M), so that floor holds any real file however small
# (a 10-document test file keeps the full feature space of its training file). Above the floor an
# id may grow with the data, 50 per entry (a hashed 2^26 space needs 1.3M entries), so one dense
# float32 vector over the ids -- omikuji and the TF-IDF code allocate several -- never costs more
# than ~200 bytes per entry, about 20x the file. An id near 2^31 in a small file (no header to
# vouch for it) made omikuji allocate 8.6 GB and die with SIGABRT; it now fails here, by line.
_ID_FLOOR = 2**24
_IDS_PER_ENTRY = 50

_BOW_HEADER = re.compile(r"\s*(\d+)\s+(\d+)\s+(\d+)\s*")
_BOW_ROW = re.compile(r"(\d+(?:,\d+)*)?((?:[ \t]+\d+:[^\s:,]+)*)[ \t]*")


@dataclass(frozen=True, eq=False)
class RawSplit:
    """One split as read from disk: texts and/or BOW features, label names, optional ids."""

    texts: list[str] | None
    labels: list[list[str]]  # label names of each document (may be empty)
    features: sp.csr_matrix | None = None  # (n, D) float32 BOW/TF-IDF rows when provided
    ids: list[str] | None = None

    def __post_init__(self) -> None:
        n = len(self.labels)
        for what, size in (
            ("texts", None if self.texts is None else len(self.texts)),
            ("features", None if self.features is None else self.features.shape[0]),
            ("ids", None if self.ids is None else len(self.ids)),
        ):
            if size is not None and size != n:
                raise ValueError(f"RawSplit: {n} label rows but {size} {what}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_unlabelled(self) -> int:
        """Documents without any label (allowed: real XMC data has a few)."""
        return sum(1 for row in self.labels if not row)

    def take(self, rows: Sequence[int] | np.ndarray) -> RawSplit:
        """The documents at `rows`, in that order."""
        rows = [int(i) for i in rows]
        return RawSplit(
            texts=None if self.texts is None else [self.texts[i] for i in rows],
            labels=[self.labels[i] for i in rows],
            features=None if self.features is None else self.features[rows],
            ids=None if self.ids is None else [self.ids[i] for i in rows],
        )


@dataclass(frozen=True, eq=False)
class RawDataset:
    """A whole raw dataset plus the files it came from (their contents key the cache)."""

    train: RawSplit
    test: RawSplit
    valid: RawSplit | None = None
    files: list[Path] = field(default_factory=list)
    layout: str = ""


@dataclass(frozen=True)
class FolderLayout:
    """Which layout a folder holds and the file of each role ("train.texts", "test.labels", ...)."""

    kind: str
    root: Path
    roles: dict[str, Path]

    @property
    def files(self) -> list[Path]:
        return sorted(self.roles.values())

    def get(self, split: str, role: str) -> Path | None:
        return self.roles.get(f"{split}.{role}")


# ---------------------------------------------------------------- line-level reading


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, text without the newline); bad UTF-8 names its line."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    with open(path, "rb") as handle:  # binary: split on b"\n" only, never on \x0b, \x1c, U+2028
        for number, raw in enumerate(handle, 1):
            if raw.endswith(b"\n"):
                raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                problem = f"not UTF-8: byte 0x{raw[err.start]:02x} at column {err.start + 1}"
                raise DataFormatError(path, number, problem) from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield number, text


def read_texts(path: Path, *, allow_empty: bool = False) -> list[str]:
    """One document per line; an empty or blank line is an error unless `allow_empty`."""
    texts = []
    for number, line in iter_lines(path):
        if not allow_empty and not line.strip():
            raise DataFormatError(path, number, "empty document (blank line)")
        texts.append(line)
    return texts


def read_labels(path: Path) -> list[list[str]]:
    """Whitespace-separated label names per line; an empty line is a document with no labels."""
    return [line.split() for _, line in iter_lines(path)]


def read_ids(path: Path) -> list[str]:
    """One document id per line."""
    ids = []
    for number, line in iter_lines(path):
        doc_id = line.strip()
        if not doc_id:
            raise DataFormatError(path, number, "empty document id")
        ids.append(doc_id)
    return ids


def id_limit(entries: int) -> int:
    """The exclusive bound on ids (and on a width) in a file of `entries` id occurrences."""
    return max(_ID_FLOOR, _IDS_PER_ENTRY * entries)


def _absurd(entries: int) -> str:
    """What an absurd id or width is measured against, for error messages."""
    return (
        f"absurd for a file of {entries} entries (ids must stay below "
        f"max(2^24, {_IDS_PER_ENTRY} x entries) = {id_limit(entries)}; "
        "the largest real datasets use under 3 million)"
    )


def _require_documents(path: Path, count: int, *, header: bool = False) -> None:
    """A split file must hold at least one document; say so naming the file."""
    if count == 0:
        why = "the file holds only its header" if header else "the file is empty"
        raise DataFormatError(path, None, f"no documents ({why})")


def check_counts(
    first: Path, n_first: int, second: Path, n_second: int, what: str = "lines"
) -> None:
    """Parallel files must have as many rows; else name both and point at the first extra row."""
    if n_first == n_second:
        return
    longer = first if n_first > n_second else second
    problem = f"{n_first} {what} in {first} but {n_second} {what} in {second}"
    raise DataFormatError(longer, min(n_first, n_second) + 1, problem)


# ---------------------------------------------------------------- sparse BOW (ECR format)


@dataclass(frozen=True, eq=False)
class BowFile:
    """A parsed ECR BOW file: label names per row, features, and its header when it had one."""

    labels: list[list[str]]
    features: sp.csr_matrix  # (n, D) float32
    header: tuple[int, int, int] | None


def read_bow(path: Path) -> BowFile:
    """Parse an Extreme Classification Repository sparse file (header optional)."""
    path = Path(path)
    header: tuple[int, int, int] | None = None
    labels: list[list[str]] = []
    doc_lines: list[int] = []  # line number of each document
    chunk_lines: list[tuple[int, str]] = []  # (line number, feature text) awaiting conversion
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (counts, ids, values) per chunk
    for number, line in iter_lines(path):
        if number == 1 and (head := _BOW_HEADER.fullmatch(line)):
            header = (int(head[1]), int(head[2]), int(head[3]))
            continue
        match = _BOW_ROW.fullmatch(line)
        if match is None or not line:
            raise DataFormatError(path, number, _bow_problem(line))
        labels.append(match[1].split(",") if match[1] else [])
        doc_lines.append(number)
        chunk_lines.append((number, match[2]))
        if len(chunk_lines) >= _BOW_CHUNK:
            parts.append(_parse_features(path, chunk_lines))
            chunk_lines = []
    if chunk_lines:
        parts.append(_parse_features(path, chunk_lines))
    _require_documents(path, len(labels), header=header is not None)
    features = _assemble_bow(path, parts, doc_lines, header)
    if header is not None and header[0] != len(labels):
        problem = f"header declares {header[0]} documents but the file has {len(labels)}"
        raise DataFormatError(path, 1, problem)
    _check_label_ids(path, labels, doc_lines, None if header is None else header[2])
    return BowFile(labels=labels, features=features, header=header)


def _bow_problem(line: str) -> str:
    """Say what is wrong with an unparseable BOW line."""
    if not line:
        return "empty line (a document with no labels and no features is a single space)"
    fields = line.split()
    if line[0] not in " \t" and not re.fullmatch(r"\d+(,\d+)*", fields[0]):
        return f"labels {fields[0]!r} are not comma-separated non-negative integers"
    for item in fields[0 if line[0] in " \t" else 1 :]:
        feature, colon, value = item.partition(":")
        if not colon or ":" in value:
            return f"feature {item!r} is not 'id:value'"
        if not feature.isdigit():
            return f"feature id {feature!r} is not a non-negative integer"
    return f"malformed line {line[:80]!r}"


def _parse_features(
    path: Path, chunk: list[tuple[int, str]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convert the `f:v` texts of a chunk of rows to arrays in one go; pinpoint a bad value."""
    counts = np.fromiter((text.count(":") for _, text in chunk), dtype=np.int64, count=len(chunk))
    text = " ".join(text for _, text in chunk).replace(":", " ")
    try:
        with warnings.catch_warnings():  # numpy warns (future: raises) when it stops early
            warnings.simplefilter("ignore", DeprecationWarning)
            pairs = np.fromstring(text, dtype=np.float64, sep=" ")  # (2 nnz,) id, value, ...
    except ValueError:
        pairs = np.zeros(0)
    if len(pairs) != 2 * counts.sum():
        raise _bad_value_error(path, chunk)
    ids, values = pairs[0::2], pairs[1::2]  # (nnz,) each; ids are digit strings: the regex checked
    bad = np.flatnonzero(~np.isfinite(values) | (ids >= _MAX_FEATURES))
    if len(bad):
        row = int(np.searchsorted(np.cumsum(counts), bad[0], side="right"))
        raise _bad_value_error(path, chunk[row : row + 1])
    return counts, ids.astype(np.int64), values


def _bad_value_error(path: Path, chunk: list[tuple[int, str]]) -> DataFormatError:
    """Slow path: the error for the first `f:v` of a chunk whose value does not parse."""
    for number, text in chunk:
        for item in text.split():
            feature, _, value = item.partition(":")
            if int(feature) >= _MAX_FEATURES:
                return DataFormatError(path, number, f"feature id {feature} is too large")
            try:
                number_value = float(value)
            except ValueError:
                return DataFormatError(path, number, f"feature {item!r}: value is not a number")
            if not math.isfinite(number_value):
                return DataFormatError(path, number, f"feature {item!r}: value is not finite")
    return DataFormatError(path, None, "could not parse the feature values")


def _assemble_bow(
    path: Path,
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    doc_lines: list[int],
    header: tuple[int, int, int] | None,
) -> sp.csr_matrix:
    """Stack chunk arrays into one CSR; ids beyond the header's count, or absurd ids, are errors."""
    counts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)  # (n,)
    ids = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)  # (nnz,)
    values = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)  # (nnz,)
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    limit = id_limit(len(ids))
    if header is not None and header[1] > limit:
        problem = f"header declares {header[1]} features, {_absurd(len(ids))}"
        raise DataFormatError(path, 1, problem)
    if header is None and len(bad := np.flatnonzero(ids >= limit)):
        row = int(np.searchsorted(indptr, bad[0], side="right")) - 1
        problem = f"feature id {ids[bad[0]]} is {_absurd(len(ids))}"
        raise DataFormatError(path, doc_lines[row], problem)
    n_features = header[1] if header is not None else int(ids.max(initial=-1)) + 1
    bad = np.flatnonzero(ids >= n_features)
    if len(bad):
        row = int(np.searchsorted(indptr, bad[0], side="right")) - 1
        problem = f"feature id {ids[bad[0]]} out of range: header declares {n_features} features"
        raise DataFormatError(path, doc_lines[row], problem)
    matrix = sp.csr_matrix(
        (values.astype(np.float32), ids.astype(np.int32), indptr), shape=(len(counts), n_features)
    )
    matrix.sum_duplicates()
    return matrix


def _check_label_ids(
    path: Path, labels: list[list[str]], doc_lines: list[int], n_labels: int | None
) -> None:
    """Label ids must be below the header's label count when there is one, and never absurd."""
    counts = np.fromiter(map(len, labels), dtype=np.int64, count=len(labels))  # (n,)
    entries = int(counts.sum())
    # float: a digit string too long for int64 becomes a huge float (or inf), still comparable
    ids = np.fromiter(map(float, itertools.chain.from_iterable(labels)), np.float64, entries)
    ends = np.cumsum(counts)  # (n,) end of each row's ids in `ids`
    checks = [] if n_labels is None else [(n_labels, f"the header declares {n_labels} labels")]
    checks.append((id_limit(entries), ""))
    for bound, declared in checks:
        bad = np.flatnonzero(ids >= bound)
        if len(bad):
            row = int(np.searchsorted(ends, bad[0], side="right"))
            name = labels[row][int(bad[0] - (ends[row] - counts[row]))]
            why = f"out of range: {declared}" if declared else f"is {_absurd(entries)}"
            raise DataFormatError(path, doc_lines[row], f"label id {name} {why}")


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


# ---------------------------------------------------------------- layout detection


def detect_layout(path: Path) -> FolderLayout:
    """Find which layout `path` holds (see the module docstring); a missing file is an error."""
    root = Path(path)
    if not root.is_dir():
        raise DataFormatError(root, None, "dataset folder not found")
    layout = _detect_in(root)
    if layout is None:
        subdirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if len(subdirs) == 1:
            layout = _detect_in(subdirs[0])
    if layout is None:
        found = ", ".join(sorted(p.name for p in root.iterdir())) or "nothing"
        raise DataFormatError(
            root,
            None,
            "no dataset files found; expected X.trn.txt + Y.trn.npz (PECOS), train_texts.txt + "
            "train_labels.txt (AttentionXML) or train.txt / <name>_train.txt (sparse BOW); "
            f"found: {found}",
        )
    return layout


def _detect_in(root: Path) -> FolderLayout | None:
    for detector in (_detect_pecos, _detect_text, _detect_bow):
        layout = detector(root)
        if layout is not None:
            return layout
    return None


def _require(
    root: Path, kind: str, roles: dict[str, Path], required: dict[str, str]
) -> FolderLayout:
    """Fail listing every required role without a file; else the layout."""
    missing = [label for role, label in required.items() if role not in roles]
    if missing:
        raise DataFormatError(root, None, f"{kind} layout: missing {', '.join(missing)}")
    return FolderLayout(kind=kind, root=root, roles=roles)


def _existing(root: Path, *names: str) -> Path | None:
    for name in names:
        if (root / name).is_file():
            return root / name
    return None


def _detect_pecos(root: Path) -> FolderLayout | None:
    if not (_existing(root, "X.trn.txt") or _existing(root, "Y.trn.npz")):
        return None
    roles: dict[str, Path] = {}
    for split, short in _PECOS_SPLIT.items():
        for role, name in (("texts", f"X.{short}.txt"), ("y", f"Y.{short}.npz")):
            if found := _existing(root, name):
                roles[f"{split}.{role}"] = found
        if found := _existing(root / "tfidf-attnxml", f"X.{short}.npz"):
            roles[f"{split}.tfidf"] = found
    required = {
        "train.texts": "X.trn.txt",
        "train.y": "Y.trn.npz",
        "test.texts": "X.tst.txt",
        "test.y": "Y.tst.npz",
    }
    if "valid.texts" in roles or "valid.y" in roles:
        required.update({"valid.texts": "X.val.txt", "valid.y": "Y.val.npz"})
    return _require(root, LAYOUT_PECOS, roles, required)


def _detect_text(root: Path) -> FolderLayout | None:
    if not (_existing(root, "train_texts.txt", "train_raw_texts.txt", "train_labels.txt")):
        return None
    roles: dict[str, Path] = {}
    for split in SPLITS:
        candidates = {
            "texts": (f"{split}_texts.txt", f"{split}_raw_texts.txt"),
            "labels": (f"{split}_labels.txt",),
            "ids": (f"{split}_ids.txt",),
            "bow": (f"{split}_v1.txt", f"{split}.txt"),
        }
        for role, names in candidates.items():
            if found := _existing(root, *names):
                roles[f"{split}.{role}"] = found
    required = {}
    for split in SPLITS:
        if split == "valid" and not any(k.startswith("valid.") for k in roles):
            continue
        required[f"{split}.texts"] = f"{split}_texts.txt (or {split}_raw_texts.txt)"
        required[f"{split}.labels"] = f"{split}_labels.txt"
    if "train.bow" in roles or "test.bow" in roles:
        required["train.bow"] = "train_v1.txt (or train.txt)"
        required["test.bow"] = "test_v1.txt (or test.txt)"
    return _require(root, LAYOUT_TEXT, roles, required)


def _detect_bow(root: Path) -> FolderLayout | None:
    patterns = [("", ".txt"), ("", "_v1.txt")]
    prefixes = sorted(p.name[: -len("_train.txt")] for p in root.glob("*_train.txt"))
    patterns += [(f"{prefix}_", ".txt") for prefix in prefixes]
    for head, tail in patterns:
        roles = {
            f"{split}.bow": root / f"{head}{split}{tail}"
            for split in SPLITS
            if (root / f"{head}{split}{tail}").is_file()
        }
        if "train.bow" in roles or "test.bow" in roles:
            required = {"train.bow": f"{head}train{tail}", "test.bow": f"{head}test{tail}"}
            return _require(root, LAYOUT_BOW, roles, required)
    return None


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
