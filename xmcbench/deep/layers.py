"""Layers every deep method may share: the word embedding and the output bias at the prior."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import torch
from torch import nn


class EmbeddingShape(Protocol):
    """The fields of a network config that size its word embedding."""

    vocab_size: int
    embedding_dim: int
    freeze_embedding: bool
    sparse_embedding: bool


def make_embedding(
    config: EmbeddingShape, matrix: np.ndarray | None, sparse: bool = False
) -> nn.Embedding:
    """Word embeddings (row 0 = padding, kept zero), optionally initialised from `matrix`.

    Sparse (row) gradients when `config.sparse_embedding` or `sparse` and not frozen. Shared by
    every deep network (AttentionXML, XML-CNN, BiLSTM + max-pool) so every model starts alike.
    """
    vocab_size, dim, freeze = config.vocab_size, config.embedding_dim, config.freeze_embedding
    sparse = (config.sparse_embedding or sparse) and not freeze
    layer = nn.Embedding(vocab_size, dim, padding_idx=0, sparse=sparse)
    if matrix is not None:
        if matrix.shape != (vocab_size, dim):
            raise ValueError(
                f"embedding matrix {matrix.shape} does not fit the vocabulary ({vocab_size}, {dim})"
            )
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(np.asarray(matrix, dtype=np.float32)))
            layer.weight[0].zero_()
    layer.weight.requires_grad_(not freeze)
    return layer


def prior_logit(rate: float) -> float:
    """The logit whose sigmoid is `rate` (clamped to [1e-7, 0.5]): an output bias that starts
    every score at the mean label frequency instead of at 0.5."""
    rate = min(max(rate, 1e-7), 0.5)
    return math.log(rate / (1.0 - rate))
