"""Parse Extreme Classification Repository sparse BOW files; errors name file and line."""

from __future__ import annotations

import itertools
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..errors import DataFormatError
from .textfiles import _absurd, _require_documents, id_limit, iter_lines

_BOW_CHUNK = 100_000  # BOW lines converted to arrays at once: bounds the temporary strings
_MAX_FEATURES = 2**31 - 1  # feature ids are stored as int32 CSR indices
_BOW_HEADER = re.compile(r"\s*(\d+)\s+(\d+)\s+(\d+)\s*")
_BOW_ROW = re.compile(r"(\d+(?:,\d+)*)?((?:[ \t]+\d+:[^\s:,]+)*)[ \t]*")


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
