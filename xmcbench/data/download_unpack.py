"""Unpack one source's downloaded files into its files/ folder and find the data root."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .. import io
from ..registry import Source
from .archives import archive_kind, extract_tar, extract_zip

FILES_DIR = "files"


def _unpack(files: list[Source], folder: Path) -> Path:
    """Unpack the archives (and link the plain files) into folder/files; return the data root."""
    with io.atomic_dir(folder / FILES_DIR) as tmp:
        for src in files:
            path = folder / src.filename
            kind = archive_kind(path) if src.extract else None
            if kind == "zip":
                extract_zip(path, tmp)
            elif kind == "tar":
                extract_tar(path, tmp)
            else:
                _link_or_copy(path, tmp / src.filename)
    return _data_root(folder / FILES_DIR)


def _data_root(folder: Path) -> Path:
    """Descend through folders that hold a single folder (e.g. xmc-base/eurlex-4k/)."""
    while True:
        entries = list(folder.iterdir())
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            return folder
        folder = entries[0]


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
