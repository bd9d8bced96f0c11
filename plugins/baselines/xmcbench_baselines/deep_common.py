"""Shared by the deep baselines (XML-CNN, BiLSTM + max-pool): pooling, output layers, parameters.

Both are `xmcbench.deep.estimator.DeepEstimator`s, as AttentionXML is, so training (Adam,
adaptive clipping, optional SWA, early stopping on validation nDCG@5, checkpoints and resume),
PPMI+SVD embedding initialisation, batching, prediction and save/load are exactly AttentionXML's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from xmcbench.deep.layers import prior_logit
from xmcbench.deep.params import TrainingParams
from xmcbench.deep.presets import CPU_TRAINING, DEMO_TRAINING
from xmcbench.paramspec import Param, fraction, integer

__all__ = [
    "CPU_TRAINING", "DEMO_TRAINING", "BottleneckHead", "BottleneckNet", "DeepParams",
    "dynamic_max_pool",
]  # fmt: skip


def chunk_bounds(valid: torch.Tensor, chunks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(b, p) start and end positions of `chunks` near-equal, non-empty pieces of [0, valid).

    Pieces are disjoint when valid >= p; a sequence shorter than p repeats its positions, so
    every piece holds at least one real position (and never a padded one).
    """
    j = torch.arange(chunks, device=valid.device)[None, :]  # (1, p)
    start = torch.div(j * valid[:, None], chunks, rounding_mode="floor")  # (b, p)
    end = torch.div((j + 1) * valid[:, None], chunks, rounding_mode="floor")
    return start, torch.maximum(end, start + 1)


def dynamic_max_pool(h: torch.Tensor, valid: torch.Tensor, chunks: int) -> torch.Tensor:
    """(b, C, T) features, (b,) real lengths >= 1 -> (b, C * p) chunk maxima (XML-CNN's pooling).

    Each feature map is cut into p equal chunks of its real length; positions past the length
    (padding) are masked to -inf, so padding never wins a max. p = 1 is max-pooling over time.
    """
    batch, channels, width = h.shape
    valid = valid.to(h.device).clamp(1, width)
    start, end = chunk_bounds(valid, chunks)  # (b, p)
    t = torch.arange(width, device=h.device)[None, None, :]  # (1, 1, T)
    inside = (t >= start[:, :, None]) & (t < end[:, :, None])  # (b, p, T)
    pooled = h[:, :, None, :].masked_fill(~inside[:, None], float("-inf")).amax(dim=3)  # (b,C,p)
    return pooled.reshape(batch, channels * chunks)


class BottleneckHead(nn.Module):
    """XML-CNN's fully connected layers: a shared bottleneck + ReLU + dropout, one output per label.

    With candidates (b, c) only those labels' outputs are computed (for label-tree training).
    """

    def __init__(self, in_size: int, bottleneck: int, n_labels: int, dropout: float) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(in_size, bottleneck), nn.ReLU(), nn.Dropout(dropout))
        self.output = nn.Linear(bottleneck, n_labels)

    @torch.no_grad()
    def set_prior(self, rate: float) -> None:
        """Start every label's logit at log-odds(`rate`), as AttentionXML's output does."""
        self.output.bias.fill_(prior_logit(rate))

    def forward(self, pooled: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """(b, in) pooled features -> (b, L) logits, or (b, c) for the given candidate ids."""
        z = self.hidden(pooled)  # (b, H)
        if candidates is None:
            return self.output(z)  # (b, L)
        weight = self.output.weight[candidates]  # (b, c, H)
        return torch.einsum("bh,bch->bc", z, weight) + self.output.bias[candidates]


class BottleneckNet(nn.Module):
    """A network whose pooled `features` feed a `BottleneckHead` (`self.head`)."""

    head: BottleneckHead

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(b, T) ids, (b,) lengths -> (b, in) pooled features for the head."""
        raise NotImplementedError

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor, candidates: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (b, L) for every label, or (b, c) for the given (b, c) candidate label ids."""
        return self.head(self.features(tokens, lengths), candidates)

    def set_label_prior(self, rate: float) -> None:
        """Start every logit at the log-odds of the mean label frequency."""
        self.head.set_prior(rate)


@dataclass(frozen=True)
class DeepParams(TrainingParams):
    """Hyperparameters every deep baseline shares: the toolkit's (`TrainingParams`, the names
    and defaults AttentionXML has too) and XML-CNN's fully connected layers."""

    embedding_dropout: float = 0.25
    swa: bool = False  # Table 4 trains the baselines without SWA
    bottleneck_size: int = 512  # XML-CNN's shared low-dimensional hidden layer
    dropout: float = 0.5  # after the bottleneck
    pooling_chunks: int = 1  # p of dynamic max-pooling; 1 = max over time

    # the type and range of every hyperparameter: the one place they are checked
    specs: ClassVar[dict[str, Param]] = {
        **TrainingParams.specs,
        "bottleneck_size": integer(1, help="units of the shared layer before the outputs"),
        "dropout": fraction(help="dropout rate after the shared bottleneck layer"),
        "pooling_chunks": integer(
            1, help="equal pieces of the text each feature is max-pooled over; 1: whole text"
        ),
    }

    @property
    def model(self) -> Any:
        """The network section (each baseline's own dataclass, its ``sections["model"]``)."""
        return self.section("model")
