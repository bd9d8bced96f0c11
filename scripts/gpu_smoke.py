#!/usr/bin/env python3
"""GPU smoke test of AttentionXML: fp16/bf16 training, torchrun + nccl, GPU vs CPU scores.

On the CUDA GPUs present, in a few minutes (small models, a few hundred steps):

1. trains flat and label-tree AttentionXML in fp16 and bf16 on one GPU, in process, printing
   training and prediction docs/s, then loads each saved model on the CPU and checks its fp32
   top-k scores against the GPU's (same weights; tolerance per precision, see `ATOL`);
2. runs ``python -m torch.distributed.run --standalone --nproc_per_node N -m xmcbench run
   attentionxml ... --device cuda`` (nccl, N = the GPUs present) for a flat and a tree model, and
   checks the record (world size, device) and its saved top-k against the CPU's scores of the
   saved model.

Every section runs in its own try/except: a failure is reported with the section's name and the
others still run. The last lines are a PASS/FAIL summary.

    python scripts/gpu_smoke.py                       # everything, on every GPU
    python scripts/gpu_smoke.py --steps 100 --nproc 1 --skip-torchrun

Exit status: 0 when every section passed, 1 when one failed, 2 for bad arguments. Without CUDA it
prints ``skipped: no CUDA ...`` and exits 0, or 3 with ``--require-cuda`` (for a GPU CI job).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

EXIT_PASS, EXIT_FAIL, EXIT_NO_CUDA = 0, 1, 3
# GPU (reduced precision) vs CPU (fp32) probabilities of the same weights: fp16 keeps 11 bits,
# bf16 8 bits, through a BiLSTM, attention and (trees) a product over levels
ATOL = {"fp32": 5e-3, "fp16": 2e-2, "bf16": 6e-2}
MAX_MISMATCH = 0.02  # share of compared (doc, label) pairs allowed out of tolerance (beam ties)
K = 5  # top-k compared and scored
CPU_DEPTH = 4 * K  # the CPU ranks deeper so that a label the GPU ranks is usually found
SMALL_MODEL = {
    "embedding_dim": 64,
    "embedding_init": "random",
    "trees": 1,  # one model per section: the checks compare its weights on GPU and CPU
    "hidden_size": 64,
    "fc_sizes": [64],
    "max_len": 200,
    "batch_size": 32,
    "lr": 3e-3,
    "epochs": 50,  # max_steps ends training (per level, for trees)
    "patience": 50,
    "swa": False,
    "eval_every": 100,
}
TREE = {"tree_height": 1, "tree_k": 8, "candidates": 16}


@dataclass(frozen=True)
class Comparison:
    """How a GPU top-k agrees with a CPU ranking of the same weights."""

    compared: int  # (doc, label) pairs of the GPU top-k with a real label
    mismatched: int  # pairs whose CPU score is out of tolerance (or the label out of reach)
    max_abs_diff: float  # largest |GPU - CPU| score over the labels both ranked
    atol: float

    @property
    def passed(self) -> bool:
        """At most MAX_MISMATCH of the pairs out of tolerance."""
        return self.compared > 0 and self.mismatched <= MAX_MISMATCH * self.compared

    def describe(self) -> str:
        """One line: how many pairs, how many out of tolerance, the largest difference."""
        return (
            f"{self.compared} (doc, label) pairs, {self.mismatched} out of tolerance "
            f"(atol {self.atol:g}), max |gpu - cpu| {self.max_abs_diff:.2e}"
        )


def compare_topk(
    gpu_labels: np.ndarray,
    gpu_scores: np.ndarray,
    cpu_labels: np.ndarray,
    cpu_scores: np.ndarray,
    atol: float,
) -> Comparison:
    """Check each label of the GPU's (n, k) top-k against the CPU's deeper (n, K) ranking.

    A label the CPU ranked must have a score within `atol`; a label the CPU did not rank is
    consistent only if its GPU score is at most the CPU's last ranked score plus `atol` (it may
    sit just below the CPU's cut). Ranks may differ: near-ties swap under reduced precision.
    """
    compared = mismatched = 0
    max_diff = 0.0
    for row in range(gpu_labels.shape[0]):
        pairs = zip(cpu_labels[row], cpu_scores[row], strict=True)
        cpu_row = {int(lab): float(s) for lab, s in pairs if lab >= 0}
        floor = min(cpu_row.values()) if cpu_row else 0.0
        for lab, score in zip(gpu_labels[row], gpu_scores[row], strict=True):
            if lab < 0:
                continue
            compared += 1
            if int(lab) in cpu_row:
                diff = abs(float(score) - cpu_row[int(lab)])
                max_diff = max(max_diff, diff)
                mismatched += diff > atol
            else:
                mismatched += float(score) > floor + atol
    return Comparison(compared, mismatched, max_diff, atol)


# ----------------------------------------------------------------------------- sections


@dataclass
class Report:
    """Outcome of every section, in order, and the figures worth printing."""

    results: list[tuple[str, bool, str]]

    def add(self, name: str, ok: bool, detail: str) -> None:
        """Record and print one section's outcome."""
        self.results.append((name, ok, detail))
        print(f"[{'PASS' if ok else 'FAIL'}] {name}: {detail}", flush=True)

    def section(self, name: str, body: Callable[[], str]) -> None:
        """Run `body` (returns a detail line, raises on failure); a failure never stops the rest."""
        print(f"--- {name}", flush=True)
        started = time.perf_counter()
        try:
            detail = body()
        except Exception as exc:  # reported, and the next section runs
            traceback.print_exc()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.add(name, False, f"{type(exc).__name__}: {first}")
            return
        self.add(name, True, f"{detail} ({time.perf_counter() - started:.0f} s)")

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(ok for _, ok, _ in self.results)


class SmokeFailure(RuntimeError):
    """A check inside a section did not hold."""


def _cpu_ranking(model_dir: Path, method_cls: Any, split: Any, depth: int) -> Any:
    """The saved model loaded and moved to the CPU, predicting in fp32: the reference scores."""
    method = method_cls.load(model_dir)  # lands on CUDA when available: move it
    method.precision = "fp32"  # fp16 autocast exists on GPUs only; fp32 is the reference
    if method.tree_models_ is not None:
        for tree in method.tree_models_:
            tree.nets = [net.to("cpu") for net in tree.nets]
    else:
        method.model_ = method.model_.to("cpu")
    method.device_ = "cpu"
    return method.predict(split, depth)


def train_in_process(
    dataset: Any,
    tree: bool,
    precision: str,
    steps: int,
    work: Path,
    atol: float,
    device: str = "cuda",
) -> str:
    """Train, predict on `device`, reload on CPU and compare; returns the figures as one line."""
    import torch
    from xmcbench_attentionxml.method import AttentionXML

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    params = {**SMALL_MODEL, **(TREE if tree else {}), "precision": precision, "max_steps": steps}
    method = AttentionXML(**params, seed=0, device=device, progress=False)
    counted = [0]
    method.step_callback = lambda step: counted.__setitem__(0, counted[0] + 1)
    sync()
    started = time.perf_counter()
    method.fit(dataset.train, dataset.valid, work / "fit")
    sync()
    fit_s = time.perf_counter() - started
    method.predict(dataset.test, K)  # warm-up: kernels, cuDNN plans
    sync()
    started = time.perf_counter()
    gpu = method.predict(dataset.test, K)
    sync()
    predict_s = time.perf_counter() - started
    method.save(work / "model")
    cpu = _cpu_ranking(work / "model", AttentionXML, dataset.test, CPU_DEPTH)
    check = compare_topk(gpu.labels, gpu.scores, cpu.labels, cpu.scores, atol)
    train_docs = counted[0] * SMALL_MODEL["batch_size"]
    line = (
        f"{counted[0]} steps, train {train_docs / fit_s:,.0f} docs/s (fit incl. validation), "
        f"predict {len(dataset.test) / predict_s:,.0f} docs/s; GPU vs CPU: {check.describe()}"
    )
    if counted[0] == 0:
        raise SmokeFailure(f"no training step was taken; {line}")
    if not check.passed:
        raise SmokeFailure(line)
    return line


def torchrun_run(
    dataset_name: str,
    tree: bool,
    precision: str,
    steps: int,
    nproc: int,
    work: Path,
    atol: float,
    device: str = "cuda",
) -> str:
    """`xmcbench run attentionxml` under torchrun on `nproc` GPUs; check its record against CPU."""
    from xmcbench_attentionxml.method import AttentionXML

    from xmcbench.plugins import get_plugins
    from xmcbench.results.store import load_topk
    from xmcbench.saved_run import load_run_dataset

    params = {**SMALL_MODEL, **(TREE if tree else {}), "precision": precision, "max_steps": steps}
    sets = [
        part for key, value in params.items() for part in ("--set", f"{key}={json.dumps(value)}")
    ]
    results = work / "results"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}", "-m", "xmcbench", "run", "attentionxml",
        "--dataset", dataset_name, "--device", device, "--results", str(results), "--quiet", *sets,
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise SmokeFailure(f"torchrun exited {done.returncode}:\n{tail}")
    paths = sorted(results.glob("*/attentionxml/*.json"))
    if len(paths) != 1:
        raise SmokeFailure(f"expected one record under {results}, found {len(paths)}")
    record = json.loads(paths[0].read_text())
    world, used = record["env"].get("world_size"), str(record["env"].get("device"))
    if world != nproc or not used.startswith(device):
        raise SmokeFailure(f"record: world_size {world} on {used}, expected {nproc} on {device}")
    dataset = load_run_dataset(record, get_plugins(), progress=False)
    gpu = load_topk(paths[0])
    cpu = _cpu_ranking(Path(record["model_dir"]), AttentionXML, dataset.test, CPU_DEPTH)
    check = compare_topk(gpu.labels[:, :K], gpu.scores[:, :K], cpu.labels, cpu.scores, atol)
    timing = record["timing"]
    n_train = record["n_train"]
    line = (
        f"{nproc} process(es), {wall_s:.0f} s wall, train {timing['train_s']:.1f} s, predict "
        f"{1000 / max(timing['predict_ms_per_doc'], 1e-9):,.0f} docs/s, P@1 "
        f"{100 * record['metrics']['p@1']:.1f}; GPU vs CPU: {check.describe()}"
    )
    if not check.passed:
        raise SmokeFailure(line)
    return f"{line} ({n_train} train docs)"


# ----------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options; bad values exit 2 with argparse's one-line message."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", default="synthetic", help="registered dataset (default: synthetic)"
    )
    parser.add_argument(
        "--steps", type=_positive, default=300, help="training steps per model/level"
    )
    parser.add_argument(
        "--nproc", type=_positive, help="torchrun processes (default: the GPUs present)"
    )
    parser.add_argument(
        "--precisions",
        default="fp16,bf16",
        type=_precisions,
        help="comma-separated: fp16,bf16,fp32",
    )
    parser.add_argument("--skip-torchrun", action="store_true", help="only the in-process sections")
    parser.add_argument("--atol-scale", type=float, default=1.0, help="multiply every tolerance")
    parser.add_argument(
        "--require-cuda", action="store_true", help=f"exit {EXIT_NO_CUDA} without CUDA"
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _precisions(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    bad = [name for name in names if name not in ATOL]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"precisions are {', '.join(ATOL)}, got {text!r}")
    return names


def cuda_devices() -> list[str]:
    """Names of the CUDA devices torch sees (empty without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def main(argv: Sequence[str] | None = None) -> int:
    """Run every section; 0 when all passed, 1 when one failed, 0/3 without CUDA."""
    args = parse_args(argv)
    import torch

    devices = cuda_devices()
    if not devices:
        print(f"skipped: no CUDA (torch {torch.__version__}: torch.cuda.is_available() is False)")
        return EXIT_NO_CUDA if args.require_cuda else EXIT_PASS
    nproc = args.nproc or len(devices)
    print(
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
        f"{len(devices)} GPU(s): {', '.join(devices)}"
    )
    if "bf16" in args.precisions and not torch.cuda.is_bf16_supported():
        print("note: this GPU reports no bf16 support; the bf16 sections may fail")
    with tempfile.TemporaryDirectory(prefix="xmcbench-gpu-smoke-") as tmp:
        os.environ["XMCBENCH_HOME"] = str(Path(tmp) / "home")  # torchrun's children inherit it
        report = Report([])
        dataset_box: list[Any] = []

        def prepare() -> str:
            from xmcbench.data.resolve import load_dataset
            from xmcbench.plugins import get_plugins

            dataset = load_dataset(args.dataset, get_plugins().datasets, progress=False)
            dataset_box.append(dataset)
            return (
                f"{len(dataset.train)} train, {len(dataset.test)} test, {dataset.n_labels} labels"
            )

        report.section(f"prepare {args.dataset}", prepare)
        for tree in (False, True):
            for precision in args.precisions:
                name = f"{'tree' if tree else 'flat'} {precision} on cuda:0"
                work = Path(tmp) / name.replace(" ", "-").replace(":", "")
                atol = ATOL[precision] * args.atol_scale
                if not dataset_box:
                    report.add(name, False, "no dataset (its preparation failed)")
                    continue
                report.section(
                    name,
                    lambda t=tree, p=precision, w=work, a=atol: train_in_process(
                        dataset_box[0], t, p, args.steps, w, a
                    ),
                )
        if not args.skip_torchrun:
            for tree, precision in ((False, args.precisions[0]), (True, args.precisions[-1])):
                name = f"torchrun nccl x{nproc}: {'tree' if tree else 'flat'} {precision}"
                work = Path(tmp) / f"torchrun-{'tree' if tree else 'flat'}"
                atol = ATOL[precision] * args.atol_scale
                report.section(
                    name,
                    lambda t=tree, p=precision, w=work, a=atol: torchrun_run(
                        args.dataset, t, p, args.steps, nproc, w, a
                    ),
                )
    failed = [name for name, ok, _ in report.results if not ok]
    print(
        f"{'PASS' if report.passed else 'FAIL'}: {len(report.results) - len(failed)} of "
        f"{len(report.results)} sections passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return EXIT_PASS if report.passed else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
