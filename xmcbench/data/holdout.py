"""The one way a validation split is carved from training documents, shared by preprocessing and
the deep toolkit so both hold out the same rows for the same seed."""

from __future__ import annotations

import numpy as np

VALID_SEED = 1240  # the original AttentionXML's random_state: every run validates on the same rows


def holdout_rows(n: int, size: int, seed: int = VALID_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(kept rows, held-out rows), each sorted: `size` of `n` rows drawn by a seeded permutation."""
    if not 0 <= size <= n:
        raise ValueError(f"cannot hold out {size} of {n} rows")
    order = np.random.default_rng(seed).permutation(n)  # (n,)
    return np.sort(order[size:]), np.sort(order[:size])
