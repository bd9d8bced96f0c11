"""Training throughput of an ensemble on CPU: trees in turn with every thread, or at once.

`parallel_trees` (on by default with two or more free CPUs) trains each tree of an ensemble in
its own process with the threads split between them. This measures why: the engine's
`train_step` on the auto preset's CPU network (embedding 200, BiLSTM 128, FC 256, batch 32,
136 tokens, 2,048 outputs: level 1 of debian-depends' label tree), random batches, either

- "turns": one process with `--cpus` threads (what each tree of a sequential ensemble gets), or
- "at once": `--cpus` processes with one thread each, all stepping at the same time,

alternating the two `--repeats` times. Prints docs/s per repeat, the medians and their ratio
(at once / turns): the factor by which an ensemble of `--cpus` trees trains faster in parallel.

    python benchmarks/bench_parallel_trees.py [--cpus 2] [--steps 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path


def _steps(threads: int, steps: int, args: dict, start: object) -> float:
    """Worker: `steps` training steps with `threads` threads once `start` is set; docs/s."""
    import torch
    from xmcbench_attentionxml.model import AttentionXMLNet, ModelConfig

    from xmcbench.deep.batching import Batch
    from xmcbench.deep.engine import TrainConfig, Trainer

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=args["vocab"], n_labels=args["labels"], embedding_dim=200, hidden_size=128,
        fc_sizes=(256,), optimizer="lazy",
    )  # fmt: skip
    net = AttentionXMLNet(config)
    train = TrainConfig(epochs=1, lr=3e-3, precision="bf16", progress=False)
    with tempfile.TemporaryDirectory() as work:
        trainer = Trainer(net, train, torch.device("cpu"), Path(work), "bench")
        gen = torch.Generator().manual_seed(1)
        b, t = args["batch"], args["tokens"]

        def batch() -> Batch:
            tokens = torch.randint(1, args["vocab"], (b, t), generator=gen)  # (b, T)
            labels = (torch.rand(b, args["labels"], generator=gen) < 0.002).float()  # (b, L)
            return Batch(tokens, torch.full((b,), t), labels)

        for _ in range(3):  # warm-up: allocator, OpenMP pool
            trainer.train_step(batch())
        start.wait()  # type: ignore[attr-defined]
        began = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(batch())
        return steps * b / (time.perf_counter() - began)


def run(processes: int, threads: int, steps: int, args: dict) -> float:
    """Total docs/s of `processes` processes with `threads` threads each, stepping together."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(processes) as pool:
            work = (threads, steps, args, start)
            jobs = [pool.apply_async(_steps, work) for _ in range(processes)]
            time.sleep(1.0)
            start.set()
            return sum(job.get() for job in jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--labels", type=int, default=2048)
    options = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = {"vocab": 50_000, "labels": options.labels, "batch": 32, "tokens": 136}
    turns, together = [], []
    for repeat in range(options.repeats):
        turns.append(run(1, options.cpus, options.steps, args))
        together.append(run(options.cpus, 1, options.steps, args))
        print(
            f"repeat {repeat + 1}: turns ({options.cpus} threads) {turns[-1]:.0f} docs/s, "
            f"at once ({options.cpus} x 1 thread) {together[-1]:.0f} docs/s",
            flush=True,
        )
    a, b = statistics.median(turns), statistics.median(together)
    print(f"median: turns {a:.0f} docs/s, at once {b:.0f} docs/s, ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
