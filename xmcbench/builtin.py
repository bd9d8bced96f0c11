"""The built-in plugin: popularity, the synthetic and paper datasets, the standard metrics.

It is declared in the `xmcbench` entry-point group and loaded like any third-party plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .hookspecs import hookimpl
from .registry import DatasetSpec

SYNTHETIC_DATASETS = {
    "synthetic": ("default", "The default synthetic dataset: a few minutes of CPU training."),
    "synthetic-tiny": ("tiny", "A tiny synthetic dataset for tests: seconds."),
    "synthetic-large": ("large", "A larger synthetic dataset with thousands of labels."),
    "synthetic-million": ("million", "A synthetic dataset with 1,000,000 labels (stress test)."),
}


@hookimpl
def register_methods(register: Callable[..., Any]) -> None:
    register(
        "popularity",
        "xmcbench.methods.popularity:Popularity",
        description="Predicts the most frequent training labels: the floor of every table.",
    )


@hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    from .data.cards import builtin_cards
    from .data.synthetic import PRESETS

    for name, (preset, description) in SYNTHETIC_DATASETS.items():
        config = PRESETS[preset]
        register(
            DatasetSpec(
                name=name,
                title=f"Synthetic ({preset})",
                aliases=("default",) if name == "synthetic" else (),
                description=description + " Generated locally, deterministic, no network.",
                stats={
                    "n_train": config.n_train,
                    "n_test": config.n_test,
                    "n_labels": config.n_labels,
                },
                builder="xmcbench.data.synthetic:build",
                builder_args={"preset": preset, "seed": 0},
            )
        )
    for spec in builtin_cards():
        register(spec)


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    from . import metrics

    register("p", metrics.precision_at_k, description="precision at k", label="P", order=0)
    register(
        "ndcg",
        metrics.ndcg_at_k,
        description="normalised DCG at k",
        label="N",
        order=1,
        aliases=("n",),
    )
    register(
        "psp",
        metrics.psprecision_at_k,
        needs_propensity=True,
        description="propensity-scored precision at k (normalised as pyxclib)",
        label="PSP",
        order=2,
    )
    register(
        "psndcg",
        metrics.psndcg_at_k,
        needs_propensity=True,
        description="propensity-scored nDCG at k (normalised as pyxclib)",
        label="PSnDCG",
        order=3,
        aliases=("psn",),
    )
