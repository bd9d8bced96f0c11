"""Named hyperparameter sets: `auto` (the default), the paper's six, and CPU-sized ones.

The paper presets are the authors' configuration files (configure/models/*.yaml and
configure/datasets/*.yaml of github.com/yourh/AttentionXML): per-level epochs and SWA warm-ups for
the label trees, and `trees=3`, since the paper's "AttentionXML" is an ensemble of three trees
(its scripts train tree ids 0, 1, 2 and average them); `trees=1` is the single model. `auto` is
chosen from the data at fit time (see `auto.py`).

SWA starts only once validation has mostly stopped climbing: averaging early snapshots in cost
1.7 points of P@1 in a measured run, so every preset sets `swa_warmup` past the fast phase.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xmcbench.deep.presets import CPU_TRAINING, DEMO_TRAINING, resolve_preset

from . import auto
from .params import Hyperparams

__all__ = ["AUTO", "PAPER_PRESETS", "PRESETS", "resolve", "resolve_preset"]

AUTO = "auto"
DEFAULT_PRESET = AUTO  # chosen from the data and the device when no preset is given

# the authors' defaults: deepxml/models.py (step=100, early=50), preprocess.py (--max-len 500),
# networks.py (emb_dropout 0.2), the model files' dropout 0.5, GloVe 300d embeddings
_PAPER = {
    "embedding_dim": 300,
    "embedding_init": "glove",  # GloVe 840B when downloaded, else PPMI-SVD (said in the log)
    "max_len": 500,
    "eval_every": 100,
    "patience": 50,
    "embedding_dropout": 0.2,
    "encoder_dropout": 0.5,
    "trees": 3,
}
_PAPER_LARGE = {**_PAPER, "batch_size": 200, "hidden_size": 512, "fc_sizes": (512, 256)}

_CPU_BASE: dict[str, Any] = {  # shared by "cpu" and "cpu-tree"
    **CPU_TRAINING,
    "hidden_size": 64,
    "fc_sizes": (64,),
    "epochs": 3,
    "embedding_dropout": 0.1,
    "encoder_dropout": 0.2,
    "swa_warmup": 2,
}

PRESETS: dict[str, dict[str, Any]] = {
    # before the data is seen: the CPU rules' values (`AttentionXML` resolves it at fit time)
    AUTO: {**auto.CPU_VALUES, "max_len": auto.MAX_LEN_CAP["cpu"]},
    # AttentionXML-<dataset>.yaml: flat models
    "eurlex-4k": {
        **_PAPER,
        "epochs": 30,
        "batch_size": 40,
        "hidden_size": 256,
        "fc_sizes": (256,),
        "freeze_embedding": True,  # emb_trainable: False
        "swa_warmup": 10,
        "valid_size": 200,
    },
    "wiki10-31k": {
        **_PAPER,
        "epochs": 30,
        "batch_size": 40,
        "hidden_size": 256,
        "fc_sizes": (256,),
        "freeze_embedding": True,
        "swa_warmup": 4,
        "valid_size": 200,
    },
    "amazoncat-13k": {
        **_PAPER_LARGE,
        "epochs": 10,
        "swa_warmup": 2,
        "valid_size": 4000,
    },
    # FastAttentionXML-<dataset>.yaml: label trees (level: H + 1, k: K, top: C), one
    # {nb_epoch, swa_warmup} per level
    "amazon-670k": {
        **_PAPER_LARGE,
        "epochs": 10,
        "level_epochs": (10, 10, 10, 10),
        "swa_warmup": 6,
        "level_swa_warmup": (6, 2, 2, 2),
        "valid_size": 4000,
        "tree_height": 3,
        "tree_k": 8,
        "candidates": 160,
    },
    "wiki-500k": {
        **_PAPER_LARGE,
        "epochs": 5,
        "level_epochs": (5, 5),
        "swa_warmup": 2,
        "level_swa_warmup": (2, 1),
        "valid_size": 4000,
        "tree_height": 1,
        "tree_k": 64,
        "candidates": 15,
    },
    "amazon-3m": {
        **_PAPER_LARGE,
        "epochs": 5,
        "level_epochs": (5, 5, 5, 5),
        "swa_warmup": 2,
        "level_swa_warmup": (2, 1, 1, 1),
        "valid_size": 4000,
        "tree_height": 3,
        "tree_k": 8,
        "candidates": 160,
    },
    # the default synthetic dataset in a few minutes on 2 CPU cores (measured: P@1 88.4, P@5
    # 74.0 in 6 min on 2 busy cores); lr 3e-3 leaves the popular-labels plateau far sooner
    "demo": {
        **DEMO_TRAINING,  # shared with the deep baselines (xmcbench.deep.presets)
        "hidden_size": 64,
        "fc_sizes": (64,),
        "swa_warmup": 7,
    },
    # tens of thousands of docs and labels (e.g. debian-depends: 40k docs, 29k labels, ~61
    # tokens) in about half an hour on 2 cores. The flat model's cost grows with labels x tokens,
    # so: bf16 autocast (no measured accuracy cost), a small BiLSTM and one epoch. With so few
    # steps the paper's lr 1e-3 and dropout 0.5 leave the model at the popular-labels plateau:
    # on debian-depends' top 1,000 labels, 600 steps gave P@1 40.4 at lr 1e-3, 53.8 at 1.2e-2,
    # 57.6 with dropout 0.2/0.1 (popularity: 39.9). Validation still climbs fast through the one
    # epoch, and averaging its second half cost P@5 (valid 22.6 vs 24.8 at step 1000), so SWA
    # starts only when more epochs are asked for.
    "cpu": {
        **_CPU_BASE,
        "hidden_size": 32,
        "epochs": 1,
        "swa_warmup": 1,
    },
}
# "cpu" with a one-level label tree: each level scores a few hundred nodes, not every label,
# so the same time buys three epochs per level (debian-depends: P@1 67.7, P@5 32.1 in 33 min on
# one thread of a busy machine, against the flat "cpu" preset's one epoch)
PRESETS["cpu-tree"] = {
    **_CPU_BASE,
    "tree_height": 1,
    "tree_k": 32,
    "candidates": 16,
}


PAPER_PRESETS = (
    "eurlex-4k", "wiki10-31k", "amazoncat-13k", "amazon-670k", "wiki-500k", "amazon-3m",
)  # fmt: skip


def resolve(
    preset: str | None, explicit: Mapping[str, Any], auto_values: Mapping[str, Any] | None = None
) -> tuple[str, Hyperparams]:
    """The preset name used, and its values overridden by `explicit` (None means unset).

    `auto_values` replace the `auto` preset's pre-data values once the data has been seen.
    """
    presets: Mapping[str, Mapping[str, Any]] = PRESETS
    if auto_values is not None:
        presets = {**PRESETS, AUTO: {**PRESETS[AUTO], **auto_values}}
    return resolve_preset("AttentionXML", Hyperparams, presets, DEFAULT_PRESET, preset, explicit)
