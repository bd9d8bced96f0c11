"""Turn `--dataset NAME|PATH` into a local folder of files, then into a prepared Dataset."""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from pathlib import Path

from ..errors import UnknownNameError
from ..io import atomic_dir
from ..paths import dataset_dir
from ..registry import DatasetSpec, Registry, import_object
from ..types import Dataset

COMPLETE_MARKER = ".complete"


def resolve_spec(
    name_or_path: str, registry: Registry[DatasetSpec]
) -> tuple[DatasetSpec, Path | None]:
    """A registered name (or alias) gives its spec; an existing folder gives an ad-hoc spec."""
    if name_or_path in registry:
        return registry.get(name_or_path), None
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.resolve().name) or "local"
        return DatasetSpec(name=name, title=name, description=f"local folder {path}"), path
    known = [spec.name for spec in registry]
    for spec in registry:
        known.extend(spec.aliases)
    raise UnknownNameError("dataset", name_or_path, known)


def local_files(spec: DatasetSpec, folder: Path | None = None, *, progress: bool = True) -> Path:
    """The folder holding the dataset's files: given, built locally (once), or downloaded."""
    if folder is not None:
        return folder
    if spec.builder:
        return _built_folder(spec)
    if spec.sources:
        from .download import download

        return download(spec, progress=progress)
    raise UnknownNameError("dataset source for", spec.name, [])


def _built_folder(spec: DatasetSpec) -> Path:
    """Run the spec's builder into a folder keyed by its arguments; reuse it when complete."""
    assert spec.builder is not None
    builder = import_object(spec.builder)
    # the builder's own source is part of the key: a changed generator never reuses stale files
    source = Path(inspect.getsourcefile(builder) or "")
    code = source.read_bytes() if source.is_file() else b""
    key = hashlib.sha256(
        json.dumps([spec.builder, dict(spec.builder_args)], sort_keys=True).encode() + code
    ).hexdigest()[:16]
    target = dataset_dir(spec.name) / "raw" / f"built-{key}"
    if (target / COMPLETE_MARKER).exists():
        return target
    with atomic_dir(target) as tmp:
        builder(tmp, **spec.builder_args)
        (tmp / COMPLETE_MARKER).write_text("")
    return target


def load_dataset(
    name_or_path: str,
    registry: Registry[DatasetSpec],
    *,
    options: dict | None = None,
    progress: bool = True,
) -> Dataset:
    """Read and prepare a dataset; a cache hit (same files, same options) skips all parsing."""
    from .preprocess import PrepareOptions, prepare_folder

    spec, folder = resolve_spec(name_or_path, registry)
    opts = PrepareOptions.from_mapping(dict(options or {})).with_spec(spec)
    dataset = prepare_folder(
        local_files(spec, folder, progress=progress),
        spec.name,
        opts,
        propensity=(spec.propensity_a, spec.propensity_b),
        progress=progress,
    )
    dataset.info["prep"] = dict(options or {})  # as asked: what a run of it records as `prep`
    return dataset
