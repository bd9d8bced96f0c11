"""Named hyperparameter sets: the generic resolver and the training budgets deep methods share.

`DEMO_TRAINING` and `CPU_TRAINING` are the training (not architecture) values of the "demo" and
"cpu" presets of every deep method here (AttentionXML, XML-CNN, BiLSTM + max-pool), so the
columns of the paper's Table 4 are always trained with the same epochs, learning rate, batch
size and text length.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any, TypeVar

from xmcbench.errors import ParamError

P = TypeVar("P")

# the default synthetic dataset in a few minutes on 2 CPU cores
DEMO_TRAINING: dict[str, Any] = {
    "embedding_dim": 64,
    "max_len": 300,
    "epochs": 10,
    "batch_size": 32,
    "lr": 3e-3,
    "eval_every": 100,
    "patience": 10,
    "valid_size": 200,
    "ppmi_max_words": 20_000,
}
# tens of thousands of docs and labels (debian-depends: 40k docs, 30k labels) in about half an
# hour on 2 cores: one epoch, bf16 autocast, a large learning rate (see AttentionXML's presets)
CPU_TRAINING: dict[str, Any] = {
    "embedding_dim": 100,
    "max_len": 128,
    "epochs": 1,
    "batch_size": 32,
    "lr": 1e-2,
    "eval_every": 250,
    "patience": 10,
    "valid_size": 1000,
    "ppmi_max_words": 30_000,
    "precision": "bf16",
}


def resolve_preset(
    method: str,
    params: type[P],
    presets: Mapping[str, Mapping[str, Any]],
    default: str,
    preset: str | None,
    explicit: Mapping[str, Any],
) -> tuple[str, P]:
    """`method`'s preset name used, and its values overridden by `explicit` (None means unset).

    An unknown preset is a ValueError with a "did you mean" hint; an unknown hyperparameter a
    TypeError naming it.
    """
    name = default if preset is None else preset
    if not isinstance(name, str):
        raise ParamError(f"preset must be one of {', '.join(presets)}, got {name!r}")
    if name not in presets:
        close = difflib.get_close_matches(name, presets, n=2)
        hint = (
            f"; did you mean {' or '.join(close)}?" if close else f" (known: {', '.join(presets)})"
        )
        raise ValueError(f"unknown {method} preset {name!r}{hint}")
    unknown = set(explicit) - {f.name for f in dataclasses.fields(params)}  # type: ignore[arg-type]
    if unknown:
        raise TypeError(f"unknown {method} hyperparameter(s): {', '.join(sorted(unknown))}")
    given = {k: v for k, v in explicit.items() if v is not None}
    return name, params(**{**presets[name], **given})
