"""`xmcbench run`: train, predict, evaluate and write one record. The harness owns the clock."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .capabilities import needs_features
from .errors import XMCBenchError
from .evaluation import evaluate, inv_propensity
from .interrupts import deferred
from .leftovers import sweep as sweep_leftovers
from .notes import note
from .paths import home_relative, models_dir
from .plugins import Plugins
from .registry import MethodSpec, MetricSpec
from .run_setup import RANKING_K, RunRequest, build_method, effective_params
from .runtime import peak_rss_mb
from .train_clock import TrainClock
from .types import Dataset, TopK
from .workdir import WorkFolder, claim

__all__ = [  # RunRequest, build_method and effective_params live in run_setup (no cycle)
    "RANKING_K",
    "RunRequest",
    "build_method",
    "effective_params",
    "environment",
    "evaluate_topk",
    "folder_bytes",
    "launch_rank",
    "peak_rss_mb",
    "run",
    "workdir_for",
]

STAGED_MODEL = ".model.tmp"  # the saved model inside the work folder, before it is published


def evaluate_topk(
    topk: TopK, dataset: Dataset, metrics: Sequence[MetricSpec], ks: Sequence[int]
) -> dict[str, float]:
    """Every given metric at every k on the test split, through the public `xmcbench.evaluate`.

    Propensities are fitted on the whole training file, a carved validation split included
    (as pyxclib), with the dataset's A and B.
    """
    return evaluate(
        topk, dataset.test.labels, inv_prop=inv_propensity(dataset), ks=ks, metrics=metrics
    )


def workdir_for(request: RunRequest, dataset: Dataset, params: Mapping[str, Any]) -> Path:
    """A checkpoint folder that the same command finds again after an interruption."""
    key = json.dumps(
        [request.method, dict(params), request.seed, request.device, dataset.content_hash],
        sort_keys=True,
        default=str,
    )
    return models_dir() / "work" / hashlib.sha256(key.encode()).hexdigest()[:20]


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def worker_memory(method: Any) -> dict[str, list[float]]:
    """{"peak_rss_workers_mb": [...]} when `method` trained in worker processes, else {}.

    Such a method sets ``worker_peak_rss_mb_`` (each worker's own peak): ``peak_rss_mb`` is this
    process's alone, and the workers ran beside it, so a reader adds them up.
    """
    peaks = getattr(method, "worker_peak_rss_mb_", None) or []
    return {"peak_rss_workers_mb": [round(float(p), 1) for p in peaks]} if peaks else {}


def environment(device: str, git_sha: str | None = None) -> dict[str, Any]:
    """Versions and machine facts recorded with every run; torch only if already imported."""
    torch = sys.modules.get("torch")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "xmcbench": __version__,
        "numpy": np.__version__,
        "scipy": _package_version("scipy"),
        "torch": getattr(torch, "__version__", None),
        "device": device,
        "cpu_count": os.cpu_count(),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),  # processes of a torchrun launch
        "git_sha": git_sha if git_sha is not None else _git_sha(),
        "host": platform.node(),
    }


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git_sha() -> str | None:
    source = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if sha.returncode != 0:
        return None
    return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def launch_rank() -> int:
    """This process's rank when torchrun started several of one run (its RANK), else 0."""
    return int(os.environ.get("RANK", "0"))


def run(
    request: RunRequest, plugins: Plugins, log=note, dataset: Dataset | None = None
) -> Path | None:
    """Train, predict and score one method on one dataset; returns the record's path.

    `dataset`, when given, is the already loaded `request.dataset` (no loading here). Under
    torchrun every process trains (together, if the method trains data-parallel); only rank 0
    logs, evaluates and writes the record, the others return None after training.
    """
    from .data.resolve import load_dataset
    from .preflight import preflight

    method = preflight(request, plugins)  # parameters, device, outputs: before any data work
    secondary = launch_rank() != 0
    if secondary:
        log = _silent
    spec = plugins.methods.get(request.method)
    method_params = dict(request.params)
    if dataset is None:
        dataset = load_dataset(
            request.dataset,
            plugins.datasets,
            options=dict(request.prep),
            progress=request.progress and not secondary,
        )
    log(
        f"dataset {dataset.name}: {len(dataset.train)} train, "
        f"{len(dataset.valid) if dataset.valid is not None else 0} valid, "
        f"{len(dataset.test)} test, "
        f"{dataset.n_labels} labels"
    )
    _check_features(request.method, method, dataset)
    params = effective_params(method, {**spec.params, **method_params})
    workdir = workdir_for(request, dataset, params)
    if secondary:  # rank 0 holds the work folder and does all the reading and writing in it
        workdir.mkdir(parents=True, exist_ok=True)
        method.fit(dataset.train, dataset.valid, workdir)
        return None
    sweep_leftovers(request.results_dir, models_dir(), log)
    work = claim(workdir, log)  # ours alone: a second identical run works in a sibling
    try:
        return _train_and_record(request, plugins, spec, dataset, method, params, work)
    except BaseException:
        work.finish(failed=True)  # kept only with a checkpoint the same command can resume
        raise


def _check_features(name: str, method: Any, dataset: Dataset) -> None:
    """A method on TF-IDF rows, given a dataset without them: one line naming both, no training."""
    if not needs_features(method):
        return
    bare = [split.name for split in (dataset.train, dataset.test) if split.features is None]
    if bare:
        raise XMCBenchError(
            f"method {name!r} needs TF-IDF features, but dataset {dataset.name!r} has none in "
            f"its {' and '.join(bare)} split{'s' if len(bare) > 1 else ''}; prepare it with "
            "tfidf enabled (the default: leave out --prep tfidf=false)"
        )


def _train_and_record(
    request: RunRequest,
    plugins: Plugins,
    spec: MethodSpec,
    dataset: Dataset,
    method: Any,
    params: dict[str, Any],
    work: WorkFolder,
) -> Path:
    """Train in the held work folder, predict, score; publish the model and record together."""
    from .results.record import RunRecord, timestamp
    from .results.store import new_run_id, write_run

    code_version = _git_sha()  # the code that trains: the checkout may change during a long run
    plugin = plugins.info[spec.plugin].version if spec.plugin in plugins.info else ""
    # adds the seconds of earlier, interrupted processes that ran this same code
    clock = TrainClock(work.path, f"{code_version} xmcbench {__version__} {spec.plugin} {plugin}")
    clock.start()
    try:
        method.fit(dataset.train, dataset.valid, work.path)
    finally:
        clock.stop()

    metrics_k = max(request.ks)
    k = max(metrics_k, min(request.ranking_k, dataset.n_labels))  # no deeper than the labels
    started = time.perf_counter()
    topk = method.predict(dataset.test, k)
    predict_s = time.perf_counter() - started
    if topk.labels.shape != (len(dataset.test), k):
        raise XMCBenchError(
            f"method {spec.name!r} returned predictions of shape {topk.labels.shape}, "
            f"expected {(len(dataset.test), k)}"
        )

    metrics = evaluate_topk(topk, dataset, list(plugins.metrics), request.ks)
    run_id = new_run_id()
    model_dir = models_dir() / run_id
    staged = work.path / STAGED_MODEL  # in the locked work folder until the record exists
    method.save(staged)
    device = getattr(method, "device_", None) or request.device
    used = effective_params(method, params)  # some methods settle values in fit (auto presets)
    record = RunRecord(
        run_id=run_id,
        created_at=timestamp(),
        method=spec.name,
        plugin=spec.plugin,
        plugin_version=plugins.info[spec.plugin].version if spec.plugin in plugins.info else "",
        params=used,
        training=getattr(method, "training_summary_", None),
        seed=request.seed,
        dataset=dataset.name,
        dataset_hash=dataset.content_hash,
        n_train=len(dataset.train),
        n_valid=len(dataset.valid) if dataset.valid is not None else 0,
        n_test=len(dataset.test),
        n_labels=dataset.n_labels,
        metrics=metrics,
        propensity={"a": dataset.propensity_a, "b": dataset.propensity_b},
        timing={
            "train_s": round(clock.total_s, 3),  # every process's, when resumed
            "train_s_this_process": round(clock.this_process_s, 3),
            "resumes": clock.resumes,
            "predict_s": round(predict_s, 3),
            "predict_ms_per_doc": round(1000 * predict_s / max(len(dataset.test), 1), 4),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            **worker_memory(method),
        },
        model_bytes=folder_bytes(staged),
        model_dir=home_relative(model_dir),  # relative to XMCBENCH_HOME: portable
        prep=dict(request.prep),
        env=environment(str(device), git_sha=code_version),
        # what identifies the run: the same command resolves to `params` again
        params_before_fit=params if used != params else None,
    )
    with deferred():  # the model folder and its record appear together, or neither does
        shutil.move(staged, model_dir)
        try:
            path = write_run(request.results_dir, record, topk, head=metrics_k)
        except BaseException:
            shutil.rmtree(model_dir, ignore_errors=True)
            raise
        work.finish(failed=False)  # done: the next identical command starts afresh
    return path


def _silent(*args: Any) -> None:
    """A log that prints nothing (the secondary ranks of a torchrun launch)."""
