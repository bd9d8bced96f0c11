"""The `auto` preset: a configuration chosen from the data's shape and the device, with reasons.

Rules (each a plain function of documents, labels, tokens per document and the device):

* flat model up to `FLAT_LABELS` labels (4,096 on CPU, where every step scores every label;
  32,768 on GPU, the paper's flat Wiki10-31K); above, a label tree whose height is the smallest
  that leaves at most `LEVEL1_NODES` nodes at level 1 (CPU: K = M = 32, C = 16, like `cpu-tree`;
  GPU: the paper's K = M = 8, C = 160, which gives its H = 3 for Amazon-670K and Amazon-3M);
* max_len: the 95th percentile of tokens per training document, rounded up to a multiple of 8,
  within [16, 256] on CPU and [16, 500] (the paper's) on GPU;
* CPU: a moderate network (`CPU_VALUES`, measured on two real datasets), an ensemble of three
  for a flat model (`CPU_FLAT`); for a label tree one tree per free CPU, up to three, trained
  at once, with level 2's attention vectors starting at their parents' and lighter dropout
  (`CPU_TREE_DROPOUT`: the budget, not overfitting, ends its training); 30 minutes of training
  (`time_budget`), epochs only a generous cap: training ends by the budget or early stopping;
* GPU: no budget; the paper's small-data setting (Table 2, EUR-Lex/Wiki10-31K) below 100,000
  training documents, its large-data one (AmazonCat-13K and the trees) above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from xmcbench.deep.budget import format_duration
from xmcbench.runtime import thread_count

from .params import CHOOSE_EXPONENT

FLAT_LABELS = {"cpu": 4_096, "cuda": 32_768}
LEVEL1_NODES = {"cpu": 2_048, "cuda": 8_192}
TREE = {"cpu": {"tree_k": 32, "candidates": 16}, "cuda": {"tree_k": 8, "candidates": 160}}
MAX_LEN_CAP = {"cpu": 256, "cuda": 500}
LARGE_DATA = 100_000  # training documents from which the GPU takes the paper's large setting
CPU_BUDGET_S = 1800.0

# what the auto preset sets on CPU before the data is seen (the data-dependent ones follow at
# fit). Measured against the `cpu` presets' narrower network at lr 1e-2 and light dropout, which
# overfits and stops by patience early in a 30-minute budget:
# - debian-short (29k short texts, 400 labels, flat, one thread): P@1 77.52 -> 80.07;
# - debian-depends (36k docs, 33,535 labels, label tree, 2 threads): 69.83 / 45.25 / 33.73 ->
#   71.56 / 46.66 / 35.05 (Bonsai 71.84 / 49.02 / 37.58), using the whole budget.
CPU_VALUES: dict[str, Any] = {
    "embedding_dim": 200,
    "hidden_size": 128,
    "fc_sizes": (256,),
    "epochs": 30,  # a cap: the budget or early stopping ends training first
    "batch_size": 32,
    "lr": 3e-3,  # the cpu presets' 1e-2 was sized for a few hundred steps, not a 30m budget
    "embedding_dropout": 0.2,  # the paper's: the wider network overfits sooner
    "encoder_dropout": 0.5,
    "swa_warmup": 20,  # under the budget SWA starts at the plateau or 60% of the time first
    "eval_every": 250,
    "patience": 10,
    "ppmi_max_words": 30_000,
    "precision": "bf16",
    "time_budget": format_duration(CPU_BUDGET_S),
    "valid_size": 1000,
}
# a flat model stops by patience well inside the budget, so it affords the paper's ensemble of
# three: debian-short 80.07 / 49.96 / 36.41 -> 81.09 / 51.17 / 37.27 in 740 s (Parabel 80.19 /
# 50.58 / 37.00). A label tree on CPU keeps one model: there the budget is the limit.
CPU_FLAT: dict[str, Any] = {"trees": 3}
# A label tree on CPU is budget-bound, so its ensemble is what trains at once: one tree per
# free CPU (`parallel.py`), up to the paper's three. A BiLSTM step gains nothing from a second
# thread (bench_parallel_trees.py: 106 docs/s on 2 threads, 281 in two processes), so on two
# cores two trees cost no more time than one. debian-depends, 30 minutes: one tree 71.56 /
# 46.66 / 35.05, two trees in turn (15 minutes each) 71.09 / 45.87 / 34.00, two trees at once
# (with level_init="parent") 72.87 / 47.92 / 35.90, rerun with a record 73.08 / 48.08 / 36.12.
CPU_TREE_MAX = 3
CPU_TREE_LEVEL_INIT = "parent"  # see levels.init_from_level_above
# A label tree on CPU is budget-bound (still improving when the 30 minutes end), a flat model
# stops by patience (it overfits first): the tree trains with lighter dropout. debian-depends,
# one tree, one thread, 30 minutes: 0.2 / 0.5 gives 71.68 / 46.61 / 34.88, 0.1 / 0.3 gives
# 71.69 / 47.10 / 35.40 (level-1 validation nDCG@5 0.620 -> 0.635).
CPU_TREE_DROPOUT: dict[str, Any] = {"embedding_dropout": 0.1, "encoder_dropout": 0.3}
# Such a tree's levels are not equally sure: its label scores weigh the ancestors' path
# probability by an exponent chosen on the validation documents (0, `path.py`). debian-depends,
# the two-tree default's saved trees: validation chose 0.5 (P@5 36.32 at 1); on the test set
# 72.75 / 48.47 / 36.51 at 1 became 72.87 / 48.76 / 36.73 (two single trees: +0.33 / +0.15 P@3).
CPU_TREE_PATH: dict[str, Any] = {"path_exponent": CHOOSE_EXPONENT}
GPU_SMALL: dict[str, Any] = {  # Table 2's EUR-Lex / Wiki10-31K setting
    "embedding_dim": 300,
    "hidden_size": 256,
    "fc_sizes": (256,),
    "epochs": 30,
    "batch_size": 40,
    "swa_warmup": 10,
    "valid_size": 200,
    "time_budget": "none",
    "trees": 3,  # the paper's AttentionXML: an ensemble of three
}
GPU_LARGE: dict[str, Any] = {  # Table 2's AmazonCat-13K and label-tree setting
    "embedding_dim": 300,
    "hidden_size": 512,
    "fc_sizes": (512, 256),
    "epochs": 10,
    "batch_size": 200,
    "swa_warmup": 2,
    "valid_size": 4000,
    "time_budget": "none",
    "trees": 3,  # the paper's AttentionXML: an ensemble of three
}
DATA_DEPENDENT = (
    "max_len", "tree_height", "tree_k", "candidates", "level_init", *CPU_FLAT, *CPU_TREE_DROPOUT,
    *CPU_TREE_PATH,
)  # fmt: skip


@dataclass(frozen=True)
class DataShape:
    """What the rules read from the training split."""

    n_train: int
    n_labels: int
    tokens_p95: float  # 95th percentile of tokens per document

    @classmethod
    def of(cls, split: Any) -> DataShape:
        """The shape of a `Split` (documents, labels, token lengths from its offsets)."""
        lengths = np.diff(np.asarray(split.offsets))
        p95 = float(np.percentile(lengths, 95)) if lengths.size else 1.0
        return cls(len(split), int(split.n_labels), p95)


@dataclass(frozen=True)
class AutoChoice:
    """The values the auto preset chose, and why (recorded as `auto_reason`)."""

    values: dict[str, Any]
    reason: str


def device_kind(device: str) -> str:
    """ "cuda" for any CUDA device, else "cpu" (the rules know these two)."""
    return "cuda" if str(device).startswith("cuda") else "cpu"


def tree_height(n_labels: int, k: int, level1_limit: int) -> int:
    """Smallest H >= 1 whose level 1 has at most `level1_limit` nodes (clusters of M = K)."""
    clusters, height = math.ceil(n_labels / k), 1
    while clusters / k ** (height - 1) > level1_limit and height < 8:
        height += 1
    return height


def max_len(tokens_p95: float, cap: int) -> int:
    """The 95th percentile of tokens per document, rounded up to a multiple of 8, in [16, cap]."""
    return int(min(cap, max(16, 8 * math.ceil(tokens_p95 / 8))))


def base_values(device: str) -> dict[str, Any]:
    """What auto sets before the data is seen: it depends on the device alone."""
    return dict(CPU_VALUES) if device_kind(device) == "cpu" else dict(GPU_SMALL)


def choose(shape: DataShape, device: str, cpus: int | None = None) -> AutoChoice:
    """The configuration for data of this shape on this device, and a one-line reason.

    `cpus`: the CPUs free for training (default: the thread count `xmcbench.runtime` set).
    """
    kind = device_kind(device)
    large = kind == "cuda" and shape.n_train >= LARGE_DATA
    values = dict(CPU_VALUES if kind == "cpu" else GPU_LARGE if large else GPU_SMALL)
    why = [f"{kind}: {shape.n_train:,} train docs, {shape.n_labels:,} labels"]
    if shape.n_labels <= FLAT_LABELS[kind]:
        values.update(tree_height=0, **(CPU_FLAT if kind == "cpu" else {}))
        width = (
            f", {values['trees']} models of hidden {values['hidden_size']}, lr {values['lr']:g}"
            if kind == "cpu"
            else ""
        )
        why.append(f"flat (labels <= {FLAT_LABELS[kind]:,}){width}")
    else:
        tree = TREE[kind]
        height = tree_height(shape.n_labels, tree["tree_k"], LEVEL1_NODES[kind])
        values.update(tree, tree_height=height)
        why.append(
            f"label tree H={height} K={tree['tree_k']} C={tree['candidates']} "
            f"(labels > {FLAT_LABELS[kind]:,}; level 1 <= {LEVEL1_NODES[kind]:,} nodes)"
        )
        if kind == "cpu":
            free = cpus if cpus is not None else thread_count()
            trees = max(1, min(CPU_TREE_MAX, free))
            values.update(
                trees=trees, level_init=CPU_TREE_LEVEL_INIT, **CPU_TREE_DROPOUT, **CPU_TREE_PATH
            )
            why.append(
                f"{trees} tree{'s' if trees > 1 else ''} at once ({free} CPUs), "
                f"attention vectors start at their parent's, dropout "
                f"{CPU_TREE_DROPOUT['embedding_dropout']:g}/{CPU_TREE_DROPOUT['encoder_dropout']:g}"
                ", path exponent chosen on validation"
            )
    values["max_len"] = max_len(shape.tokens_p95, MAX_LEN_CAP[kind])
    why.append(
        f"max_len {values['max_len']} (95th percentile {shape.tokens_p95:.0f} tokens, "
        f"cap {MAX_LEN_CAP[kind]})"
    )
    if kind == "cpu":
        why.append(f"time budget {values['time_budget']}, epochs <= {values['epochs']}")
    else:
        size = "large" if large else "small"
        why.append(f"paper's {size}-data setting, {values['epochs']} epochs, no time budget")
    return AutoChoice(values, "; ".join(why))


def with_overrides(choice: AutoChoice, given: dict[str, Any]) -> AutoChoice:
    """`choice` whose reason also names the values the user set over the rules' (they win)."""
    changed = [
        f"{name}={value}"
        for name, value in given.items()
        if name in choice.values and choice.values[name] != value
    ]
    if not changed:
        return choice
    return AutoChoice(choice.values, f"{choice.reason}; set by you: {', '.join(changed)}")
