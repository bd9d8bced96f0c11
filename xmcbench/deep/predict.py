"""Batched top-k prediction (never a dense n_docs x L score matrix) and validation metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from xmcbench.metrics import ndcg_at_k, precision_at_k
from xmcbench.types import Split, TopK

from .batching import clipped_lengths, prediction_blocks, token_batch
from .engine import Evaluator, autocast


@dataclass(frozen=True)
class PredictConfig:
    """How to run a model over a split: truncation, batch size, device and precision."""

    max_len: int
    batch_size: int
    device: torch.device
    precision: str = "fp32"


@torch.no_grad()
def predict_topk(
    model: nn.Module, split: Split, k: int, config: PredictConfig, n_labels: int
) -> TopK:
    """Top-k labels per document with sigmoid scores; documents go in length-sorted blocks."""
    model.eval()
    n, k_eff = len(split), min(k, n_labels)
    labels = np.full((n, k), -1, dtype=np.int32)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    lengths = clipped_lengths(split, config.max_len)
    for rows in prediction_blocks(lengths, config.batch_size, n_labels):
        tokens, lens = token_batch(split, rows, config.max_len)
        with autocast(config.device, config.precision):
            logits = model(tokens.to(config.device), lens.to(config.device))  # (b, L)
        top, idx = torch.topk(logits.float(), k_eff, dim=1)  # (b, k), sorted
        labels[rows, :k_eff] = idx.cpu().numpy()
        scores[rows, :k_eff] = torch.sigmoid(top).cpu().numpy()
    return TopK(labels=labels, scores=scores)


def flat_evaluator(valid: Split, config: PredictConfig) -> Evaluator:
    """Validation callable for the engine: P@5 and nDCG@5 of a model's top 5 on `valid`."""

    def evaluate(model: nn.Module) -> dict[str, float]:
        top = predict_topk(model, valid, 5, config, valid.n_labels)
        return {
            "p@5": precision_at_k(top.labels, valid.labels, 5),
            "ndcg@5": ndcg_at_k(top.labels, valid.labels, 5),
        }

    return evaluate
