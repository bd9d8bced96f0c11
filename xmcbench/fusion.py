"""`xmcbench fuse`: combine saved runs on one dataset into a new run, scored like any other.

Each source run's saved ranking (its top 100 for runs since rankings deepened, its top 5 before)
is turned into per-label scores on a common scale, and the fused score of a label is the
weighted mean over the runs, a label missing from a run's saved ranking counting as 0:

- ``combine="score"`` (default): a run whose scores all lie in [0, 1] (probabilities: AttentionXML,
  XML-CNN, PLT; omikuji's Parabel/Bonsai scores; popularity's frequencies) is used as it is, like
  the original AttentionXML ensemble, which averages its trees' probabilities over their top 100.
  A run with scores outside [0, 1] (an unknown scale) is min-max scaled per document over its
  saved ranking, so its best label scores 1 and its last saved one 0.
- ``combine="rank"``: reciprocal-rank fusion, 1 / (60 + rank) (Cormack et al., 2009), which
  ignores the scores' scale altogether.

The fused ranking is as deep as the deepest source's and is scored with the runner's metric code
on the run's prepared dataset; the record's ``params`` list the source runs, methods and weights.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import XMCBenchError
from .metrics import DEFAULT_KS
from .plugins import Plugins
from .results.lookup import find_run
from .results.record import RunRecord, timestamp
from .results.store import load_ranking, new_run_id, write_run
from .runner import (
    RANKING_K,
    environment,
    evaluate_topk,
    peak_rss_mb,
)
from .saved_run import load_run_dataset
from .types import Dataset, TopK

__all__ = ["COMBINES", "FusionResult", "fuse_rankings", "fuse_runs", "parse_weights"]

COMBINES = ("score", "rank")
RRF_K = 60  # reciprocal-rank fusion's constant (Cormack, Clarke and Buettcher, 2009)
AS_SAVED, MIN_MAX, RECIPROCAL_RANK = "as saved (in [0, 1])", "min-max per document", "1/(60+rank)"


@dataclass(frozen=True)
class FusionResult:
    """The fused run's record file and the notes worth telling the user."""

    path: Path
    notes: tuple[str, ...]


def parse_weights(text: str | None, n_runs: int) -> list[float]:
    """`--weights 0.5,0.5`: one non-negative number per run, summing above 0 (default: equal)."""
    if text is None:
        return [1.0 / n_runs] * n_runs
    parts = [part.strip() for part in text.split(",")]
    weights = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise XMCBenchError(f"--weights: {part!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise XMCBenchError(f"--weights must be non-negative numbers, got {part!r}")
        weights.append(value)
    if len(weights) != n_runs:
        raise XMCBenchError(f"--weights has {len(weights)} value(s) for {n_runs} runs")
    if sum(weights) <= 0:
        raise XMCBenchError("--weights sum to 0: at least one weight must be positive")
    return weights


def common_scale(topk: TopK, combine: str) -> tuple[np.ndarray, str]:
    """A run's (n, K) scores on the fusion's scale, and that scale's name for the record."""
    valid = topk.labels >= 0  # (n, K)
    if combine == "rank":
        ranks = np.arange(1, topk.k + 1, dtype=np.float64)[None, :]  # (1, K)
        return np.where(valid, 1.0 / (RRF_K + ranks), 0.0), RECIPROCAL_RANK
    scores = topk.scores.astype(np.float64)  # (n, K)
    usable = valid & np.isfinite(scores)  # (n, K)
    finite = scores[usable]
    if finite.size == 0 or (finite.min() >= 0.0 and finite.max() <= 1.0):
        return np.where(usable, scores, 0.0), AS_SAVED
    low = np.where(usable, scores, np.inf).min(axis=1, keepdims=True)  # (n, 1)
    high = np.where(usable, scores, -np.inf).max(axis=1, keepdims=True)  # (n, 1)
    spread = high > low  # (n, 1); a row with one distinct score scales it to 1
    scaled = (scores - np.where(spread, low, 0.0)) / np.where(spread, high - low, 1.0)
    return np.where(usable, np.where(spread, scaled, 1.0), 0.0), MIN_MAX


def fuse_rankings(
    rankings: Sequence[TopK],
    weights: Sequence[float],
    n_labels: int,
    *,
    combine: str = "score",
    depth: int | None = None,
) -> TopK:
    """Weighted mean of the runs' per-label scores (0 where a run did not rank the label).

    Returns the best `depth` labels per document (default: the deepest ranking's depth),
    ties broken by the lower label id, padded with label -1 and score -inf.
    """
    if combine not in COMBINES:
        raise XMCBenchError(f"unknown combination {combine!r} (known: {', '.join(COMBINES)})")
    n = len(rankings[0])
    depth = depth or max(r.k for r in rankings)
    total = float(sum(weights))
    keys, values = [], []
    for topk, weight in zip(rankings, weights, strict=True):
        if weight == 0:  # a zero weight adds no labels either
            continue
        scaled, _ = common_scale(topk, combine)  # (n, K)
        valid = topk.labels >= 0  # (n, K)
        rows = np.broadcast_to(np.arange(n, dtype=np.int64)[:, None], valid.shape)[valid]
        keys.append(rows * n_labels + topk.labels[valid].astype(np.int64))  # (m,) row, label
        values.append(scaled[valid] * (weight / total))
    key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    value = np.concatenate(values) if values else np.zeros(0)
    order = np.argsort(key, kind="stable")
    unique, starts = np.unique(key[order], return_index=True)  # one entry per (row, label)
    fused = np.add.reduceat(value[order], starts) if len(unique) else np.zeros(0)
    rows, labels = unique // n_labels, unique % n_labels
    best = np.lexsort((labels, -fused, rows))  # by row, then score down, then label id up
    rows, labels, fused = rows[best], labels[best], fused[best]
    first = np.searchsorted(rows, np.arange(n))  # (n,) where each row starts
    rank = np.arange(len(rows)) - first[rows]
    keep = rank < depth
    out_labels = np.full((n, depth), -1, dtype=np.int32)  # (n, depth)
    out_scores = np.full((n, depth), -np.inf, dtype=np.float32)
    out_labels[rows[keep], rank[keep]] = labels[keep]
    out_scores[rows[keep], rank[keep]] = fused[keep]
    return TopK(labels=out_labels, scores=out_scores)


@dataclass(frozen=True)
class _Source:
    path: Path
    record: RunRecord
    ranking: TopK

    @property
    def run_id(self) -> str:
        """The run's id, or its file's name for a record without one."""
        return self.record.run_id or self.path.stem


def fuse_runs(
    runs: Sequence[str],
    results_dir: Path,
    plugins: Plugins,
    *,
    weights: str | None = None,
    name: str | None = None,
    combine: str = "score",
) -> FusionResult:
    """Fuse saved runs (record paths, ids or id prefixes) into a new record under `results_dir`."""
    if len(runs) < 2:
        raise XMCBenchError("fuse needs at least two runs")
    if combine not in COMBINES:
        raise XMCBenchError(f"--combine must be one of {', '.join(COMBINES)}, got {combine!r}")
    method = name or "fusion"
    if method in plugins.methods:
        raise XMCBenchError(
            f"--name {method!r} is a registered method; give the fused run another name"
        )
    parsed_weights = parse_weights(weights, len(runs))
    sources = _load_sources(runs, Path(results_dir))
    dataset = load_run_dataset(sources[0].record, plugins, progress=False)
    notes: list[str] = []
    for source in sources:
        rid = source.run_id
        if len(source.ranking) != len(dataset.test):
            raise XMCBenchError(
                f"run {rid}: {len(source.ranking)} ranked documents, but its dataset has "
                f"{len(dataset.test)} test documents"
            )
        if source.ranking.labels.max(initial=-1) >= dataset.n_labels:
            raise XMCBenchError(
                f"run {rid}: its top-k names label ids beyond the dataset's {dataset.n_labels}"
            )
        if source.ranking.k < min(RANKING_K, dataset.n_labels):
            notes.append(
                f"run {rid} saved only its top {source.ranking.k} (an older run): labels "
                "below that count as 0 from it, so the fusion is coarser than with deeper rankings"
            )
    rankings = [s.ranking for s in sources]
    scales = [common_scale(r, combine)[1] for r in rankings]
    for source, scale in zip(sources, scales, strict=True):
        if scale == MIN_MAX:
            notes.append(
                f"run {source.run_id}: scores outside [0, 1], scaled min-max per "
                "document before averaging"
            )
    depth = max(max(DEFAULT_KS), *(r.k for r in rankings))
    started = time.perf_counter()  # the combining itself: what a fused model adds per document
    fused = fuse_rankings(rankings, parsed_weights, dataset.n_labels, combine=combine, depth=depth)
    fuse_s = time.perf_counter() - started
    metrics = evaluate_topk(fused, dataset, list(plugins.metrics), DEFAULT_KS)
    record = _fused_record(sources, parsed_weights, scales, method, combine, metrics, dataset)
    record = dataclasses.replace(
        record,
        run_id=new_run_id(),
        timing=_fused_timing(sources, fuse_s, len(dataset.test)),
        env=environment("cpu"),
    )
    path = write_run(Path(results_dir), record, fused, head=max(DEFAULT_KS))
    return FusionResult(path=path, notes=tuple(notes))


def _load_sources(runs: Sequence[str], results_dir: Path) -> list[_Source]:
    """Resolve each RUN, refuse duplicates, reported rows and runs on different data."""
    sources: list[_Source] = []
    for run in runs:
        path, found = find_run(run, results_dir)
        record = RunRecord.coerce(found)
        rid = record.run_id or path.stem
        if record.is_reported:
            raise XMCBenchError(f"run {rid}: a reported result has no predictions to fuse")
        if any(s.run_id == rid for s in sources):
            raise XMCBenchError(f"run {rid} is given twice")
        if not record.dataset_hash:
            raise XMCBenchError(f"run {rid}: the record has no dataset_hash to match data by")
        first = sources[0].record if sources else record
        if record.dataset_hash != first.dataset_hash:
            raise XMCBenchError(
                f"runs {first.run_id} ({_data_of(first)}) and {rid} ({_data_of(record)}) "
                "are on different data; only runs on the same prepared dataset can be fused"
            )
        sources.append(_Source(path=path, record=record, ranking=load_ranking(path)))
    return sources


def _data_of(record: RunRecord) -> str:
    digest = record.dataset_hash or "no hash"
    return f"{record.dataset}, data {digest[:12]}"


def _fused_record(
    sources: Sequence[_Source],
    weights: Sequence[float],
    scales: Sequence[str],
    method: str,
    combine: str,
    metrics: dict[str, float],
    dataset: Dataset,
) -> RunRecord:
    """A record like a run's, its params naming the sources; its size is theirs together."""
    records = [s.record for s in sources]
    first = records[0]
    seeds = {r.seed for r in records}
    return RunRecord(
        created_at=timestamp(),
        method=method,
        plugin="xmcbench",
        plugin_version=__version__,
        params={
            "combine": combine,
            "runs": [r.run_id for r in records],
            "methods": [r.method for r in records],
            "weights": [round(w, 6) for w in weights],
        },
        seed=seeds.pop() if len(seeds) == 1 else None,
        dataset=first.dataset,
        dataset_hash=first.dataset_hash,
        n_train=first.n_train if first.n_train is not None else len(dataset.train),
        n_valid=first.n_valid if first.n_valid is not None else 0,
        n_test=len(dataset.test),
        n_labels=dataset.n_labels,
        metrics=metrics,
        propensity={"a": dataset.propensity_a, "b": dataset.propensity_b},
        model_bytes=sum(int(r.model_bytes or 0) for r in records),
        model_dir=None,
        prep=dict(first.prep),
        extra={
            "fusion": {
                "sources": [
                    {
                        "run_id": s.record.run_id,
                        "method": s.record.method,
                        "weight": w,
                        "record": str(s.path),
                        "ranking_k": s.ranking.k,
                        "scale": scale,
                    }
                    for s, w, scale in zip(sources, weights, scales, strict=True)
                ],
            },
        },
    )


def _fused_timing(sources: Sequence[_Source], fuse_s: float, n_test: int) -> dict[str, Any]:
    """The cost of the fused model: every source trains and predicts, then the fusion runs."""
    timings = [s.record.timing or {} for s in sources]
    predict_s = sum(t.get("predict_s") or 0.0 for t in timings) + fuse_s
    return {
        "train_s": round(sum(t.get("train_s") or 0.0 for t in timings), 3),
        "train_s_this_process": 0.0,
        "resumes": 0,
        "predict_s": round(predict_s, 3),
        "predict_ms_per_doc": round(1000 * predict_s / max(n_test, 1), 4),
        "fuse_s": round(fuse_s, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
