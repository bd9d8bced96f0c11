"""The Python API: load a dataset, run a method, score predictions; the CLI stands on the same.

    import xmcbench
    ds = xmcbench.load_dataset("synthetic-tiny")
    record = xmcbench.run("popularity", "synthetic-tiny", results="results")
    scores = xmcbench.evaluate(topk, ds.test.labels, inv_prop=xmcbench.inv_propensity(ds))

Plugins (methods, datasets, metrics) are found as the CLI finds them; mistakes raise
`XMCBenchError` (or ValueError from `evaluate`) with the one-line message the CLI prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import XMCBenchError
from .evaluation import EvaluationError, evaluate, inv_propensity, scores_to_topk
from .preflight import DEVICES
from .types import Dataset

if TYPE_CHECKING:
    from .plugins import Plugins
    from .results.record import RunRecord

__all__ = [
    "EvaluationError",
    "evaluate",
    "inv_propensity",
    "load_dataset",
    "run",
    "scores_to_topk",
]


def load_dataset(
    name_or_path: str | os.PathLike[str], *, progress: bool = False, **prep: Any
) -> Dataset:
    """A prepared dataset by registered name, alias or folder path, with `--prep` options.

    ``load_dataset("eurlex", max_len=300)`` prepares as ``--prep max_len=300`` does (an unknown
    or ill-typed option is an XMCBenchError before any work); prepared data is cached. The result
    has ``train``/``valid``/``test`` splits (``.labels`` CSR, ``.features`` TF-IDF, token ids),
    ``train.label_names``, and its propensity constants: see `inv_propensity`.
    """
    from .data.resolve import load_dataset as resolve_and_load
    from .notes import silenced
    from .plugins import get_plugins

    with silenced(not progress):
        return resolve_and_load(
            os.fspath(name_or_path), get_plugins().datasets, options=dict(prep), progress=progress
        )


def run(
    method: str,
    dataset: str | os.PathLike[str] | Dataset,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    results: str | os.PathLike[str] = "results",
    device: str = "auto",
    prep: Mapping[str, Any] | None = None,
    progress: bool = False,
    *,
    log: Callable[..., None] | None = None,
    plugins: Plugins | None = None,
) -> RunRecord | None:
    """Train, predict, score and write one run as `xmcbench run` does; returns its record.

    `dataset` is a name, alias or folder (prepared with `prep`), or a `Dataset` from
    `load_dataset` (its preparation is recorded; `prep` must then be None). The record is
    written under `results` (``<results>/<dataset>/<method>/<run_id>.json``, its ``.path``)
    with the top 100 ranks beside it. `progress` shows progress bars and step notes on stderr
    (`log`, when given, takes the notes). Returns None only in a secondary torchrun process.
    """
    from .notes import note, silenced
    from .plugins import get_plugins
    from .results.record import read_record
    from .run_setup import RunRequest
    from .runner import run as run_request

    plugins = get_plugins() if plugins is None else plugins
    plugins.methods.get(method)  # a misspelled method fails first, naming the close ones
    if device not in DEVICES:
        raise XMCBenchError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if params is not None and not isinstance(params, Mapping):
        raise XMCBenchError(f"params must be a mapping of hyperparameters, got {params!r}")
    if prep is not None and not isinstance(prep, Mapping):
        raise XMCBenchError(f"prep must be a mapping of preprocessing options, got {prep!r}")
    loaded = dataset if isinstance(dataset, Dataset) else None
    if loaded is None and not isinstance(dataset, str | os.PathLike):
        raise XMCBenchError(f"dataset must be a name, a folder or a Dataset, got {dataset!r}")
    if loaded is not None and prep:
        raise XMCBenchError(
            "prep applies when a dataset is prepared: pass it to xmcbench.load_dataset, "
            "or give run() the dataset's name"
        )
    request = RunRequest(
        method=method,
        dataset=loaded.name if loaded is not None else os.fspath(dataset),
        params=dict(params or {}),
        prep=dict(loaded.info.get("prep", {}) if loaded is not None else prep or {}),
        seed=seed,
        device=device,
        results_dir=Path(results),
        progress=progress,
    )
    with silenced(not progress):  # the methods' own notes and training bars too
        path = run_request(request, plugins, log=note if log is None else log, dataset=loaded)
    return None if path is None else read_record(path)
