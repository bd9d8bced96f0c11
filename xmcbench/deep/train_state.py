"""What the training loop is given and keeps: its config, data, evaluator and state types."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from torch import nn

from . import budget
from .batching import Batch

Evaluator = Callable[[nn.Module], dict[str, float]]


@dataclass(frozen=True)
class TrainConfig:
    """How to train (paper §3.3 and the authors' code); see `params.Hyperparams` for meanings."""

    epochs: int
    lr: float = 1e-3
    swa: bool = True
    swa_warmup: float = 10  # epochs (fractions allowed) before SWA starts averaging
    eval_every: int = 100
    patience: int = 50
    clip_factor: float = 5.0
    clip_window: int = 5
    max_steps: int | None = None
    precision: str = "fp32"
    progress: bool = True
    time_budget: float | None = None  # seconds of training (all processes of a resumed run)
    swa_plateau: int = budget.SWA_PLATEAU  # under a budget: flat validations that start SWA
    swa_budget_fraction: float = budget.SWA_BUDGET_FRACTION  # or this share of the budget


class BatchSource(Protocol):
    """Training data: a fixed number of batches per epoch, in an order set by the epoch alone."""

    @property
    def n_batches(self) -> int: ...

    def batches(self, epoch: int, skip: int = 0) -> Iterator[Batch]: ...


@dataclass
class TrainState:
    """Where training stands; saved in every resume checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_score: float = -math.inf
    best_step: int = -1
    bad_evals: int = 0
    last_eval_step: int = -1
    finished: bool = False
    history: list[dict[str, float]] = field(default_factory=list)
    elapsed_s: float = 0.0  # seconds in the training loop, over every process of the run
    stopped_by: str = ""  # "epochs", "patience", "max_steps" or "time_budget" once finished
