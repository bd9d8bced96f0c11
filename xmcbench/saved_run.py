"""A finished run brought back: its saved model and its prepared dataset, found from its record."""

from __future__ import annotations

import inspect
import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParamError, XMCBenchError, describe_os_error
from .metrics import PROPENSITY_A, PROPENSITY_B
from .paths import dataset_dir, from_home, models_dir
from .plugins import Plugins
from .results.record import RunRecord
from .types import Dataset

__all__ = [
    "load_run_dataset",
    "load_run_method",
    "model_folder",
    "read_saved_array",
    "read_saved_params",
]


def model_folder(record: RunRecord | Mapping[str, Any]) -> Path | None:
    """Where the run's saved model is on this machine (None: the record names none).

    New records name it relative to XMCBENCH_HOME; older ones by an absolute path, which is
    used as it is unless it is gone and the same run's folder exists under today's home.
    """
    record = RunRecord.coerce(record)
    if record.is_reported or not record.model_dir:
        return None
    folder = from_home(record.model_dir)
    if Path(record.model_dir).is_absolute() and not folder.is_dir() and record.run_id:
        moved = models_dir() / record.run_id  # the home moved (another machine, a copy)
        if folder.name == record.run_id and moved.is_dir():
            return moved
    return folder


def load_run_method(record: RunRecord | Mapping[str, Any], plugins: Plugins) -> Any:
    """The run's trained method, rebuilt by its class's `load` from the record's ``model_dir``."""
    record = RunRecord.coerce(record)
    run_id = record.run_id or "?"
    model_dir = model_folder(record)
    if model_dir is None:
        raise XMCBenchError(f"run {run_id}: the record names no saved model (no 'model_dir')")
    if not model_dir.is_dir():
        raise XMCBenchError(
            f"run {run_id}: model folder {model_dir} is missing (deleted, or the run was made "
            "with another XMCBENCH_HOME or on another machine)"
        )
    cls = plugins.methods.get(record.method).load()
    try:
        return cls.load(model_dir)
    except ParamError as exc:  # a saved value the method now refuses
        raise XMCBenchError(f"{model_dir}: cannot load the saved model ({exc})") from exc
    except XMCBenchError:  # the method named the file and the problem itself
        raise
    except pickle.UnpicklingError as exc:  # e.g. a pickle that torch's safe loader refuses
        raise XMCBenchError(f"{model_dir}: not a model written by xmcbench") from exc
    except OSError as exc:
        raise XMCBenchError(
            f"{model_dir}: cannot load the saved model ({describe_os_error(exc)})"
        ) from exc
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError, EOFError) as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        reason = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        raise XMCBenchError(f"{model_dir}: cannot load the saved model ({reason})") from exc


def load_run_dataset(
    record: RunRecord | Mapping[str, Any], plugins: Plugins, *, progress: bool = True
) -> Dataset:
    """The prepared dataset the run was scored on: its cache folder, else prepared again.

    Preparing again only works for registered datasets; the result must have the record's hash
    (same files, same options), or the vocabulary and label ids would not be the model's.
    """
    from .data.prep_cache import load_prepared
    from .data.resolve import load_dataset

    record = RunRecord.coerce(record)
    name, digest = record.dataset, record.dataset_hash
    if not digest:
        raise XMCBenchError(f"run {record.run_id or '?'}: the record has no dataset_hash")
    spec = plugins.datasets.get(name) if name in plugins.datasets else None
    propensity = (spec.propensity_a, spec.propensity_b) if spec else (PROPENSITY_A, PROPENSITY_B)
    folder = dataset_dir(name) / "prepared" / digest
    dataset = load_prepared(folder, name, propensity=propensity, expect_hash=digest)
    if dataset is not None:
        return dataset
    if spec is None:
        raise XMCBenchError(
            f"prepared data of dataset {name!r} is not in {folder}; run the same "
            "`xmcbench run ... --dataset PATH` (same --prep options) once to prepare it again"
        )
    options = dict(record.prep)
    dataset = load_dataset(name, plugins.datasets, options=options, progress=progress)
    if dataset.content_hash != digest:
        raise XMCBenchError(
            f"dataset {name!r} no longer prepares to the run's data (hash {digest[:12]}, now "
            f"{dataset.content_hash[:12]}): its files or preprocessing changed since the run"
        )
    return dataset


def read_saved_params(path: Path, cls: type) -> dict[str, Any]:
    """A saved model's parameter file (a JSON object) whose keys `cls` takes, else one error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise XMCBenchError(f"{path}: not valid JSON ({exc})") from None
    except UnicodeDecodeError:
        raise XMCBenchError(f"{path}: not a model written by xmcbench (not text)") from None
    if not isinstance(data, dict):
        raise XMCBenchError(f"{path}: not a model written by xmcbench (not a JSON object)")
    accepted = inspect.signature(cls).parameters
    unknown = sorted(set(data) - set(accepted))
    if unknown:
        raise XMCBenchError(
            f"{path}: unknown parameter(s) {', '.join(map(repr, unknown))} for "
            f"{cls.__name__} (saved by another version, or edited?)"
        )
    return data


def construct_saved(cls: type, path: Path) -> Any:
    """`cls` built from the saved parameter file `path`; a rejected value names the file."""
    params = read_saved_params(path, cls)
    try:
        return cls(**params)
    except ValueError as exc:  # a saved value out of range (edited, or another version)
        raise XMCBenchError(f"{path}: {exc}") from exc


def read_saved_array(path: Path) -> np.ndarray:
    """A saved .npy array; pickled objects are refused (they could run code), as is garbage."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError) as exc:
        raise XMCBenchError(f"{path}: not a model written by xmcbench") from exc
