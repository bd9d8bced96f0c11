"""Training throughput of an ensemble on CPU: trees in turn with every thread, or at once.

`parallel_trees` (on by default with two or more free CPUs) trains each tree of an ensemble in
its own process with the threads split between them. This measures why: the engine's
`train_step` on the auto preset's CPU network (embedding 200, BiLSTM 128, FC 256, batch 32,
136 tokens, 2,048 outputs: level 1 of debian-depends' label tree), random batches, either

- "turns": one process with `--cpus` threads (what each tree of a sequential ensemble gets), or
- "at once": `--cpus` processes with one thread each, all stepping at the same time,

alternating them `--repeats` times. Every process tunes malloc as `xmcbench` does
(`runtime.tune_malloc`); "at once" also runs with glibc's default malloc, which is what the
tree workers of `parallel.py` had before they took the parent's tuning (their level-1
activations exceed glibc's largest mmap threshold, so each step mapped and faulted them in).
Prints docs/s and minor page faults per step per repeat, the medians and the ratios: at once /
turns (the factor by which an ensemble of `--cpus` trees trains faster in parallel) and tuned /
default malloc.

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


def _steps(threads: int, steps: int, args: dict, start: object, tune: bool) -> tuple[float, float]:
    """Worker: `steps` training steps with `threads` threads once `start` is set, malloc tuned
    or not; (docs/s, minor page faults per step)."""
    import resource

    from xmcbench_attentionxml.parallel import start_worker

    start_worker(tune)  # as a tree worker starts: malloc tuned or glibc's default
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
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        began = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(batch())
        seconds = time.perf_counter() - began
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        return steps * b / seconds, faults / steps


def run(processes: int, threads: int, steps: int, args: dict, tune: bool) -> tuple[float, float]:
    """(total docs/s, mean page faults per step) of `processes` processes with `threads`
    threads each, stepping together."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(processes) as pool:
            work = (threads, steps, args, start, tune)
            jobs = [pool.apply_async(_steps, work) for _ in range(processes)]
            time.sleep(1.0)
            start.set()
            results = [job.get() for job in jobs]
            return sum(r[0] for r in results), statistics.mean(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--labels", type=int, default=2048)
    options = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = {"vocab": 50_000, "labels": options.labels, "batch": 32, "tokens": 136}
    kinds = {
        "turns": (1, options.cpus, True),
        "at once": (options.cpus, 1, True),
        "at once, default malloc": (options.cpus, 1, False),
    }
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in kinds}
    for repeat in range(options.repeats):
        for name, (processes, threads, tune) in kinds.items():
            seen[name].append(run(processes, threads, options.steps, args, tune))
        shown = ", ".join(
            f"{name} {runs[-1][0]:.0f} docs/s ({runs[-1][1]:,.0f} faults/step)"
            for name, runs in seen.items()
        )
        print(f"repeat {repeat + 1}: {shown}", flush=True)
    median = {name: statistics.median(r[0] for r in runs) for name, runs in seen.items()}
    faults = {name: statistics.median(r[1] for r in runs) for name, runs in seen.items()}
    print(
        "median: "
        + ", ".join(f"{n} {v:.0f} docs/s ({faults[n]:,.0f} faults/step)" for n, v in median.items())
    )
    parallel, untuned = median["at once"], median["at once, default malloc"]
    print(
        f"ratios: at once / turns {parallel / median['turns']:.2f}, "
        f"tuned / default malloc (at once) {parallel / untuned:.2f}"
    )


if __name__ == "__main__":
    main()
