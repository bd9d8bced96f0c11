"""Batches of padded token ids: length bucketing for training, length-sorted blocks for prediction.

Grouping documents of similar length keeps padding (and so wasted attention work) small; each
batch is cut to its own longest real length. The order depends only on (seed, epoch), so a
resumed run replays exactly the batches an uninterrupted one would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from xmcbench.data.holdout import VALID_SEED, holdout_rows
from xmcbench.types import Split

BUCKET_BATCHES = 50  # documents of this many batches are sorted by length together


@dataclass(frozen=True)
class Batch:
    """One batch on its way to a model; targets align with the logits (all labels or candidates)."""

    tokens: torch.Tensor  # (b, T) int64
    lengths: torch.Tensor  # (b,) int64, each >= 1
    targets: torch.Tensor | None = None  # (b, L) or (b, c) float32
    candidates: torch.Tensor | None = None  # (b, c) int64 label ids, None = every label

    def to(self, device: torch.device) -> Batch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        return Batch(
            move(self.tokens), move(self.lengths), move(self.targets), move(self.candidates)
        )

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def rows(self, start: int, stop: int) -> Batch:
        """Documents start..stop-1 of the batch, padded to the same width as the whole batch."""

        def cut(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[start:stop]

        return Batch(cut(self.tokens), cut(self.lengths), cut(self.targets), cut(self.candidates))


def shard_batch(batch: Batch, rank: int, world: int) -> tuple[Batch, float]:
    """Rank `rank`'s part of a global batch and the factor its mean loss is weighted by.

    Parts are near-equal contiguous slices; with the factor (rows x world / global rows) the
    average of the weighted per-rank losses (and gradients) is the global batch's mean loss. A
    rank left without documents (global batch < world) takes one with weight 0, so that every
    rank still runs the same forward and backward passes.
    """
    size, extra = divmod(len(batch), world)  # the first `extra` ranks take one more document
    start = rank * size + min(rank, extra)
    stop = start + size + (rank < extra)
    if stop > start:
        return batch.rows(start, stop), (stop - start) * world / len(batch)
    return batch.rows(0, 1), 0.0


def clipped_lengths(split: Split, max_len: int) -> np.ndarray:
    """Lengths the model sees: cut to `max_len`, at least 1 (an empty doc is one pad token)."""
    return np.clip(split.lengths, 1, max_len)


def token_batch(split: Split, rows: np.ndarray, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(b, T) int64 token ids cut to the longest real length in `rows`, and (b,) lengths."""
    tokens = split.padded(rows, max_len)  # (b, T)
    if tokens.shape[1] == 0:  # every document empty: one padding position each
        tokens = np.zeros((len(rows), 1), dtype=np.int32)
    lengths = np.clip(split.lengths[rows], 1, max_len)
    return torch.from_numpy(tokens.astype(np.int64)), torch.from_numpy(lengths.astype(np.int64))


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, seed: int, epoch: int
) -> list[np.ndarray]:
    """Row indices of each batch of one epoch: shuffle, sort within buckets, shuffle the batches."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    pool = batch_size * BUCKET_BATCHES
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class FlatTrainingData:
    """Training batches over every label: targets are the (b, L) rows of the label matrix."""

    def __init__(self, split: Split, batch_size: int, max_len: int, seed: int) -> None:
        self.split, self.batch_size, self.max_len, self.seed = split, batch_size, max_len, seed
        self._lengths = clipped_lengths(split, max_len)

    @property
    def n_batches(self) -> int:
        return -(-len(self.split) // self.batch_size)

    def batches(self, epoch: int, skip: int = 0) -> Iterator[Batch]:
        """The batches of `epoch` but the first `skip` (already trained before a resume)."""
        for rows in bucketed_batches(self._lengths, self.batch_size, self.seed, epoch)[skip:]:
            tokens, lengths = token_batch(self.split, rows, self.max_len)
            targets = torch.from_numpy(self.split.labels[rows].toarray().astype(np.float32))
            yield Batch(tokens, lengths, targets)


def prediction_blocks(
    lengths: np.ndarray, batch_size: int, n_scores: int, budget: int = 1 << 26
) -> Iterator[np.ndarray]:
    """Rows in blocks of similar length, each small enough that rows x T x n_scores <= `budget`.

    Bounds the (b, T, L) attention tensor of a prediction batch (2^26 floats = 256 MiB).
    """
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        longest = int(lengths[order[min(start + batch_size, len(order)) - 1]])
        size = max(1, min(batch_size, budget // max(1, longest * n_scores)))
        yield order[start : start + size]
        start += size


def carve_validation(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, valid rows): `size` random rows held out (at most a tenth, at least one)."""
    return holdout_rows(n, max(1, min(size, n // 10)) if n > 1 else 0, seed)


def validation_split(train: Split, valid: Split | None, size: int) -> tuple[Split, Split]:
    """(train, valid) for early stopping: `size` documents held out of `train` when no `valid`
    is given, else at most `size` of `valid` (bounding the cost of each validation).

    The rows depend on `VALID_SEED` alone, so every seed validates on the same documents.
    """
    if valid is None:
        keep, held = carve_validation(len(train), size, VALID_SEED)
        return train.subset(keep), train.subset(held, name="valid")
    if len(valid) > size:
        rows = np.random.default_rng(VALID_SEED).choice(len(valid), size, replace=False)
        valid = valid.subset(np.sort(rows))
    return train, valid
