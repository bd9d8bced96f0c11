"""BiLSTM + max-pooling, the ablation of AttentionXML's paper (section 3.6, Table 4 "BiLSTM").

AttentionXML's own embedding and BiLSTM encoder (the very class, imported), max-pooling over time
instead of multi-label attention (padding masked out, so it never wins), then XML-CNN's fully
connected layers: a shared bottleneck + ReLU + dropout and one output per label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from xmcbench_attentionxml.encoder import BiLSTMEncoder
from xmcbench_attentionxml.method import AttentionXML
from xmcbench_attentionxml.model import make_embedding
from xmcbench_attentionxml.presets import resolve_preset

from xmcbench.paramspec import Param, fraction, integer

from .deep_common import (
    CPU_TRAINING,
    DEMO_TRAINING,
    BottleneckHead,
    BottleneckNet,
    DeepParams,
    dynamic_max_pool,
    field_names,
)


@dataclass(frozen=True)
class BiLSTMMaxPoolParams(DeepParams):
    """Hyperparameters: AttentionXML's encoder settings plus XML-CNN's fully connected layers."""

    embedding_dropout: float = 0.2  # as AttentionXML
    hidden_size: int = 256  # LSTM units per direction, as AttentionXML
    encoder_dropout: float = 0.5  # after the BiLSTM, as AttentionXML
    pooling_chunks: int = 1  # 1 = max over time; p > 1 pools p chunks like XML-CNN

    specs: ClassVar[dict[str, Param]] = {
        **DeepParams.specs,
        "hidden_size": integer(1),
        "encoder_dropout": fraction(),
    }


FIELDS = field_names(BiLSTMMaxPoolParams)
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


class BiLSTMMaxPool(AttentionXML):
    """BiLSTM + max-pooling + XML-CNN's fully connected layers, trained like AttentionXML.

    Every hyperparameter is a keyword (see `BiLSTMMaxPoolParams`); None means "take it from the
    preset" (default preset: "cpu"; "paper" is AttentionXML's encoder with XML-CNN's layers).
    """

    name = "bilstm-maxpool"
    model_class = BiLSTMMaxPoolNet
    config_class = BiLSTMMaxPoolConfig
    fields = FIELDS
    resolve_params = staticmethod(resolve)

    def __init__(
        self,
        preset: str | None = None,
        *,
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
        embedding_dim: int | None = None,
        embedding_init: str | None = None,
        freeze_embedding: bool | None = None,
        embedding_dropout: float | None = None,
        max_len: int | None = None,
        hidden_size: int | None = None,
        encoder_dropout: float | None = None,
        pooling_chunks: int | None = None,
        bottleneck_size: int | None = None,
        dropout: float | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        swa: bool | None = None,
        swa_warmup: float | None = None,
        eval_every: int | None = None,
        patience: int | None = None,
        clip_factor: float | None = None,
        clip_window: int | None = None,
        valid_size: int | None = None,
        max_steps: int | None = None,
        time_budget: float | str | None = None,
        precision: str | None = None,
        sparse_embedding: bool | None = None,
        predict_batch_size: int | None = None,
        ppmi_window: int | None = None,
        ppmi_max_words: int | None = None,
    ) -> None:
        given = {k: v for k, v in locals().items() if k in FIELDS}
        self._setup(preset, seed, device, progress, given)
