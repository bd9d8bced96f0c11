"""What glibc malloc tuning (`xmcbench.runtime.tune_malloc`) saves in AttentionXML training steps.

Each variant trains the same steps in a fresh subprocess (variants alternate, the order flipping
every repetition) and reports, per step after a warm-up: wall, user and system seconds, minor
page faults, and the child's peak RSS. Variants:

- system:    glibc's defaults (`XMCBENCH_MALLOC=system`)
- threshold: only the mmap threshold raised to its 32 MiB maximum and trimming off
- tuned:     what `xmcbench` does (`runtime.MALLOC_SETTINGS`: no mmap for large blocks)

The model is the `cpu` preset (bf16) on random data shaped like debian-depends: 28,800 labels,
documents of 128 tokens, batch 32, the flat model (every label scored every step).

    OMP_NUM_THREADS=1 python benchmarks/bench_allocator.py [--steps 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("system", "threshold", "tuned")
M_MMAP_THRESHOLD = -3


def child(variant: str, steps: int, warmup: int, n_labels: int, tokens: int) -> dict:
    """Train `warmup + steps` steps in this process; figures per timed step."""
    from xmcbench import runtime

    if variant != "tuned":
        os.environ[runtime.MALLOC_ENV] = "system"
    runtime.configure()
    if variant == "threshold":
        mallopt = runtime.glibc_mallopt()
        assert mallopt is not None, "the threshold variant needs glibc"
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(runtime.M_TRIM_THRESHOLD, -1)

    import torch
    from bench_attentionxml import Shape, random_split
    from xmcbench_attentionxml.model import AttentionXMLNet, ModelConfig
    from xmcbench_attentionxml.presets import PRESETS

    from xmcbench.deep.batching import FlatTrainingData
    from xmcbench.deep.engine import TrainConfig, Trainer

    cpu = PRESETS["cpu"]
    shape = Shape(
        "cpu",
        n_labels,
        tokens,
        cpu["batch_size"],
        cpu["embedding_dim"],
        cpu["hidden_size"],
        cpu["fc_sizes"],
        False,
    )
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=shape.vocab_size,
        n_labels=shape.n_labels,
        embedding_dim=shape.embedding_dim,
        hidden_size=shape.hidden_size,
        fc_sizes=shape.fc_sizes,
    )
    split = random_split(shape, shape.batch_size * (warmup + steps))
    batches = list(FlatTrainingData(split, shape.batch_size, shape.tokens, seed=0).batches(0))
    with tempfile.TemporaryDirectory() as tmp:
        train = TrainConfig(epochs=1, precision=cpu["precision"], progress=False)
        trainer = Trainer(AttentionXMLNet(config), train, torch.device("cpu"), Path(tmp), "b")
        for batch in batches[:warmup]:
            trainer.train_step(batch)
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for batch in batches[warmup:]:
            trainer.train_step(batch)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall": wall / steps,
        "user": (after.ru_utime - before.ru_utime) / steps,
        "sys": (after.ru_stime - before.ru_stime) / steps,
        "minflt": (after.ru_minflt - before.ru_minflt) / steps,
        "maxrss_mb": after.ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="timed steps per subprocess")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--labels", type=int, default=28_800)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = child(args.child, args.steps, args.warmup, args.labels, args.tokens)
        print(json.dumps(figures))
        return

    variants = [v.strip() for v in args.variants.split(",")]
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    env.pop("XMCBENCH_MALLOC", None)
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for rep in range(args.repeats):
        for variant in variants if rep % 2 == 0 else variants[::-1]:
            command = [
                sys.executable,
                __file__,
                "--child",
                variant,
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
                "--labels",
                str(args.labels),
                "--tokens",
                str(args.tokens),
            ]
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            runs[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))
    threads = runs[variants[0]][0]["threads"]
    print(
        f"{args.labels} labels, {args.tokens} tokens, batch 32, {threads} thread(s); medians of "
        f"{args.repeats} subprocesses x {args.steps} steps (after {args.warmup} warm-up), per step"
    )
    keys = ("wall", "user", "sys", "minflt", "maxrss_mb")
    print(f"{'variant':<10} {'wall s':>8} {'user s':>8} {'sys s':>8} {'minflt':>10} {'RSS MB':>8}")
    medians = {v: {k: statistics.median(r[k] for r in runs[v]) for k in keys} for v in variants}
    for variant, m in medians.items():
        print(
            f"{variant:<10} {m['wall']:>8.3f} {m['user']:>8.3f} {m['sys']:>8.3f} "
            f"{m['minflt']:>10.0f} {m['maxrss_mb']:>8.0f}"
        )
    if "system" in medians:
        base = medians["system"]
        for variant, m in medians.items():
            if variant != "system":
                ratios = "  ".join(f"{k} {base[k] / max(m[k], 1e-9):.2f}x" for k in keys[:4])
                print(f"system / {variant}: {ratios}")


if __name__ == "__main__":
    main()
