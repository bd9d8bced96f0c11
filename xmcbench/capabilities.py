"""Optional method capabilities beyond fit/predict/save/load; core checks for them, never for names.

Attention: a method that can say where it looked exposes
``attention(split, rows, labels) -> list of (n_tokens_i, c) arrays``: for each document in
`rows`, the weight of each of its stored tokens for each of that row's `c` label ids
(``labels`` is (len(rows), c)). Each column sums to 1 over the document's tokens (tokens the
model never read, past its own length limit, weigh 0). A method whose class has the capability
but whose configuration does not (a subclass without attention) raises NotImplementedError.

Merge: a method whose separately trained parts (say the trees of an ensemble, trained as
``tree_id=i`` jobs) combine into one model exposes ``merge(paths) -> method``, a classmethod
over saved model folders.

Features: a method that reads TF-IDF rows (``Split.features``) sets the class attribute
``needs_features = True``; the runner then refuses a dataset without them before any training,
naming the method as the user called it.

A capability is declared by the method's own class defining it, never inherited from a shared
base: the deep methods' base (`xmcbench.deep.estimator.DeepEstimator`) defines neither, so a
network without attention (XML-CNN) does not appear to have it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import XMCBenchError
from .types import Split

__all__ = [
    "MergeableMethod",
    "attention_weights",
    "can_merge",
    "has_attention",
    "needs_features",
]


def has_attention(method: Any) -> bool:
    """Whether `method` offers ``attention(split, rows, labels) -> list of (T, k) arrays``."""
    return callable(getattr(method, "attention", None))


def needs_features(method: Any) -> bool:
    """Whether `method` (a method or its class) trains and predicts on TF-IDF features."""
    return getattr(method, "needs_features", False) is True


@runtime_checkable
class MergeableMethod(Protocol):
    """A method whose saved parts (separately trained trees) merge into one model."""

    @classmethod
    def merge(cls, paths: Sequence[Path]) -> Any: ...


def can_merge(method: Any) -> bool:
    """Whether `method` (a method or its class) offers the merge capability."""
    return callable(getattr(method, "merge", None))


def attention_weights(
    method: Any, name: str, split: Split, rows: np.ndarray, labels: np.ndarray
) -> list[np.ndarray]:
    """Per-document (n_tokens, c) weights from `method` (called `name`), checked for shape.

    A method without the capability is a one-line XMCBenchError naming it.
    """
    rows = np.asarray(rows, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64).reshape(len(rows), -1)  # (b, c)
    if not has_attention(method):
        raise XMCBenchError(
            f"method {name!r} does not expose attention weights (it has no "
            "attention(split, rows, labels) method); explain needs a method that does"
        )
    try:
        weights = method.attention(split, rows, labels)
    except NotImplementedError as exc:
        raise XMCBenchError(f"method {name!r}: {exc or 'no attention weights'}") from exc
    if len(weights) != len(rows):
        raise XMCBenchError(
            f"method {name!r} returned attention for {len(weights)} of {len(rows)} documents"
        )
    for row, block in zip(rows, weights, strict=True):
        expected = (int(split.lengths[row]), labels.shape[1])
        if np.shape(block) != expected:
            raise XMCBenchError(
                f"method {name!r} returned attention of shape {np.shape(block)} for document "
                f"{row}, expected {expected} (tokens, labels)"
            )
    return [np.asarray(block, dtype=np.float64) for block in weights]
