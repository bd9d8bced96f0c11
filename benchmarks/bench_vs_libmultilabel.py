"""Training docs/s of our AttentionXML against LibMultiLabel's, on the same real data, per level.

Both label-tree levels of two configurations are timed step by step (forward, loss, backward,
optimizer step, and the tool's own batch building), each run in its own subprocess with one
thread (OMP_NUM_THREADS=1, OMP_WAIT_POLICY=PASSIVE), the tools alternating within every burst:

- `default`: our default preset (`auto`) as it resolves on the data on CPU (on debian-depends a
  one-level tree, K = M = 32, C = 16; emb 100, BiLSTM 64, FC 64, bf16);
- `paper`: the paper's EUR-Lex model (`preset=eurlex-4k`: emb 300 frozen, BiLSTM 256, FC 256,
  500 tokens, batch 40, fp32) on a one-level label tree with clusters of 8 (K = M = 8, C = 160).

LibMultiLabel's AttentionXML (`PLTTrainer`) is exactly two levels: level 1 scores every cluster
(`AttentionXML_0`), level 2 the labels of `beam_width` selected clusters (`AttentionXML_1`). Both
tools get the same documents (our tokenisation, vocabulary and max_len), the same random 300-d
(or 100-d) embeddings, our tree's clusters (LibMultiLabel's rule, 2^ceil(log2(L / M)) balanced
clusters, gives the same count and sizes), beam_width = C and the same number of scored labels at
level 2. Level 2's parents are each document's positive clusters, then random ones (a level-1
beam changes which clusters are scored, not the cost of a step). LibMultiLabel is driven as its
Lightning loop drives it (its datasets, DataLoader with shuffle, `shared_step`, its Adam from
`configure_optimizers`), without the Lightning Trainer's per-step hooks and with
`num_workers=0` (one thread each), which if anything favours it.

Ours runs as `xmcbench` does (`runtime.configure()` first: malloc tuning) with the working tree's
defaults (`optimizer=lazy`); `ours-dense` is `optimizer=dense` with `XMCBENCH_MALLOC=system`;
`ours-fp32` is the default configuration without bf16 autocast (LibMultiLabel trains in fp32);
`ours-nobucket` (not run unless named in --variants) draws random batches, without length bucketing.

LibMultiLabel must be installed in its own environment, never the project's:

    python3 -m venv /tmp/lml-venv
    /tmp/lml-venv/bin/pip install torch 'libmultilabel[nn]' 'setuptools<81'
    .venv/bin/python benchmarks/bench_vs_libmultilabel.py --data /path/to/debian-depends \\
        [--lml-python /tmp/lml-venv/bin/python] [--bursts 3] [--steps 40] [--paper-steps 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

WARMUP_STEPS = 1  # an untimed step first: allocator, autograd and oneDNN caches warm up
BUCKET_BATCHES = 50  # documents of this many batches per burst (our length-bucketing pool)
LML_MONITOR = ["P@1"]  # LibMultiLabel builds metric objects it never uses in a training step
VARIANTS = ("ours", "lml", "ours-dense", "ours-fp32", "ours-nobucket")
DEFAULT_VARIANTS = VARIANTS[:4]


@dataclass(frozen=True)
class Job:
    """One timed burst: which tool, which configuration and level, which documents."""

    variant: str
    config: str
    level: int
    steps: int
    seed: int
    workdir: str

    def as_args(self) -> list[str]:
        return [
            "--worker", self.variant, "--config", self.config, "--level", str(self.level),
            "--steps", str(self.steps), "--seed", str(self.seed), "--workdir", self.workdir,
        ]  # fmt: skip


# --------------------------------------------------------------------------- preparation
def prepare(data: Path, workdir: Path) -> dict[str, dict[str, Any]]:
    """Load the data with xmcbench, resolve both configurations, build their trees; save all."""
    from xmcbench_attentionxml import auto
    from xmcbench_attentionxml.presets import resolve
    from xmcbench_attentionxml.tree import build_tree

    from xmcbench.data.resolve import load_dataset
    from xmcbench.plugins import get_plugins

    train = load_dataset(str(data), get_plugins().datasets, progress=False).train
    labels = sp.csr_matrix(train.labels)
    np.savez(
        workdir / "data.npz", tokens=train.tokens, offsets=train.offsets,
        indptr=labels.indptr, indices=labels.indices, n_labels=labels.shape[1],
        vocab_size=len(train.vocab),
    )  # fmt: skip
    choice = auto.choose(auto.DataShape.of(train), "cpu")
    if not choice.values.get("tree_height"):
        raise SystemExit("error: the auto preset chose a flat model here; use data with a tree")
    configs = {
        "default": resolve(None, {}, choice.values)[1],
        "paper": resolve("eurlex-4k", {"tree_height": 1, "tree_k": 8, "trees": 1})[1],
    }
    out: dict[str, dict[str, Any]] = {}
    for name, hp in configs.items():
        tree = build_tree(train.features, labels, k=hp.tree_k, height=1, seed=0, progress=False)
        tree.save(workdir / f"tree-{name}.npz")
        np.save(workdir / f"clusters-{name}.npy", tree.label_to_node(1))
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(hp).items()}
        out[name] = {
            "hp": values, "clusters": tree.n_nodes(1),
            "candidates": hp.candidates * tree.levels[1].max_children,
        }  # fmt: skip
    (workdir / "configs.json").write_text(json.dumps(out))
    print(f"data: {len(train):,} train docs, {labels.shape[1]:,} labels, "
          f"{len(train.vocab):,} words; auto: {choice.reason}")  # fmt: skip
    return out


# --------------------------------------------------------------------------- shared by workers
def load_job_data(job: Job) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray]:
    """(hyperparameters, the burst's documents, its rows of the full train split)."""
    workdir = Path(job.workdir)
    hp = json.loads((workdir / "configs.json").read_text())[job.config]["hp"]
    with np.load(workdir / "data.npz") as npz:
        data = {key: npz[key] for key in npz.files}
    n_docs = len(data["offsets"]) - 1
    size = hp["batch_size"] * max(BUCKET_BATCHES, WARMUP_STEPS + job.steps)
    rows = np.sort(np.random.default_rng(job.seed).choice(n_docs, min(size, n_docs), False))
    return hp, data, rows


def random_embedding(vocab_size: int, dim: int) -> np.ndarray:
    """(vocab, dim) N(0, 0.1) float32 word vectors, identical in both workers; row 0 zero."""
    matrix = np.random.default_rng(0).normal(0.0, 0.1, (vocab_size, dim)).astype(np.float32)
    matrix[0] = 0.0
    return matrix


def labels_of(data: dict[str, np.ndarray]) -> sp.csr_matrix:
    n_docs = len(data["offsets"]) - 1
    ones = np.ones(len(data["indices"]), dtype=np.float32)
    shape = (n_docs, int(data["n_labels"]))
    return sp.csr_matrix((ones, data["indices"], data["indptr"]), shape=shape)


def random_parents(truth: sp.csr_matrix, width: int, n_nodes: int, seed: int) -> np.ndarray:
    """(n, width) distinct level-1 nodes per document: its positives first, then random ones."""
    rng = np.random.default_rng([seed, 1])
    out = np.empty((truth.shape[0], width), dtype=np.int64)
    for i in range(truth.shape[0]):
        positives = truth.indices[truth.indptr[i] : truth.indptr[i + 1]][:width]
        others = rng.choice(n_nodes, width + len(positives), replace=False)
        others = others[~np.isin(others, positives)][: width - len(positives)]
        out[i] = np.concatenate([positives, others])
    return out


def cluster_truth(labels: sp.csr_matrix, cluster_of: np.ndarray, n_clusters: int) -> sp.csr_matrix:
    """(n, clusters) 0/1 int32 CSR: a cluster is positive iff one of its labels is."""
    rows = np.repeat(np.arange(labels.shape[0]), np.diff(labels.indptr))
    out = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cluster_of[labels.indices])),
        shape=(labels.shape[0], n_clusters),
    )
    out.data[:] = 1  # duplicates were summed
    return out


def timed(steps: list[Any], step: Any) -> tuple[float, list[int]]:
    """Seconds of the steps after the warm-up (batch building included) and batch widths."""
    widths, started = [], 0.0
    for index, batch in enumerate(steps):
        if index == WARMUP_STEPS:
            started = time.perf_counter()
        widths.append(step(batch))
    return time.perf_counter() - started, widths[WARMUP_STEPS:]


def take(iterator: Any, count: int) -> Any:
    for index, item in enumerate(iterator):
        if index == count:
            return
        yield item


# --------------------------------------------------------------------------- our worker
def worker_ours(job: Job) -> dict[str, float]:
    """Time `job.steps` training steps of our level-`job.level` network."""
    from xmcbench import runtime

    runtime.configure()  # before torch loads, as `xmcbench` does
    import dataclasses

    import torch
    from xmcbench_attentionxml.candidates import CandidateTrainingData
    from xmcbench_attentionxml.levels import model_config
    from xmcbench_attentionxml.model import AttentionXMLNet
    from xmcbench_attentionxml.params import Hyperparams
    from xmcbench_attentionxml.tree import LabelTree

    from xmcbench.deep import batching
    from xmcbench.deep.batching import FlatTrainingData
    from xmcbench.deep.engine import TrainConfig, Trainer
    from xmcbench.types import Split

    torch.set_num_threads(1)
    torch.manual_seed(job.seed)
    values, data, rows = load_job_data(job)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    if job.variant == "ours-dense":
        values["optimizer"] = "dense"
    if job.variant == "ours-fp32":
        values["precision"] = "fp32"
    if job.variant == "ours-nobucket":  # buckets of one batch: random batches, each cut to its
        batching.BUCKET_BATCHES = 1  # longest document (what LibMultiLabel's loader gives)
    hp = Hyperparams(**values)
    vocab_size = int(data["vocab_size"])
    vocab = ("<pad>", "<unk>") + ("w",) * (vocab_size - 2)
    names = tuple(map(str, range(int(data["n_labels"]))))
    full = Split("train", data["tokens"], data["offsets"], labels_of(data), vocab, names)
    split = full.subset(rows)
    tree = LabelTree.load(Path(job.workdir) / f"tree-{job.config}.npz")
    truth = tree.node_labels(split.labels, job.level)  # (n, nodes)
    embedding = random_embedding(vocab_size, hp.embedding_dim) if job.level == 1 else None
    net = AttentionXMLNet(model_config(hp, vocab_size, tree.n_nodes(job.level)), embedding)
    if job.level == 1:
        source: Any = FlatTrainingData(
            dataclasses.replace(split, labels=truth), hp.batch_size, hp.max_len, job.seed
        )
        scored = tree.n_nodes(1)
    else:
        level1 = tree.node_labels(split.labels, 1)
        parents = random_parents(level1, hp.candidates, tree.n_nodes(1), job.seed)
        scored = hp.candidates * tree.levels[1].max_children
        source = CandidateTrainingData(
            split, tree, 2, parents, scored, hp.batch_size, hp.max_len, job.seed
        )
    net.set_label_prior(truth.nnz / max(1, len(split) * scored))
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"progress"}
    config = TrainConfig(**{k: getattr(hp, k) for k in fields if hasattr(hp, k)}, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(net, config, torch.device("cpu"), Path(tmp), "bench")

        def step(batch: Any) -> int:
            trainer.train_step(batch)
            return int(batch.tokens.shape[1])

        seconds, widths = timed(take(source.batches(0), WARMUP_STEPS + job.steps), step)
    return result(job, hp.batch_size, seconds, widths, scored)


# --------------------------------------------------------------------------- LibMultiLabel's
def worker_lml(job: Job) -> dict[str, float]:
    """Time `job.steps` training steps of LibMultiLabel's level-`job.level` AttentionXML."""
    import torch
    from libmultilabel.nn import networks
    from libmultilabel.nn.attentionxml import PlainDataset, PLTDataset, PLTModel, PLTTrainer
    from libmultilabel.nn.nn_utils import init_model
    from torch.nn.utils.rnn import pad_sequence
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    torch.manual_seed(job.seed)
    hp, data, rows = load_job_data(job)
    labels = labels_of(data)[rows].astype(np.int32)
    max_len = hp["max_len"]
    # PLTTrainer.reformat_text: cut to max_seq_length, the first padded to it, pad_sequence
    starts, ends = data["offsets"][rows], data["offsets"][rows + 1]
    docs = [
        torch.from_numpy(data["tokens"][a:b][:max_len]).long()
        for a, b in zip(starts, ends, strict=True)
    ]
    docs = [d if len(d) else torch.ones(1, dtype=torch.long) for d in docs]  # UNK for empty
    docs[0] = torch.cat([docs[0], docs[0].new_zeros(max_len - len(docs[0]))])
    text = pad_sequence(docs, batch_first=True)  # (n, max_len)
    cluster_of = np.load(Path(job.workdir) / f"clusters-{job.config}.npy")
    n_clusters = int(cluster_of.max()) + 1
    order = np.argsort(cluster_of, kind="stable")
    bounds = np.searchsorted(cluster_of[order], np.arange(n_clusters + 1))
    clusters = np.empty(n_clusters, dtype=object)
    for c in range(n_clusters):
        clusters[c] = order[bounds[c] : bounds[c + 1]]
    n_labels = labels.shape[1]
    embed = torch.from_numpy(random_embedding(int(data["vocab_size"]), hp["embedding_dim"]))
    network_config = {
        "rnn_dim": 2 * hp["hidden_size"], "linear_size": list(hp["fc_sizes"]),
        "freeze_embed_training": hp["freeze_embedding"], "rnn_layers": 1,
        "embed_dropout": hp["embedding_dropout"], "encoder_dropout": 0.0,
        "post_encoder_dropout": hp["encoder_dropout"],
    }  # fmt: skip
    common = {"learning_rate": hp["lr"], "optimizer": "adam", "monitor_metrics": LML_MONITOR}
    clustered = cluster_truth(labels, cluster_of, n_clusters)  # PLTTrainer.label2cluster
    if job.level == 1:
        model: Any = init_model(
            "AttentionXML_0", network_config, clusters, embed_vecs=embed,
            init_weight="xavier_uniform", silent=True, **common,
        )  # fmt: skip
        dataset: Any = PlainDataset(text, clustered)
        scored = n_clusters
    else:
        beam = hp["candidates"]
        selected = random_parents(clustered.tocsr(), beam, n_clusters, job.seed)
        labels_selected = PLTTrainer.cluster2label(clusters, selected)
        scored = beam * max(len(c) for c in clusters)
        dataset = PLTDataset(
            text, labels.tocsr(), num_classes=n_labels, num_labels_selected=scored,
            labels_selected=labels_selected,
        )  # fmt: skip
        network = networks.AttentionXML_1(embed_vecs=embed, num_classes=n_labels, **network_config)
        torch.nn.init.xavier_uniform_(network.attention.attention.weight)
        model = PLTModel(classes=list(range(n_labels)), network=network, silent=True, **common)
    optimizer = model.configure_optimizers()
    loader = DataLoader(dataset, batch_size=hp["batch_size"], shuffle=True, num_workers=0)

    def step(batch: dict[str, Any]) -> int:
        model.train()
        optimizer.zero_grad()
        loss, _ = model.shared_step(batch)
        loss.backward()
        optimizer.step()
        return int((batch["text"] != 0).sum(dim=1).max())

    seconds, widths = timed(take(iter(loader), WARMUP_STEPS + job.steps), step)
    return result(job, hp["batch_size"], seconds, widths, scored)


def result(
    job: Job, batch_size: int, seconds: float, widths: list[int], scored: int
) -> dict[str, float]:
    return {
        "docs_per_s": batch_size * len(widths) / seconds,
        "seconds": seconds,
        "steps": len(widths),
        "width": float(np.mean(widths)),
        "scored": scored,
    }


# --------------------------------------------------------------------------- the driver
def run_job(job: Job, python: str) -> dict[str, float]:
    """Run one burst in a fresh process with one thread; its result line."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OMP_WAIT_POLICY": "PASSIVE", "PYTHONWARNINGS": "ignore"}  # fmt: skip
    if job.variant == "ours-dense":
        env["XMCBENCH_MALLOC"] = "system"
    cmd = [python, str(Path(__file__).resolve()), *job.as_args()]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd="/")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise SystemExit(f"error: {job.variant} worker failed: {' | '.join(tail)}")
    return json.loads(lines[-1])


def check_lml(python: str) -> str:
    """LibMultiLabel's version in `python`, or exit with one line saying what is missing."""
    if not Path(python).exists():
        raise SystemExit(f"error: --lml-python {python} does not exist (see this script's help)")
    probe = "import libmultilabel.nn.attentionxml, importlib.metadata as m; print(m.version('libmultilabel'))"  # noqa: E501
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise SystemExit(f"error: LibMultiLabel cannot be imported by {python}: {last}")
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="AttentionXML raw-text dataset folder")
    parser.add_argument("--lml-python", default="/tmp/lml-venv/bin/python")
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30, help="timed steps, default config")
    parser.add_argument("--paper-steps", type=int, default=3, help="timed steps, paper config")
    parser.add_argument("--configs", default="default,paper")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    parser.add_argument("--levels", default="1,2")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--level", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        job = Job(args.worker, args.config, args.level, args.steps, args.seed, args.workdir)
        work = worker_lml if job.variant == "lml" else worker_ours
        print(json.dumps(work(job)), flush=True)
        return
    if args.data is None or not (args.data / "train_texts.txt").is_file():
        raise SystemExit(f"error: --data must be an AttentionXML raw-text folder "
                         f"(train_texts.txt, train_labels.txt, ...); got {args.data}")  # fmt: skip
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"error: unknown variant(s) {', '.join(unknown)}; known: {VARIANTS}")
    if not set(args.configs.split(",")) <= {"default", "paper"}:
        raise SystemExit(f"error: --configs takes default and/or paper, got {args.configs}")
    lml = check_lml(args.lml_python) if "lml" in variants else "-"
    import torch  # only for its version in the header

    print(f"libmultilabel {lml}, torch {torch.__version__}, 1 thread per run, "
          f"{args.bursts} bursts, warm-up {WARMUP_STEPS} steps")  # fmt: skip
    figures: dict[tuple[str, int, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-lml-") as tmp:
        configs = prepare(args.data, Path(tmp))
        for name in args.configs.split(","):
            c = configs[name]
            hp = c["hp"]
            print(f"{name}: emb {hp['embedding_dim']}, BiLSTM {hp['hidden_size']}, FC "
                  f"{hp['fc_sizes']}, max_len {hp['max_len']}, batch {hp['batch_size']}, "
                  f"{hp['precision']}, optimizer {hp['optimizer']}; level 1: {c['clusters']:,} "
                  f"clusters (K = M = {hp['tree_k']}); level 2: {c['candidates']} labels "
                  f"(C = beam_width = {hp['candidates']})")  # fmt: skip
        print(f"{'burst':>5} {'config':<8} {'level':>5} {'run':<13} {'docs/s':>8} "
              f"{'mean T':>7} {'scored':>7}")  # fmt: skip
        for burst in range(args.bursts):
            for name in args.configs.split(","):
                steps = args.steps if name == "default" else args.paper_steps
                for level in map(int, args.levels.split(",")):
                    runs = [v for v in variants
                            if not (v == "ours-fp32" and configs[name]["hp"]["precision"] == "fp32")]  # fmt: skip  # noqa: E501
                    runs = runs[burst % len(runs) :] + runs[: burst % len(runs)]  # alternate
                    for variant in runs:
                        python = args.lml_python if variant == "lml" else sys.executable
                        job = Job(variant, name, level, steps, 1000 + burst, tmp)
                        out = run_job(job, python)
                        figures.setdefault((name, level, variant), []).append(out["docs_per_s"])
                        print(f"{burst:>5} {name:<8} {level:>5} {variant:<13} "
                              f"{out['docs_per_s']:>8.1f} {out['width']:>7.1f} "
                              f"{int(out['scored']):>7}", flush=True)  # fmt: skip
    report(figures)


def report(figures: dict[tuple[str, int, str], list[float]]) -> None:
    """Medians, ranges and the ratio of each run to LibMultiLabel's."""
    print(f"\n{'config':<8} {'level':>5} {'run':<13} {'median docs/s':>14} {'range':>15} "
          f"{'vs lml':>7}")  # fmt: skip
    for (name, level, variant), values in sorted(figures.items()):
        base = figures.get((name, level, "lml"))
        ratio = f"{statistics.median(values) / statistics.median(base):.2f}x" if base else "-"
        span = f"{min(values):.1f}-{max(values):.1f}"
        print(f"{name:<8} {level:>5} {variant:<13} {statistics.median(values):>14.1f} "
              f"{span:>15} {ratio:>7}")  # fmt: skip


if __name__ == "__main__":
    main()
