"""Dataset cards: one TOML file per benchmark, read into a DatasetSpec and checked strictly.

A card holds: name, title, aliases, description, valid_size, [propensity] a/b, [stats] (the
paper's Table 1 row), [[sources]] (url, filename, sha256, kind, extract, name), and optionally
builder / [builder_args] for datasets made locally. Unknown keys are errors, so typos surface.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from ..errors import DataFormatError
from ..metrics import PROPENSITY_A, PROPENSITY_B
from ..registry import DatasetSpec, Source

try:  # Python 3.11+; on 3.10 the tomli backport reads the same format
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - depends on the interpreter
    import tomli as tomllib  # type: ignore[no-redef]

CARDS_PACKAGE = "xmcbench.cards"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
SOURCE_KINDS = ("http", "gdrive")

_TOP_KEYS = {
    "name",
    "title",
    "aliases",
    "description",
    "valid_size",
    "propensity",
    "stats",
    "sources",
    "builder",
    "builder_args",
}
_SOURCE_KEYS = {"url", "filename", "sha256", "kind", "extract", "name"}


class _CardError(Exception):
    """A problem inside a card; load_card turns it into a DataFormatError naming the file."""


def load_card(path: str | Path | Traversable) -> DatasetSpec:
    """Read one card file into a DatasetSpec; any problem is a DataFormatError naming the card."""
    if isinstance(path, str):
        path = Path(path)
    card_path = Path(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFormatError(card_path, None, f"cannot read card: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataFormatError(card_path, None, "card is not UTF-8 text") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(card_path, _toml_line(exc), f"invalid TOML: {exc}") from exc
    try:
        return _spec_from_table(data, card_path)
    except _CardError as exc:
        raise DataFormatError(card_path, None, str(exc)) from exc


def builtin_cards() -> list[DatasetSpec]:
    """Every card shipped with xmcbench, sorted by name."""
    cards = [load_card(entry) for entry in _card_files()]
    names = [spec.name for spec in cards]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataFormatError(cards_location(), None, f"duplicate card names: {duplicates}")
    return sorted(cards, key=lambda spec: spec.name)


def cards_location() -> Path:
    """Where the built-in cards are read from (package data, else the repo's datasets/)."""
    return Path(str(_cards_root()))


def _cards_root() -> Traversable:
    try:
        return resources.files(CARDS_PACKAGE)
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "datasets"


def _card_files() -> list[Traversable]:
    root = _cards_root()
    if not root.is_dir():
        return []
    return sorted(
        (entry for entry in root.iterdir() if entry.name.endswith(".toml") and entry.is_file()),
        key=lambda entry: entry.name,
    )


def _toml_line(exc: tomllib.TOMLDecodeError) -> int | None:
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else None


def _spec_from_table(data: Mapping[str, Any], card: Path) -> DatasetSpec:
    _reject_unknown(data, _TOP_KEYS, "card")
    name = _string(data, "name", required=True)
    if not NAME_PATTERN.match(name):
        raise _CardError(f"name {name!r} must be lowercase letters, digits, '.', '_' or '-'")
    propensity = _table(data, "propensity")
    _reject_unknown(propensity, {"a", "b"}, "[propensity]")
    sources = data.get("sources", [])
    if not isinstance(sources, list):
        raise _CardError("'sources' must be an array of tables ([[sources]])")
    parsed_sources = tuple(_source(entry, index) for index, entry in enumerate(sources, 1))
    _check_unique_files(parsed_sources)
    builder = data.get("builder")
    if builder is not None and (not isinstance(builder, str) or ":" not in builder):
        raise _CardError("'builder' must be a string 'package.module:function'")
    if not parsed_sources and builder is None:
        raise _CardError("a card needs at least one [[sources]] entry or a 'builder'")
    return DatasetSpec(
        name=name,
        title=_string(data, "title") or name,
        aliases=_aliases(data.get("aliases", []), name),
        description=" ".join(_string(data, "description").split()),
        valid_size=_valid_size(data.get("valid_size")),
        propensity_a=_number(propensity, "a", PROPENSITY_A, "[propensity]"),
        propensity_b=_number(propensity, "b", PROPENSITY_B, "[propensity]"),
        stats=_stats(_table(data, "stats")),
        sources=parsed_sources,
        builder=builder,
        builder_args=dict(_table(data, "builder_args")),
        card=card,
    )


def _reject_unknown(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _CardError(
            f"unknown key(s) in {where}: {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )


def _string(table: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = table.get(key)
    if value is None:
        if required:
            raise _CardError(f"missing required key {key!r}")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise _CardError(f"{key!r} must be a non-empty string, got {value!r}")
    return value


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _CardError(f"'{key}' must be a table ([{key}])")
    return value


def _number(table: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _CardError(f"{where} {key} must be a number, got {value!r}")
    return float(value)


def _aliases(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(alias, str) for alias in value):
        raise _CardError("'aliases' must be a list of strings")
    for alias in value:
        if not NAME_PATTERN.match(alias) or alias == name:
            raise _CardError(f"alias {alias!r} must be a lowercase name different from {name!r}")
    if len(set(value)) != len(value):
        raise _CardError(f"'aliases' lists a name twice: {value}")
    return tuple(value)


def _valid_size(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _CardError(f"'valid_size' must be a positive integer, got {value!r}")
    return value


def _stats(table: Mapping[str, Any]) -> dict[str, float]:
    stats: dict[str, float] = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _CardError(f"[stats] {key} must be a non-negative number, got {value!r}")
        stats[key] = value
    return stats


def _source(entry: Any, index: int) -> Source:
    where = f"[[sources]] #{index}"
    if not isinstance(entry, dict):
        raise _CardError(f"{where} must be a table")
    _reject_unknown(entry, _SOURCE_KEYS, where)
    url = _string(entry, "url", required=True)
    kind = entry.get("kind", "http")
    if kind not in SOURCE_KINDS:
        raise _CardError(f"{where} kind must be one of {SOURCE_KINDS}, got {kind!r}")
    if kind == "http" and not url.startswith(("http://", "https://")):
        raise _CardError(f"{where} url must start with http:// or https://, got {url!r}")
    filename = entry.get("filename") or (url.rsplit("/", 1)[-1] if kind == "http" else "")
    if not is_plain_filename(filename):
        raise _CardError(f"{where} needs a plain 'filename' (no folders), got {filename!r}")
    sha256 = entry.get("sha256") or None
    if sha256 is not None and (not isinstance(sha256, str) or not SHA256_PATTERN.match(sha256)):
        raise _CardError(f"{where} sha256 must be 64 lowercase hex digits or empty")
    extract = entry.get("extract", True)
    if not isinstance(extract, bool):
        raise _CardError(f"{where} extract must be true or false")
    name = entry.get("name") or f"source{index}"
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise _CardError(f"{where} name must be a lowercase name, got {name!r}")
    return Source(url=url, filename=filename, sha256=sha256, kind=kind, extract=extract, name=name)


def is_plain_filename(filename: Any) -> bool:
    """True for a bare file name that cannot point outside its folder."""
    return (
        isinstance(filename, str)
        and filename not in ("", ".", "..")
        and "/" not in filename
        and "\\" not in filename
        and "\x00" not in filename
        and not filename.startswith(".")
    )


def _check_unique_files(sources: Iterable[Source]) -> None:
    seen: set[tuple[str, str]] = set()
    for source in sources:
        key = (source.name, source.filename)
        if key in seen:
            raise _CardError(f"source {source.name!r} lists file {source.filename!r} twice")
        seen.add(key)
