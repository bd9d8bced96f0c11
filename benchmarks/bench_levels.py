"""Level-wise AttentionXML at extreme scale on CPU: tree build, then one epoch of every level.

Loads the `synthetic-million` dataset (1,000,000 labels, 100k training docs), builds its label
tree (H, K as given), and trains each level for one epoch (or --max-steps) with a small model,
timing the tree, each level's candidate search and training, and beam-search prediction;
prints peak RSS. Memory never holds a docs x labels matrix.

    python benchmarks/bench_levels.py [--dataset synthetic-million] [--height 3] [--k 8]
        [--candidates 160] [--docs 20000] [--max-steps 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from xmcbench_attentionxml.beam import beam_search
from xmcbench_attentionxml.levels import LevelTrainer
from xmcbench_attentionxml.presets import resolve
from xmcbench_attentionxml.tree import build_tree

from xmcbench.data.resolve import load_dataset
from xmcbench.deep.predict import PredictConfig
from xmcbench.plugins import get_plugins


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic-million")
    parser.add_argument("--height", type=int, default=3)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=160)
    parser.add_argument("--docs", type=int, default=0, help="training docs used (0 = all)")
    parser.add_argument("--max-steps", type=int, default=0, help="steps per level (0 = 1 epoch)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    data = load_dataset(args.dataset, get_plugins().datasets, progress=True)
    print(f"dataset: {time.perf_counter() - started:.1f} s, peak RSS {peak_rss_mb():.0f} MB")
    train, test = data.train, data.test.subset(np.arange(min(2000, len(data.test))))
    started = time.perf_counter()
    tree = build_tree(train.features, train.labels, k=args.k, height=args.height, seed=0)
    print(tree.summary())
    print(f"tree: {time.perf_counter() - started:.1f} s, peak RSS {peak_rss_mb():.0f} MB")

    rng = np.random.default_rng(0)
    if args.docs and args.docs < len(train):
        train = train.subset(np.sort(rng.choice(len(train), args.docs, replace=False)))
    valid = train.subset(np.arange(min(500, len(train))), name="valid")
    _, hp = resolve(
        "cpu",
        {
            "embedding_init": "random", "embedding_dim": 64, "hidden_size": 32,
            "fc_sizes": (32,), "max_len": 64, "epochs": 1, "swa": False,
            "eval_every": 10**9, "tree_height": args.height, "tree_k": args.k,
            "candidates": args.candidates, "max_steps": args.max_steps or None,
            "precision": "fp32", "predict_batch_size": 256,
        },
    )  # fmt: skip
    device = torch.device("cpu")
    times: dict[int, float] = {}

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - begin:7.1f} s, RSS {peak_rss_mb():.0f} MB] {text}")

    begin = time.perf_counter()
    trainer = LevelTrainer(hp, device, seed=0, fingerprint={"bench": 1}, progress=False, log=log)
    with tempfile.TemporaryDirectory() as tmp:
        model = trainer.train(tree, train, valid, Path(tmp))
        times.update(trainer.seconds)
        config = PredictConfig(hp.max_len, hp.predict_batch_size, device, hp.precision)
        started = time.perf_counter()
        beam_search(model.nets, tree, test, args.candidates, 5, config)
        predict_ms = 1000 * (time.perf_counter() - started) / len(test)
    for level, seconds in times.items():
        print(f"level {level}: {tree.n_nodes(level):,} nodes, {seconds:.1f} s (candidates + train)")
    print(f"prediction: {predict_ms:.2f} ms/doc (beam {args.candidates}, {len(test)} docs)")
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
