"""The attention-aware deep model of AttentionXML (paper §2.4): embedding, BiLSTM, attention."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from xmcbench.deep.encoder import BiLSTMEncoder
from xmcbench.deep.layers import make_embedding

from .attention import AttentionHead
from .params import OPTIMIZERS, ModelParams


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network; everything needed to rebuild it before loading weights."""

    vocab_size: int
    n_labels: int
    embedding_dim: int = 300
    hidden_size: int = 256
    fc_sizes: tuple[int, ...] = (256,)
    embedding_dropout: float = 0.2
    encoder_dropout: float = 0.5
    attention_impl: str = "fast"
    freeze_embedding: bool = False
    sparse_embedding: bool = False
    # "lazy": sparse gradients for the embedding and the candidates' attention vectors, trained
    # by optim.LazyAdam (untouched rows never move); "dense": dense gradients, Adam
    optimizer: str = "dense"


class AttentionXMLNet(nn.Module):
    """Maps a padded batch of token ids to one logit per label (or per candidate label)."""

    def __init__(self, config: ModelConfig, embedding: np.ndarray | None = None) -> None:
        super().__init__()
        self.config = config
        if config.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {config.optimizer!r}")
        lazy = config.optimizer == "lazy"
        self.embedding = make_embedding(config, embedding, sparse=lazy)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.encoder = BiLSTMEncoder(config.embedding_dim, config.hidden_size)
        self.encoder_dropout = nn.Dropout(config.encoder_dropout)
        self.head = AttentionHead(
            config.n_labels,
            self.encoder.output_size,
            config.fc_sizes,
            config.attention_impl,
            sparse_labels=lazy,
        )

    def encode(
        self, tokens: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(b, T) ids, (b,) lengths -> BiLSTM states (b, T, 2N) after dropout, token mask (b, T)."""
        mask = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]
        x = self.embedding_dropout(self.embedding(tokens))  # (b, T, E)
        h = self.encoder_dropout(self.encoder(x, lengths))  # (b, T, 2N)
        return h, mask

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor, candidates: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (b, L) for every label, or (b, c) for the given (b, c) candidate label ids."""
        h, mask = self.encode(tokens, lengths)
        return self.head(h, mask, candidates)

    def set_label_prior(self, rate: float) -> None:
        """Start every logit at the log-odds of the mean label frequency (see AttentionHead)."""
        self.head.set_prior(rate)

    def attention_weights(
        self, tokens: torch.Tensor, lengths: torch.Tensor, candidates: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Attention coefficients alpha (b, T, c): where each label looks (inspection, tests)."""
        h, mask = self.encode(tokens, lengths)
        return self.head.attention(h, mask, candidates)


def model_config(hp: ModelParams, vocab_size: int, n_outputs: int) -> ModelConfig:
    """The network's shape for `n_outputs` outputs (every label, or a tree level's nodes), from
    the hyperparameters' model section.

    Spelled field by field: a field renamed on either side fails here, not silently.
    """
    return ModelConfig(
        vocab_size=vocab_size,
        n_labels=n_outputs,
        embedding_dim=hp.embedding_dim,
        hidden_size=hp.hidden_size,
        fc_sizes=hp.fc_sizes,
        embedding_dropout=hp.embedding_dropout,
        encoder_dropout=hp.encoder_dropout,
        attention_impl=hp.attention_impl,
        freeze_embedding=hp.freeze_embedding,
        sparse_embedding=hp.sparse_embedding,
        optimizer=hp.optimizer,
    )
