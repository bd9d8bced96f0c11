"""A finished run brought back: its saved model and its prepared dataset, found from its record."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import XMCBenchError
from .paths import dataset_dir
from .plugins import Plugins
from .types import Dataset

__all__ = ["load_run_dataset", "load_run_method"]


def load_run_method(record: Mapping[str, Any], plugins: Plugins) -> Any:
    """The run's trained method, rebuilt by its class's `load` from the record's ``model_dir``."""
    run_id = record.get("run_id", "?")
    if record.get("source") == "reported" or not record.get("model_dir"):
        raise XMCBenchError(f"run {run_id}: the record names no saved model (no 'model_dir')")
    model_dir = Path(record["model_dir"])
    if not model_dir.is_dir():
        raise XMCBenchError(
            f"run {run_id}: model folder {model_dir} is missing (deleted, or the run was made "
            "with another XMCBENCH_HOME or on another machine)"
        )
    cls = plugins.methods.get(record["method"]).load()
    try:
        return cls.load(model_dir)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise XMCBenchError(f"{model_dir}: cannot load the saved model ({exc})") from exc


def load_run_dataset(
    record: Mapping[str, Any], plugins: Plugins, *, progress: bool = True
) -> Dataset:
    """The prepared dataset the run was scored on: its cache folder, else prepared again.

    Preparing again only works for registered datasets; the result must have the record's hash
    (same files, same options), or the vocabulary and label ids would not be the model's.
    """
    from .data.preprocess import load_prepared
    from .data.resolve import load_dataset

    name, digest = record["dataset"], record.get("dataset_hash")
    if not digest:
        raise XMCBenchError(f"run {record.get('run_id', '?')}: the record has no dataset_hash")
    spec = plugins.datasets.get(name) if name in plugins.datasets else None
    propensity = (spec.propensity_a, spec.propensity_b) if spec else (0.55, 1.5)
    folder = dataset_dir(name) / "prepared" / digest
    dataset = load_prepared(folder, name, propensity=propensity, expect_hash=digest)
    if dataset is not None:
        return dataset
    if spec is None:
        raise XMCBenchError(
            f"prepared data of dataset {name!r} is not in {folder}; run the same "
            "`xmcbench run ... --dataset PATH` (same --prep options) once to prepare it again"
        )
    options = dict(record.get("prep") or {})
    dataset = load_dataset(name, plugins.datasets, options=options, progress=progress)
    if dataset.content_hash != digest:
        raise XMCBenchError(
            f"dataset {name!r} no longer prepares to the run's data (hash {digest[:12]}, now "
            f"{dataset.content_hash[:12]}): its files or preprocessing changed since the run"
        )
    return dataset
