"""Stochastic weight averaging (Izmailov et al. 2018): the running mean of weight snapshots.

Snapshots are taken by the engine (at every validation once SWA has started); validation and the
saved model use the averaged weights, swapped in temporarily.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """Arithmetic mean of the snapshots of a model's trainable parameters taken so far."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: dict[str, torch.Tensor] = {}

    @property
    def started(self) -> bool:
        return self.count > 0

    def _params(self, model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
        return ((name, p) for name, p in model.named_parameters() if p.requires_grad)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Add one snapshot: mean += (weights - mean) / count (the first one starts the mean)."""
        self.count += 1
        for name, p in self._params(model):
            if self.count == 1:
                self.mean[name] = p.detach().clone()
            else:
                self.mean[name].add_(p.detach() - self.mean[name], alpha=1.0 / self.count)

    @torch.no_grad()
    def _exchange(self, model: nn.Module) -> None:
        for name, p in self._params(model):
            held = p.detach().clone()
            p.copy_(self.mean[name])
            self.mean[name] = held

    @contextlib.contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[nn.Module]:
        """Within the block the model holds the averaged weights (no-op before any snapshot)."""
        if not self.started:
            yield model
            return
        self._exchange(model)
        try:
            yield model
        finally:
            self._exchange(model)

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": {k: v.cpu() for k, v in self.mean.items()}}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.count = int(state["count"])
        self.mean = {k: v.to(device) for k, v in state["mean"].items()}
