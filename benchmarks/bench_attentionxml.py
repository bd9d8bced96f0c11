"""Throughput of AttentionXML on random data of fixed shape: training docs/s, prediction ms/doc.

Two models: the paper's EUR-Lex size (emb 300, BiLSTM 256, FC 256, 3,956 labels, 500 tokens,
batch 40) and the `cpu` preset on a debian-depends-like shape (28,800 labels, 64 tokens); each
with both attention formulations, timed in the same process (medians of --repeats).

    python benchmarks/bench_attentionxml.py [--precision bf16] [--repeats 3] [--only cpu]

Like `xmcbench`, it calls `xmcbench.runtime.configure()` before torch loads: OMP_WAIT_POLICY=PASSIVE
unless set (OpenMP spin-waiting slows the LSTM by an order of magnitude on a machine whose cores
other processes also use) and glibc malloc keeping freed blocks (benchmarks/bench_allocator.py).
"""

# ruff: noqa: E402  (torch must load after runtime.configure() has set the OpenMP environment)
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from xmcbench import runtime

runtime.configure()

import numpy as np
import scipy.sparse as sp
import torch
from xmcbench_attentionxml.model import AttentionXMLNet, ModelConfig
from xmcbench_attentionxml.presets import PRESETS

from xmcbench.deep.batching import FlatTrainingData
from xmcbench.deep.engine import TrainConfig, Trainer
from xmcbench.deep.predict import PredictConfig, predict_topk
from xmcbench.types import Split


@dataclass(frozen=True)
class Shape:
    """A model size and a data shape to time."""

    name: str
    n_labels: int
    tokens: int  # every document has exactly this many
    batch_size: int
    embedding_dim: int
    hidden_size: int
    fc_sizes: tuple[int, ...]
    freeze_embedding: bool
    vocab_size: int = 50_000


def shapes() -> list[Shape]:
    eurlex, cpu = PRESETS["eurlex-4k"], PRESETS["cpu"]
    return [
        Shape(
            "paper eurlex-4k",
            3956,
            500,
            eurlex["batch_size"],
            eurlex["embedding_dim"],
            eurlex["hidden_size"],
            eurlex["fc_sizes"],
            eurlex["freeze_embedding"],
        ),
        Shape(
            "cpu preset",
            28_800,
            64,
            cpu["batch_size"],
            cpu["embedding_dim"],
            cpu["hidden_size"],
            cpu["fc_sizes"],
            False,
        ),
    ]


def random_split(shape: Shape, n_docs: int, seed: int = 0) -> Split:
    """`n_docs` documents of `shape.tokens` random ids with five random labels each."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(2, shape.vocab_size, size=n_docs * shape.tokens).astype(np.int32)
    offsets = np.arange(n_docs + 1, dtype=np.int64) * shape.tokens
    cols = rng.integers(0, shape.n_labels, size=(n_docs, 5)).ravel()
    rows = np.repeat(np.arange(n_docs), 5)
    labels = sp.csr_matrix(
        (np.ones(len(cols), np.float32), (rows, cols)), shape=(n_docs, shape.n_labels)
    )
    labels.data[:] = 1.0
    return Split(
        "bench",
        tokens,
        offsets,
        labels,
        ("<pad>", "<unk>") + ("w",) * (shape.vocab_size - 2),
        tuple(str(j) for j in range(shape.n_labels)),
    )


def time_shape(shape: Shape, impl: str, precision: str, repeats: int) -> tuple[float, float]:
    """(training docs/s, prediction ms/doc), medians over `repeats` after one warm-up."""
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=shape.vocab_size,
        n_labels=shape.n_labels,
        embedding_dim=shape.embedding_dim,
        hidden_size=shape.hidden_size,
        fc_sizes=shape.fc_sizes,
        attention_impl=impl,
        freeze_embedding=shape.freeze_embedding,
    )
    model = AttentionXMLNet(config)
    device = torch.device("cpu")
    split = random_split(shape, shape.batch_size * (repeats + 1))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            model,
            TrainConfig(epochs=1, precision=precision, progress=False),
            device,
            Path(tmp),
            "bench",
        )
        batches = list(FlatTrainingData(split, shape.batch_size, shape.tokens, seed=0).batches(0))
        train_times = []
        for batch in batches:
            start = time.perf_counter()
            trainer.train_step(batch)
            train_times.append(time.perf_counter() - start)
    predict_config = PredictConfig(shape.tokens, shape.batch_size, device, precision)
    block = split.subset(np.arange(shape.batch_size))
    predict_times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        predict_topk(model, block, 5, predict_config, shape.n_labels)
        predict_times.append(time.perf_counter() - start)
    train = shape.batch_size / statistics.median(train_times[1:])
    predict = 1000 * statistics.median(predict_times[1:]) / shape.batch_size
    return train, predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["paper", "cpu"], default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} threads, precision {args.precision}, "
        f"medians of {args.repeats} (after one warm-up)"
    )
    print(f"{'model':<17} {'attention':<10} {'train docs/s':>13} {'predict ms/doc':>15}")
    for shape in shapes():
        if args.only and not shape.name.startswith(args.only):
            continue
        results = {}
        for impl in ("fast", "reference"):
            results[impl] = time_shape(shape, impl, args.precision, args.repeats)
            train, predict = results[impl]
            print(f"{shape.name:<17} {impl:<10} {train:>13.1f} {predict:>15.2f}", flush=True)
        (ft, fp), (rt, rp) = results["fast"], results["reference"]
        print(f"{shape.name:<17} {'speedup':<10} {ft / rt:>12.2f}x {rp / fp:>14.2f}x")


if __name__ == "__main__":
    main()
