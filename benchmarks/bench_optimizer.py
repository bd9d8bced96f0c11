"""One training step of a candidate-scoring AttentionXML level at 1M labels: lazy vs dense Adam.

A level below the first scores (batch, candidates) labels per step; its per-label attention
matrix is (labels, hidden). Dense Adam (optimizer="dense") materialises a dense gradient for the
whole matrix and updates every row; LazyAdam (optimizer="lazy") gets a sparse gradient naming the
candidates' rows and updates those only. Also timed: torch's SparseAdam on the sparse weights with
Adam on the rest (the reuse LazyAdam's docstring argues against). Each variant runs the engine's
`train_step` (forward, BCE, backward, adaptive clipping, update); prints the median step time,
the median optimizer-only time, the bytes of gradients and optimizer state, the peak RSS so far
and its growth during the variant (variants run in ascending memory order; memory freed by one
variant may be reused by the next, so growth under-states later variants' needs), and the
step-time ratio of each variant to LazyAdam.

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_optimizer.py \\
        [--labels 1000000] [--hidden 64] [--batch 32] [--candidates 160] [--steps 5] [--only NAME]

`--only lazy|sparseadam|dense` runs one variant: its peak RSS is then its own.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
from xmcbench_attentionxml.model import AttentionXMLNet, ModelConfig

from xmcbench.deep.batching import Batch
from xmcbench.deep.engine import TrainConfig, Trainer

VARIANTS = {"lazy": "LazyAdam", "sparseadam": "SparseAdam + Adam", "dense": "dense Adam"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batches(args: argparse.Namespace, n: int) -> list[Batch]:
    """`n` random candidate batches, the same for every variant."""
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        cand = torch.randint(0, args.labels, (args.batch, args.candidates), generator=gen)
        out.append(
            Batch(
                torch.randint(1, args.vocab, (args.batch, args.tokens), generator=gen),  # (b, T)
                torch.full((args.batch,), args.tokens),  # (b,)
                (torch.rand(args.batch, args.candidates, generator=gen) < 0.02).float(),  # (b, c)
                cand,  # (b, c)
            )
        )
    return out


def tensor_mb(tensors: list[torch.Tensor]) -> float:
    total = 0
    for t in tensors:
        if t.is_sparse:
            t = t.coalesce()
            total += t.values().nbytes + t.indices().nbytes
        else:
            total += t.nbytes
    return total / 2**20


def run_variant(name: str, args: argparse.Namespace, data: list[Batch], workdir: Path) -> float:
    """Build the level model for variant `name`, train it on `data`; returns the median step."""
    peak_before = peak_rss_mb()
    optimizer = "dense" if name == "dense Adam" else "lazy"
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=args.vocab, n_labels=args.labels, embedding_dim=args.hidden,
        hidden_size=args.hidden // 2, fc_sizes=(args.hidden,), optimizer=optimizer,
    )  # fmt: skip
    net = AttentionXMLNet(config)
    trainer = Trainer(net, TrainConfig(epochs=1, progress=False), torch.device("cpu"), workdir,
                      name)  # fmt: skip
    if name == "SparseAdam + Adam":
        sparse = [net.embedding.weight, net.head.attention.weight]
        ids = {id(p) for p in sparse}
        dense = [p for p in net.parameters() if id(p) not in ids]
        trainer.optimizers = [torch.optim.Adam(dense), torch.optim.SparseAdam(sparse)]
    opt_seconds: list[float] = []
    step_seconds: list[float] = []
    for optimizer_obj in trainer.optimizers:  # time the update alone, inside train_step
        inner = optimizer_obj.step

        def timed(*a: object, _inner=inner, **k: object) -> object:
            started = time.perf_counter()
            out = _inner(*a, **k)
            opt_seconds.append(time.perf_counter() - started)
            return out

        optimizer_obj.step = timed  # type: ignore[method-assign]
    grads_mb = 0.0
    for i, batch in enumerate(data):
        started = time.perf_counter()
        trainer.train_step(batch)
        step_seconds.append(time.perf_counter() - started)
        if i == 0:
            grads_mb = tensor_mb([p.grad for p in net.parameters() if p.grad is not None])
    n_opt = len(trainer.optimizers)
    per_step_opt = [sum(opt_seconds[i : i + n_opt]) for i in range(0, len(opt_seconds), n_opt)]
    state_mb = tensor_mb(
        [t for opt in trainer.optimizers for s in opt.state.values() for t in s.values()
         if isinstance(t, torch.Tensor)]
    )  # fmt: skip
    step = statistics.median(step_seconds[1:])  # the first step allocates the state
    update = statistics.median(per_step_opt[1:])
    print(
        f"{name:18s} step {step * 1000:8.1f} ms  (update {update * 1000:7.1f} ms)  "
        f"grads {grads_mb:7.1f} MB  optimizer state {state_mb:7.1f} MB  "
        f"peak RSS {peak_rss_mb():6.0f} MB (+{peak_rss_mb() - peak_before:.0f})"
    )
    del trainer, net
    gc.collect()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--hidden", type=int, default=64, help="attention width (2 x LSTM units)")
    parser.add_argument("--vocab", type=int, default=20_000)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--candidates", type=int, default=160)
    parser.add_argument("--steps", type=int, default=5, help="timed steps after one warm-up")
    parser.add_argument("--only", choices=sorted(VARIANTS), help="run this variant alone")
    args = parser.parse_args()
    print(
        f"{args.labels:,} labels x {args.hidden} attention, batch {args.batch} x "
        f"{args.candidates} candidates, {args.tokens} tokens, vocabulary {args.vocab:,}, "
        f"{torch.get_num_threads()} thread(s); median of {args.steps} steps"
    )
    data = batches(args, args.steps + 1)
    print(f"baseline peak RSS {peak_rss_mb():.0f} MB")
    names = (VARIANTS[args.only],) if args.only else tuple(VARIANTS.values())
    with tempfile.TemporaryDirectory() as tmp:
        steps = {
            name: run_variant(name, args, data, Path(tmp) / name.replace(" ", "")) for name in names
        }
    if len(names) > 1:
        ratios = ", ".join(f"{n} {steps[n] / steps[names[0]]:.1f}x" for n in names[1:])
        print(f"step time / LazyAdam's: {ratios}")


if __name__ == "__main__":
    main()
