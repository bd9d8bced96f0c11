"""Runs grouped by configuration (mean, std and count of each metric), in the paper's order."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd

from xmcbench.results import reported

__all__ = [
    "GROUP_KEYS",
    "REPORTED_MARK",
    "best_positions",
    "dataset_order",
    "group_runs",
    "latest_per_seed",
]

REPORTED_MARK = " [reported]"
# one configuration: params_key leaves out the seed and the run-only parameters (store.params_key)
GROUP_KEYS = ["dataset", "source", "reported", "method", "params_key", "citation"]


def group_runs(frame: pd.DataFrame, metric_cols: Sequence[str]) -> pd.DataFrame:
    """One row per (dataset, source, method, params, citation) in display order.

    Columns: the keys, ``label``, ``runs``, ``seeds``, ``run_ids``, mean ``train_s`` and
    ``model_bytes``, and ``<metric>:mean`` / ``:std`` (ddof=1) / ``:n`` for every metric. A seed
    run more than once counts once (`latest_per_seed`), so ``runs`` is the number of seeds.
    """
    frame = latest_per_seed(frame.assign(citation=frame["citation"].fillna("")))
    for col in metric_cols:
        if col not in frame:
            frame[col] = math.nan
    grouped = frame.groupby(GROUP_KEYS, sort=False, dropna=False)
    summary = grouped.agg(
        variant=("variant", "first"),
        runs=("run_id", "size"),
        seeds=("seed", lambda s: list(s.dropna())),
        run_ids=("run_id", list),
        train_s=("train_s", "mean"),
        model_bytes=("model_bytes", "mean"),
    )
    stats = grouped[list(metric_cols)].agg(["mean", "std", "count"])
    stats.columns = [f"{m}:{'n' if stat == 'count' else stat}" for m, stat in stats.columns]
    summary = summary.join(stats).reset_index()
    marks = summary["reported"].map({True: REPORTED_MARK, False: ""})
    summary["label"] = summary["variant"] + marks
    return _display_order(summary)


def latest_per_seed(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with only the latest run of each (configuration, seed), in the order given.

    Running a seed again repeats a measurement, not a new sample: averaging both would shrink
    the std and count one seed twice. Latest: by ``created_at``, then ``run_id`` (ids sort by
    time), then position. Rows without a seed (the paper's reported numbers) are all kept.
    """
    keys = [*GROUP_KEYS, "seed"]
    if frame.empty or any(k not in frame for k in keys):
        return frame
    positions = frame.reset_index(drop=True)
    seeded = positions[positions["seed"].notna() & ~positions["reported"].astype(bool)]
    when = [c for c in ("created_at", "run_id") if c in seeded]
    oldest_first = seeded.sort_values(when, na_position="first", kind="stable") if when else seeded
    repeated = oldest_first.duplicated(subset=keys, keep="last")
    dropped = set(oldest_first.index[repeated])
    return frame[[i not in dropped for i in range(len(frame))]]


def _display_order(summary: pd.DataFrame) -> pd.DataFrame:
    """Paper method order, reported before measured within a method, then by label."""
    rank = {m: i for i, m in enumerate(reported.method_order())}
    keyed = summary.assign(
        _m=summary["method"].map(lambda m: rank.get(m, len(rank))),
        _s=(~summary["reported"]).astype(int),
    )
    keyed = keyed.sort_values(["_m", "method", "_s", "label"], kind="stable")
    return keyed.drop(columns=["_m", "_s"]).reset_index(drop=True)


def best_positions(means: pd.Series, higher_is_better: bool = True) -> list[int]:
    """Positions of the best mean as displayed (percent, 2 decimals), so ties are all best."""
    shown = means.mul(100).round(2).reset_index(drop=True)
    if shown.isna().all():
        return []
    best = shown.max() if higher_is_better else shown.min()
    return [int(i) for i in shown.index[shown == best]]


def dataset_order(names: Iterable[str]) -> list[str]:
    """The studies' datasets in their order, then any others alphabetically."""
    names, known = set(names), reported.dataset_order()
    return [d for d in known if d in names] + sorted(names - set(known))
