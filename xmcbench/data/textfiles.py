"""Line-per-document files (texts, labels, ids) and the checks every raw reader shares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import DataFormatError

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
