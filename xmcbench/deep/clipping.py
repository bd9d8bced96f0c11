"""Gradient-norm clipping with a threshold that follows the recent gradient norms.

As in the authors' AttentionXML code: clip to `factor` x the largest of the last `window` recorded
norms; each recorded norm is capped at twice the current largest and at `cap`, so the threshold
can grow only gradually after a spike. Sparse gradients (SparseAdam embeddings) are supported.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

import torch


def total_grad_norm(params: Iterable[torch.Tensor]) -> torch.Tensor:
    """L2 norm of all gradients together, dense and sparse alike (a 0-d tensor)."""
    squares = []
    for p in params:
        g = p.grad
        if g is None:
            continue
        values = g.coalesce().values() if g.is_sparse else g
        squares.append(values.detach().float().pow(2).sum())
    if not squares:
        return torch.zeros(())
    return torch.stack([s.to(squares[0].device) for s in squares]).sum().sqrt()


class AdaptiveClipper:
    """Clips gradients to `factor` x max(recent norms); `factor` <= 0 turns clipping off."""

    def __init__(self, factor: float = 5.0, window: int = 5, cap: float = 1.0) -> None:
        self.factor, self.cap = factor, cap
        self.recent: deque[float] = deque([math.inf], maxlen=max(1, window))

    @property
    def threshold(self) -> float:
        return self.factor * max(self.recent)

    @torch.no_grad()
    def __call__(self, params: list[torch.Tensor]) -> tuple[float, bool]:
        """Clip in place; returns (norm before clipping, whether it was clipped)."""
        if self.factor <= 0:
            return math.nan, False
        norm = float(total_grad_norm(params))
        largest, threshold = max(self.recent), self.threshold
        clipped = math.isfinite(norm) and norm > threshold
        if clipped:
            scale = threshold / (norm + 1e-6)
            for p in params:
                if p.grad is not None:
                    p.grad.mul_(scale)
        if math.isfinite(norm):
            self.recent.append(min(norm, 2.0 * largest, self.cap))
        return norm, clipped

    def state_dict(self) -> dict[str, Any]:
        return {"recent": list(self.recent)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.recent.clear()
        self.recent.extend(float(x) for x in state["recent"])
