"""Checksums of downloaded files: CHECKSUMS.json records and sha256 and size checks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import io
from ..errors import DataFormatError, XMCBenchError
from ..registry import Source

CHECKSUMS = "CHECKSUMS.json"


class IntegrityError(XMCBenchError):
    """A file's sha256 or size differs from the expected one; never silently skipped."""


def _load_checksums(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / CHECKSUMS
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataFormatError(path, None, f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise DataFormatError(path, None, "expected {filename: {sha256, bytes}}")
    return data


def _record(folder: Path, filename: str, digest: str, size: int) -> None:
    checksums = _load_checksums(folder)
    if checksums.get(filename) != {"sha256": digest, "bytes": size}:
        checksums[filename] = {"sha256": digest, "bytes": size}
        io.write_json(folder / CHECKSUMS, checksums)


def _expected_sha(folder: Path, src: Source) -> tuple[str | None, str]:
    if src.sha256:
        return src.sha256.lower(), "the dataset card"
    recorded = _load_checksums(folder).get(src.filename, {}).get("sha256")
    return recorded, f"{folder / CHECKSUMS} (recorded on first download)"


def _check_digest(
    path: Path,
    digest: str,
    expected: str | None,
    origin: str,
    *,
    keep_aside: bool,
    final: Path | None = None,
) -> None:
    """Raise IntegrityError on a mismatch; a fresh download is then moved to <file>.bad."""
    if expected is None or digest == expected:
        return
    name = (final or path).name
    kept = ""
    if keep_aside:
        bad = path.with_name(f"{name}.bad")
        os.replace(path, bad)
        kept = f"; the download was kept aside as {bad}"
    raise IntegrityError(
        f"sha256 mismatch for {name}: got {digest}, expected {expected} from {origin}{kept}"
    )


def _check_size(folder: Path, src: Source) -> None:
    """Raise IntegrityError when a recorded download no longer has its recorded size."""
    path = folder / src.filename
    record = _load_checksums(folder).get(src.filename)
    if record is None or not path.is_file():
        return
    size = path.stat().st_size
    if size != record.get("bytes"):
        raise IntegrityError(
            f"{path} changed since download: {size} bytes, recorded {record.get('bytes')} "
            f"(sha256 {record.get('sha256')}); delete it to download again"
        )
