"""Time reading and preparing a raw dataset folder, cold (empty cache) and warm (cache hit).

Usage: python benchmarks/bench_prepare.py /work/shared/datasets/debian-depends [--max-len 500]
The cache goes to a fresh temporary folder (removed afterwards); no assertions on timings.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from xmcbench.data.preprocess import PrepareOptions, prepare, prepare_folder
from xmcbench.data.readers import read_folder

T = TypeVar("T")


def timed(label: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run func, print wall and CPU seconds, return its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<28} {wall:7.2f} s wall {cpu:7.2f} s cpu")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--max-len", type=int, default=500)
    parser.add_argument("--max-vocab", type=int, default=500_000)
    args = parser.parse_args(argv)
    options = PrepareOptions(max_len=args.max_len, max_vocab=args.max_vocab)
    cache = Path(tempfile.mkdtemp(prefix="xmcbench-bench-prepare-"))
    try:
        raw = timed("read_folder", read_folder, args.folder)
        cold = timed(
            "prepare (cold)", prepare, raw, "bench", options, cache_root=cache, progress=False
        )
        timed(
            "prepare (warm, raw given)",
            prepare,
            raw,
            "bench",
            options,
            cache_root=cache,
            progress=False,
        )
        timed(
            "prepare_folder (warm)",
            prepare_folder,
            args.folder,
            "bench",
            options,
            cache_root=cache,
            progress=False,
        )
        for split in (cold.train, cold.valid, cold.test):
            if split is not None:
                print(
                    f"  {split.name}: {len(split)} docs, {split.tokens.size} tokens, "
                    f"{split.labels.nnz} labels"
                )
        print(
            f"  vocabulary {len(cold.train.vocab)}, labels {cold.n_labels}, "
            f"TF-IDF {None if cold.train.features is None else cold.train.features.shape[1]}"
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
