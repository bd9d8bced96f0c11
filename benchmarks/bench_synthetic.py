"""Time the synthetic dataset presets: generation, writing the raw layout, and their shape.

python benchmarks/bench_synthetic.py                 # tiny, default, large
python benchmarks/bench_synthetic.py --presets million --write
"""

from __future__ import annotations

import argparse
import collections
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from xmcbench.data.synthetic import PRESETS, generate, write_raw_layout


def bench(name: str, seed: int, write: bool) -> dict[str, float | int | str]:
    """Generate one preset (and optionally write it); return timings and size statistics."""
    start = time.perf_counter()
    data = generate(PRESETS[name], seed=seed)
    gen_s = time.perf_counter() - start
    write_s = float("nan")
    if write:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            write_raw_layout(data, Path(tmp))
            write_s = time.perf_counter() - start
    counts = np.array(
        list(
            collections.Counter(label for labels in data.train_labels for label in labels).values()
        )
    )
    counts = np.sort(counts)[::-1]  # (labels seen in train,) descending
    tokens = np.array([text.count(" ") + 1 for text in data.train_texts])
    return {
        "preset": name,
        "train": len(data.train_texts),
        "test": len(data.test_texts),
        "labels": len(data.label_names),
        "labels_in_train": len(counts),
        "tokens_per_doc": round(float(tokens.mean()), 1),
        "labels_per_doc": round(float(counts.sum() / len(data.train_texts)), 2),
        "top10pct_share": round(float(counts[: max(1, len(counts) // 10)].sum() / counts.sum()), 3),
        "labels_le_5_docs": int((counts <= 5).sum()),
        "generate_s": round(gen_s, 2),
        "write_s": round(write_s, 2),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets", nargs="+", default=["tiny", "default", "large"], choices=sorted(PRESETS)
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="also time write_raw_layout")
    args = parser.parse_args()
    for name in args.presets:
        row = bench(name, args.seed, args.write)
        print("  ".join(f"{key}={value}" for key, value in row.items()), flush=True)


if __name__ == "__main__":
    main()
