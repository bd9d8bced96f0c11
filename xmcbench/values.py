"""Parameter values from text: `--set key=value` strings and TOML/JSON config files.

Shared by the command line and the sweep planner, so neither imports the other.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import XMCBenchError

__all__ = ["parse_assignments", "parse_value", "read_config"]


def parse_value(text: str) -> Any:
    """`--set` values: JSON (3, 0.5, true, [1,2]), number lists like "512,256", else text."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if "," in text:
        parts = [parse_value(part) for part in text.split(",")]
        if all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in parts):
            return parts
    return text


def parse_assignments(pairs: Sequence[str], option: str) -> dict[str, Any]:
    """`key=value` pairs (from `option`, named in errors) as a dict of parsed values."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise XMCBenchError(f"{option} expects key=value, got {pair!r}")
        result[key.strip()] = parse_value(value)
    return result


def read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A TOML or JSON file of method parameters, with an optional `prep` table."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise XMCBenchError(f"{path}: cannot read config: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise XMCBenchError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise XMCBenchError(f"{path}: expected a table of parameters")
    prep = data.pop("prep", {})
    if not isinstance(prep, dict):
        raise XMCBenchError(
            f"{path}: 'prep' must be a table of preprocessing options, got {prep!r}"
        )
    return data, prep
