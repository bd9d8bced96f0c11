"""Every AttentionXML hyperparameter in one frozen dataclass, validated once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

ATTENTION_IMPLS = ("fast", "reference")
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Hyperparams:
    """Resolved hyperparameters (a preset overridden by explicit values); paper defaults."""

    # model (paper §2.4, §3.3)
    embedding_dim: int = 300
    embedding_init: str = "ppmi"  # "ppmi", "random" or a GloVe/word2vec text file
    freeze_embedding: bool = False
    hidden_size: int = 256  # LSTM units per direction
    fc_sizes: tuple[int, ...] = (256,)  # shared fully connected layers, ReLU after each
    embedding_dropout: float = 0.2
    encoder_dropout: float = 0.5
    attention_impl: str = "fast"  # "fast" (FC1 folded into attention) or "reference"
    max_len: int = 500  # tokens kept per document
    # training (paper §3.3, original code)
    epochs: int = 30
    batch_size: int = 40
    lr: float = 1e-3
    swa: bool = True
    swa_warmup: float = 10  # epochs before SWA starts averaging (0.5 = mid first epoch)
    eval_every: int = 100  # steps between validations (at least once per epoch)
    patience: int = 50  # validations without nDCG@5 gain before stopping
    clip_factor: float = 5.0  # clip to this x the recent gradient norms; 0 disables
    clip_window: int = 5  # how many recent norms the clipping threshold remembers
    valid_size: int = 200  # validation docs (carved from train when no valid split is given)
    max_steps: int | None = None  # optional cap on optimizer steps (a budget)
    precision: str = "fp32"  # "fp32", "bf16" (autocast, CPU or GPU) or "fp16" (GPU only)
    sparse_embedding: bool = False  # SparseAdam on a trainable embedding
    predict_batch_size: int = 128
    # PPMI + SVD embedding initialisation
    ppmi_window: int = 5
    ppmi_max_words: int = 40_000
    # label tree (paper §2.2, §2.3, §3.7; Table 2): see levels.py
    tree_height: int = 0  # H, levels between root and leaves; 0 = flat (root + L leaves)
    tree_k: int = 8  # K = 2^c, children per node (also the cluster size M unless tree_m)
    tree_m: int | None = None  # M, labels per leaf cluster; None = K
    candidates: int = 160  # C, parents kept per level in training and in beam search
    level_candidates: int | None = None  # fixed candidates per doc at levels > 1; None = C x K
    trees: int = 1  # ensemble size; tree i uses seed + i
    tree_id: int | None = None  # train only tree i of the ensemble (separate jobs); None = all
    level_epochs: tuple[int, ...] | None = None  # epochs per level, top first; None = epochs

    def __post_init__(self) -> None:
        sizes = (self.fc_sizes,) if isinstance(self.fc_sizes, int) else self.fc_sizes
        object.__setattr__(self, "fc_sizes", tuple(int(s) for s in sizes))
        if self.level_epochs is not None:
            per_level = self.level_epochs
            per_level = (per_level,) if isinstance(per_level, int) else per_level
            object.__setattr__(self, "level_epochs", tuple(int(e) for e in per_level))
        if self.tree_height < 0 or self.tree_k < 2 or self.tree_k & (self.tree_k - 1):
            raise ValueError("tree_height must be >= 0 and tree_k a power of two >= 2")
        if self.trees < 1 or self.candidates < 1:
            raise ValueError("trees and candidates must be positive")
        if self.tree_id is not None and not 0 <= self.tree_id < self.trees:
            raise ValueError(f"tree_id must be in [0, {self.trees}), got {self.tree_id}")
        if self.attention_impl not in ATTENTION_IMPLS:
            raise ValueError(
                f"attention_impl must be one of {ATTENTION_IMPLS}, got {self.attention_impl!r}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not self.fc_sizes:
            raise ValueError("fc_sizes needs at least one layer")
        for name in (
            "embedding_dim",
            "hidden_size",
            "max_len",
            "epochs",
            "batch_size",
            "eval_every",
        ):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples become lists)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["fc_sizes"] = list(self.fc_sizes)
        if self.level_epochs is not None:
            out["level_epochs"] = list(self.level_epochs)
        return out


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Hyperparams))
