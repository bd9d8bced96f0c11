"""Where xmcbench keeps downloads, prepared datasets and models: $XMCBENCH_HOME."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """$XMCBENCH_HOME, else $XDG_CACHE_HOME/xmcbench, else ~/.cache/xmcbench."""
    explicit = os.environ.get("XMCBENCH_HOME")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "xmcbench"


def dataset_dir(name: str) -> Path:
    """Root of one dataset's files: raw/ (downloads) and prepared/<hash>/ (cached preprocessing)."""
    return home() / "datasets" / name


def models_dir() -> Path:
    """Checkpoints and saved models, one folder per run."""
    return home() / "models"


def home_relative(path: str | Path) -> str:
    """`path` as records store it: relative to home() when inside it (portable), else absolute."""
    resolved = Path(path).expanduser().resolve()
    try:
        return resolved.relative_to(home().expanduser().resolve()).as_posix()
    except ValueError:
        return str(resolved)


def from_home(stored: str | Path) -> Path:
    """A path a record stored: relative ones lie under home(); absolute ones (older runs) as is."""
    path = Path(stored).expanduser()
    return path if path.is_absolute() else home() / path
