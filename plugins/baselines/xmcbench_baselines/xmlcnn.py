"""XML-CNN (Liu et al., SIGIR 2017): convolutions, dynamic max-pooling, bottleneck, per-label BCE.

Word embeddings feed 1-D convolutions of several widths (2, 4, 8; 128 filters each) with ReLU;
each feature map is max-pooled over p equal chunks of the document (dynamic max-pooling), the
pieces are concatenated and go through a shared 512-unit bottleneck (ReLU, dropout 0.5) to one
output per label. Trained by the deep toolkit (`xmcbench.deep`), as every deep model here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from xmcbench.deep.estimator import DeepEstimator
from xmcbench.deep.layers import make_embedding
from xmcbench.deep.presets import resolve_preset
from xmcbench.paramspec import Param, integer, integers

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
class XMLCNNModel:
    """The network section of `XMLCNNParams`: what `XMLCNN.network_config` reads."""

    embedding_dim: int
    filter_sizes: tuple[int, ...]
    num_filters: int
    pooling_chunks: int
    bottleneck_size: int
    embedding_dropout: float
    dropout: float
    freeze_embedding: bool
    sparse_embedding: bool


@dataclass(frozen=True)
class XMLCNNParams(DeepParams):
    """XML-CNN hyperparameters; defaults follow the published configuration."""

    filter_sizes: tuple[int, ...] = (2, 4, 8)
    num_filters: int = 128  # feature maps per filter width
    pooling_chunks: int = 2  # p: tuned per dataset in the paper; 2 unless a preset says otherwise

    specs: ClassVar[dict[str, Param]] = {
        **DeepParams.specs,
        "filter_sizes": integers(1, help="widths of the convolution filters, in words"),
        "num_filters": integer(1, help="feature maps per filter width"),
    }
    sections: ClassVar[dict[str, type]] = {"model": XMLCNNModel, **DeepParams.sections}


DEFAULT_PRESET = "cpu"
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},  # the published configuration (the dataclass defaults)
    "demo": {**DEMO_TRAINING, "num_filters": 64, "bottleneck_size": 256},
    "cpu": {**CPU_TRAINING, "num_filters": 128, "bottleneck_size": 512},
}


def resolve(preset: str | None, explicit: Mapping[str, Any]) -> tuple[str, XMLCNNParams]:
    """The preset name used and the resolved XML-CNN hyperparameters."""
    return resolve_preset("XML-CNN", XMLCNNParams, PRESETS, DEFAULT_PRESET, preset, explicit)


@dataclass(frozen=True)
class XMLCNNConfig:
    """Shape of the network; everything needed to rebuild it before loading weights."""

    vocab_size: int
    n_labels: int
    embedding_dim: int = 300
    filter_sizes: tuple[int, ...] = (2, 4, 8)
    num_filters: int = 128
    pooling_chunks: int = 2
    bottleneck_size: int = 512
    embedding_dropout: float = 0.25
    dropout: float = 0.5
    freeze_embedding: bool = False
    sparse_embedding: bool = False


class XMLCNNNet(BottleneckNet):
    """Maps a padded batch of token ids to one logit per label (or per candidate label)."""

    def __init__(self, config: XMLCNNConfig, embedding: np.ndarray | None = None) -> None:
        super().__init__()
        self.config = config
        self.embedding = make_embedding(config, embedding)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding_dim, config.num_filters, width)
            for width in config.filter_sizes
        )
        pooled = config.num_filters * len(config.filter_sizes) * config.pooling_chunks
        self.head = BottleneckHead(pooled, config.bottleneck_size, config.n_labels, config.dropout)

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(b, T) ids, (b,) lengths -> (b, filters * widths * p) pooled convolution features.

        A window counts when it lies inside the document; a document shorter than a filter keeps
        the one window at its start, padded with zero vectors, so extra padding changes nothing.
        """
        lengths = lengths.to(tokens.device)
        mask = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]
        x = self.embedding(tokens) * mask[:, :, None]  # (b, T, E), zero on padding
        x = self.embedding_dropout(x).transpose(1, 2)  # (b, E, T)
        pieces = []
        for width, conv in zip(self.config.filter_sizes, self.convs, strict=True):
            short = max(0, width - x.shape[2])
            h = F.relu(conv(F.pad(x, (0, short))))  # (b, F, max(T, w) - w + 1)
            valid = (lengths - width + 1).clamp(min=1)  # (b,) windows inside each document
            pieces.append(dynamic_max_pool(h, valid, self.config.pooling_chunks))  # (b, F * p)
        return torch.cat(pieces, dim=1)  # (b, F * widths * p)


class XMLCNN(DeepEstimator):
    """XML-CNN trained by the deep toolkit (as AttentionXML is); flat output over every label.

    Every field of `XMLCNNParams` is a keyword of the constructor (the toolkit makes its
    signature from them); None means "take it from the preset" (default preset: "cpu";
    "paper" is the published configuration).
    """

    name = "xml-cnn"
    label = "XML-CNN"
    version = __version__
    params_class = XMLCNNParams
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = PRESETS
    default_preset = DEFAULT_PRESET
    network_class = XMLCNNNet
    config_class = XMLCNNConfig

    @classmethod
    def network_config(cls, hp: XMLCNNParams, vocab_size: int, n_labels: int) -> XMLCNNConfig:
        """The network's shape from the model section, field by field (a renamed field fails
        here, not silently)."""
        shape = hp.model
        return XMLCNNConfig(
            vocab_size=vocab_size,
            n_labels=n_labels,
            embedding_dim=shape.embedding_dim,
            filter_sizes=shape.filter_sizes,
            num_filters=shape.num_filters,
            pooling_chunks=shape.pooling_chunks,
            bottleneck_size=shape.bottleneck_size,
            embedding_dropout=shape.embedding_dropout,
            dropout=shape.dropout,
            freeze_embedding=shape.freeze_embedding,
            sparse_embedding=shape.sparse_embedding,
        )
