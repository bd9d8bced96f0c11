"""BiLSTM + max-pooling, the ablation of AttentionXML's paper (section 3.6, Table 4 "BiLSTM").

The deep toolkit's embedding and BiLSTM encoder (the very class AttentionXML uses), max-pooling
over time instead of multi-label attention (padding masked out, so it never wins), then XML-CNN's
fully connected layers: a shared bottleneck + ReLU + dropout and one output per label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from xmcbench.deep.encoder import BiLSTMEncoder
from xmcbench.deep.estimator import DeepEstimator
from xmcbench.deep.layers import make_embedding
from xmcbench.deep.presets import resolve_preset
from xmcbench.paramspec import Param, fraction, integer

from . import __version__
from .deep_common import (
    CPU_TRAINING,
    DEMO_TRAINING,
    BottleneckHead,
    BottleneckNet,
    DeepParams,
    dynamic_max_pool,
)


@dataclass(frozen=True)
class BiLSTMMaxPoolModel:
    """The network section of `BiLSTMMaxPoolParams`: what `network_config` reads."""

    embedding_dim: int
    hidden_size: int
    pooling_chunks: int
    bottleneck_size: int
    embedding_dropout: float
    encoder_dropout: float
    dropout: float
    freeze_embedding: bool
    sparse_embedding: bool


@dataclass(frozen=True)
class BiLSTMMaxPoolParams(DeepParams):
    """Hyperparameters: AttentionXML's encoder settings plus XML-CNN's fully connected layers."""

    embedding_dropout: float = 0.2  # as AttentionXML
    hidden_size: int = 256  # LSTM units per direction, as AttentionXML
    encoder_dropout: float = 0.5  # after the BiLSTM, as AttentionXML
    pooling_chunks: int = 1  # 1 = max over time; p > 1 pools p chunks like XML-CNN

    specs: ClassVar[dict[str, Param]] = {
        **DeepParams.specs,
        "hidden_size": integer(1, help="LSTM units per direction of the BiLSTM encoder"),
        "encoder_dropout": fraction(help="dropout rate on the BiLSTM's outputs"),
    }
    sections: ClassVar[dict[str, type]] = {"model": BiLSTMMaxPoolModel, **DeepParams.sections}


DEFAULT_PRESET = "cpu"
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},  # AttentionXML's Table 2 encoder + XML-CNN's 512-unit bottleneck
    "demo": {**DEMO_TRAINING, "hidden_size": 64, "bottleneck_size": 256},  # as AttentionXML demo
    "cpu": {**CPU_TRAINING, "hidden_size": 64, "bottleneck_size": 512},
}


def resolve(preset: str | None, explicit: Mapping[str, Any]) -> tuple[str, BiLSTMMaxPoolParams]:
    """The preset name used and the resolved hyperparameters."""
    return resolve_preset(
        "BiLSTM-maxpool", BiLSTMMaxPoolParams, PRESETS, DEFAULT_PRESET, preset, explicit
    )


@dataclass(frozen=True)
class BiLSTMMaxPoolConfig:
    """Shape of the network; everything needed to rebuild it before loading weights."""

    vocab_size: int
    n_labels: int
    embedding_dim: int = 300
    hidden_size: int = 256
    pooling_chunks: int = 1
    bottleneck_size: int = 512
    embedding_dropout: float = 0.2
    encoder_dropout: float = 0.5
    dropout: float = 0.5
    freeze_embedding: bool = False
    sparse_embedding: bool = False


class BiLSTMMaxPoolNet(BottleneckNet):
    """Maps a padded batch of token ids to one logit per label (or per candidate label)."""

    def __init__(self, config: BiLSTMMaxPoolConfig, embedding: np.ndarray | None = None) -> None:
        super().__init__()
        self.config = config
        self.embedding = make_embedding(config, embedding)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.encoder = BiLSTMEncoder(config.embedding_dim, config.hidden_size)
        self.encoder_dropout = nn.Dropout(config.encoder_dropout)
        pooled = self.encoder.output_size * config.pooling_chunks
        self.head = BottleneckHead(pooled, config.bottleneck_size, config.n_labels, config.dropout)

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(b, T) ids, (b,) lengths -> (b, 2N * p) BiLSTM states max-pooled over real positions."""
        lengths = lengths.to(tokens.device)
        x = self.embedding_dropout(self.embedding(tokens))  # (b, T, E)
        h = self.encoder_dropout(self.encoder(x, lengths))  # (b, T, 2N), zero on padding
        return dynamic_max_pool(h.transpose(1, 2), lengths, self.config.pooling_chunks)


class BiLSTMMaxPool(DeepEstimator):
    """BiLSTM + max-pooling + XML-CNN's fully connected layers, trained like AttentionXML.

    Every field of `BiLSTMMaxPoolParams` is a keyword of the constructor (the toolkit makes its
    signature from them); None means "take it from the preset" (default preset: "cpu";
    "paper" is AttentionXML's encoder with XML-CNN's layers).
    """

    name = "bilstm-maxpool"
    label = "BiLSTM-maxpool"
    version = __version__
    params_class = BiLSTMMaxPoolParams
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = PRESETS
    default_preset = DEFAULT_PRESET
    network_class = BiLSTMMaxPoolNet
    config_class = BiLSTMMaxPoolConfig

    @classmethod
    def network_config(
        cls, hp: BiLSTMMaxPoolParams, vocab_size: int, n_labels: int
    ) -> BiLSTMMaxPoolConfig:
        """The network's shape from the model section, field by field (a renamed field fails
        here, not silently)."""
        shape = hp.model
        return BiLSTMMaxPoolConfig(
            vocab_size=vocab_size,
            n_labels=n_labels,
            embedding_dim=shape.embedding_dim,
            hidden_size=shape.hidden_size,
            pooling_chunks=shape.pooling_chunks,
            bottleneck_size=shape.bottleneck_size,
            embedding_dropout=shape.embedding_dropout,
            encoder_dropout=shape.encoder_dropout,
            dropout=shape.dropout,
            freeze_embedding=shape.freeze_embedding,
            sparse_embedding=shape.sparse_embedding,
        )
