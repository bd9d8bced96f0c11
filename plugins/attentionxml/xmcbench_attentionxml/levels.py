"""Level-wise training of one label tree (paper §2.3, §2.5, Algorithm 3) on the shared engine.

Level 1 is a flat model over the root's children. Level d > 1 scores a fixed number of
candidates per document (children of C parents: positives first, then level d-1's beam) and
starts from level d-1's weights except the attention vectors. Each finished level is saved in
``workdir/level-<d>/level.pt``; an interrupted run resumes at that level from the engine's
checkpoint, without retraining the levels above.

A time budget is shared by the levels (of every tree of the job) through a `budget.Allowance`:
each level gets what is left in proportion to its expected cost (`level_costs`), and its set-up
(embeddings, candidates) comes out of its share before the training loop starts; a finished
level's file keeps the seconds it took, so a resumed run counts them again.

Under torchrun every level trains data-parallel (see `engine`); the training candidates of the
next level are predicted on one shard of the documents per rank and gathered, so that every rank
holds the same ones. Rank 0 reads and writes the files and broadcasts what it read.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from xmcbench.deep import budget, checkpoint, distributed
from xmcbench.deep.batching import FlatTrainingData
from xmcbench.deep.embedding_init import initial_embeddings
from xmcbench.deep.engine import Evaluator, TrainConfig, Trainer
from xmcbench.deep.estimator import train_config
from xmcbench.deep.predict import PredictConfig, flat_evaluator
from xmcbench.io import atomic_path
from xmcbench.metrics import ndcg_at_k, precision_at_k
from xmcbench.notes import note
from xmcbench.types import Split

from .beam import beam_search
from .candidates import CandidateTrainingData, select_parents
from .model import AttentionXMLNet, model_config
from .params import Hyperparams, TreeParams
from .tree_structure import LabelTree

PACKAGE = __package__ or "xmcbench_attentionxml"  # its code (with the engine's) trains a level
LEVEL_FILE = "level.pt"  # a finished level: fingerprint + weights
PARENTS_FILE = "parents.npy"  # (n_train, C) training parents of a level, reused on resume
ATTENTION_KEYS = ("head.attention.",)  # per-node parameters: not copied between levels as such
ATTENTION_WEIGHT = "head.attention.weight"  # (nodes, d): copied per parent by level_init="parent"


@dataclass
class TreeModel:
    """One trained tree: the tree and one network per level (level 1 first)."""

    tree: LabelTree
    nets: list[AttentionXMLNet]
    tree_id: int = 0


def init_from_level_above(
    net: nn.Module, above: nn.Module, parent: np.ndarray | None = None
) -> list[str]:
    """Copy `above` into `net` except the attention layer (§2.5); returns the copied names.

    With `parent` ((nodes,) each node's parent id in `above`'s level), each node's attention
    vector starts as its parent's: the level then scores every node as its parent at first
    and learns what sets siblings apart, which a label with few documents can barely do from a
    random start (`level_init="parent"`).
    """
    own = net.state_dict()
    copied = {
        name: value
        for name, value in above.state_dict().items()
        if not name.startswith(ATTENTION_KEYS) and name in own and own[name].shape == value.shape
    }
    if parent is not None:
        vectors = above.state_dict()[ATTENTION_WEIGHT]  # (nodes above, d)
        copied[ATTENTION_WEIGHT] = vectors[torch.as_tensor(parent, dtype=torch.long)].clone()
    net.load_state_dict(copied, strict=False)
    return sorted(copied)


def epochs_of_level(hp: Hyperparams, level: int) -> int:
    """Epochs of `level`: its `level_epochs` entry (the tree section's), else `epochs`."""
    return hp.tree.epochs_of_level(level, hp.epochs)


def swa_warmup_of_level(hp: Hyperparams, level: int) -> float:
    """SWA warm-up of `level`: its `level_swa_warmup` entry, else `swa_warmup`."""
    return hp.tree.swa_warmup_of_level(level, hp.swa_warmup)


def level_costs(hp: Hyperparams, tree: LabelTree) -> list[float]:
    """Expected relative training cost of each level of `tree`, level 1 first."""
    return [
        budget.level_cost(
            epochs_of_level(hp, level),
            tree.n_nodes(1) if level == 1 else candidate_count(hp.tree, tree, level),
            hp.embedding_dim,
            hp.hidden_size,
        )
        for level in range(1, tree.height + 2)
    ]


def candidate_count(settings: TreeParams, tree: LabelTree, level: int) -> int:
    """Fixed candidates per document at `level` > 1: `level_candidates`, else C x widest parent."""
    return settings.level_candidates or settings.candidates * tree.levels[level - 1].max_children


def level_evaluator(
    valid: Split,
    tree: LabelTree,
    level: int,
    parents: np.ndarray,
    parent_scores: np.ndarray,
    config: PredictConfig,
) -> Evaluator:
    """P@5 and nDCG@5 of level `level`'s nodes on `valid`, continuing the fixed beam above it."""
    truth = tree.node_labels(valid.labels, level)  # (n, nodes at level)

    def evaluate(model: nn.Module) -> dict[str, float]:
        nodes, _ = beam_search(
            [model], tree, valid, 5, 5, config, first_level=level, parents=parents,
            parent_scores=parent_scores,
        )  # fmt: skip
        return {"p@5": precision_at_k(nodes, truth, 5), "ndcg@5": ndcg_at_k(nodes, truth, 5)}

    return evaluate


def _with_labels(split: Split, labels: sp.csr_matrix) -> Split:
    return dataclasses.replace(split, labels=labels)


class LevelTrainer:
    """Trains the levels of one tree in turn, each with the engine, resuming per level."""

    def __init__(
        self,
        hp: Hyperparams,
        device: torch.device,
        seed: int,
        fingerprint: dict[str, Any],
        progress: bool = True,
        on_step: Callable[[int, int], None] | None = None,
        log: Callable[[str], None] = note,
        allowance: budget.Allowance | None = None,
        announce_loaded: bool = True,
    ) -> None:
        self.hp, self.device, self.seed, self.base = hp, device, seed, fingerprint
        self.progress, self.on_step, self.log = progress, on_step, log
        # False when the levels were just trained by worker processes: loading them is no news
        self.announce_loaded = announce_loaded
        self.predict_config = PredictConfig(hp.max_len, hp.predict_batch_size, device, hp.precision)
        self.seconds: dict[int, float] = {}  # wall time per level trained here (0 when loaded)
        self.allowance = allowance  # the job's time budget, shared with other trees' levels
        self.summaries: list[dict[str, Any]] = []  # per level: budget, seconds, why it stopped

    def _train_config(self, level: int, time_budget: float | None) -> TrainConfig:
        """The engine's settings for `level`: its epochs, SWA warm-up and share of the budget."""
        return train_config(
            self.hp,
            self.progress,
            epochs=epochs_of_level(self.hp, level),
            swa_warmup=swa_warmup_of_level(self.hp, level),
            time_budget=time_budget,
        )

    def train(
        self, tree: LabelTree, train: Split, valid: Split, workdir: Path, tree_id: int = 0
    ) -> TreeModel:
        """Train (or resume) every level of `tree` top-down; returns the finished model."""
        if self.allowance is None:  # one tree alone: its levels share the whole budget
            self.allowance = budget.Allowance(self.hp.time_budget, level_costs(self.hp, tree))
        nets: list[AttentionXMLNet] = []
        for level in range(1, tree.height + 2):
            nets.append(self._level(tree, level, nets, train, valid, Path(workdir), tree_id))
        return TreeModel(tree, nets, tree_id)

    def _level(
        self,
        tree: LabelTree,
        level: int,
        nets: list[AttentionXMLNet],
        train: Split,
        valid: Split,
        workdir: Path,
        tree_id: int,
    ) -> AttentionXMLNet:
        hp, settings, seed = self.hp, self.hp.tree, self.seed
        config = model_config(hp.model, len(train.vocab), tree.n_nodes(level))
        run = {**self.base, "level": level, "tree_id": tree_id, "seed": seed}
        run["epochs"] = epochs_of_level(hp, level)
        run["swa_warmup"] = swa_warmup_of_level(hp, level)
        run.update(distributed.run_settings())
        fingerprint = checkpoint.fingerprint(run)
        level_dir = workdir / f"level-{level}"
        done = level_dir / LEVEL_FILE
        allowance = self.allowance or budget.Allowance(None, [])
        saved = distributed.from_main(finished_level, done, fingerprint, self.log)
        if saved is not None:
            if self.announce_loaded:
                self.log(f"tree {tree_id} level {level}: already trained, loaded from {done}")
            allowance.spend(float(saved.get("seconds", 0.0)))
            if isinstance(saved.get("summary"), dict):
                self.summaries.append(saved["summary"])
            net = AttentionXMLNet(config)
            net.load_state_dict(saved["model"])
            return net.to(self.device).eval()
        level_dir.mkdir(parents=True, exist_ok=True)
        started = budget.now()
        level_budget = allowance.next_budget()
        share = "" if level_budget is None else f", budget {round(level_budget)} s"
        self.log(
            f"tree {tree_id} level {level}/{tree.height + 1}: {tree.n_nodes(level):,} nodes{share}"
        )
        summary = distributed.from_main(checkpoint.read_summary, level_dir)
        resuming = summary is not None and summary["fingerprint"] == fingerprint
        torch.manual_seed(seed * 1000 + level)
        embedding = None
        if level == 1 and not resuming:
            embedding = initial_embeddings(
                hp.embedding_init, train, hp.embedding_dim, seed=seed, window=hp.ppmi_window,
                max_words=hp.ppmi_max_words, max_len=hp.max_len,
            )  # fmt: skip
        net = AttentionXMLNet(config, embedding).to(self.device)
        node_truth = tree.node_labels(train.labels, level)  # (n_train, nodes) sparse
        if level > 1:
            parent = tree.levels[level - 1].parent if settings.level_init == "parent" else None
            init_from_level_above(net, nets[-1], parent)
        # every logit starts at the log-odds of how often a scored node is positive: all nodes at
        # level 1, the fixed-size candidate set below it (positives are always among candidates)
        scored = tree.n_nodes(level) if level == 1 else candidate_count(settings, tree, level)
        net.set_label_prior(node_truth.nnz / max(1, len(train) * scored))
        data: Any
        batch_size = hp.batch_size * distributed.world_size()  # one global batch per step
        if level == 1:
            data = FlatTrainingData(
                _with_labels(train, node_truth), batch_size, hp.max_len,
                seed,
            )  # fmt: skip
            node_valid = _with_labels(valid, tree.node_labels(valid.labels, 1))
            evaluate = flat_evaluator(node_valid, self.predict_config)
        else:
            parents = self._training_parents(tree, level, nets, train, level_dir, fingerprint)
            count = candidate_count(settings, tree, level)
            data = CandidateTrainingData(
                train, tree, level, parents, count, batch_size, hp.max_len, seed
            )
            v_nodes, v_scores = beam_search(
                nets, tree, valid, settings.candidates, settings.candidates, self.predict_config
            )  # (n_valid, C) beam of level d-1, without its truth
            evaluate = level_evaluator(valid, tree, level, v_nodes, v_scores, self.predict_config)

        def on_step(step: int) -> None:
            if self.on_step is not None:
                self.on_step(level, step)

        loop_budget = budget.left_after_setup(level_budget, started)  # set-up above counts too
        train_config = self._train_config(level, loop_budget)
        trainer = Trainer(net, train_config, self.device, level_dir, fingerprint, on_step)
        state = trainer.fit(data, evaluate)
        self.seconds[level] = budget.now() - started
        spent = self.seconds[level] + trainer.resumed_elapsed_s  # with earlier processes' time
        allowance.spend(spent)
        summary = {
            "tree": tree_id, "level": level, "budget_s": level_budget,
            "train_s": round(state.elapsed_s, 3), "seconds": round(spent, 3),
            "stopped_by": state.stopped_by,
        }  # fmt: skip
        self.summaries.append(summary)
        if distributed.is_main():
            weights = {k: v.detach().cpu() for k, v in net.state_dict().items()}
            code = checkpoint.code_version([PACKAGE])
            checkpoint.save(
                {"fingerprint": fingerprint, "code": code, "model": weights, "seconds": spent,
                 "summary": summary},
                done,
            )  # fmt: skip
        self.log(f"tree {tree_id} level {level}: trained in {self.seconds[level]:.1f} s")
        return net.eval()

    def _training_parents(
        self,
        tree: LabelTree,
        level: int,
        nets: list[AttentionXMLNet],
        train: Split,
        level_dir: Path,
        fingerprint: str,
    ) -> np.ndarray:
        """(n_train, C) parents at level-1: positives first, then the beam (cached on disk)."""
        path = level_dir / PARENTS_FILE
        tag = level_dir / (PARENTS_FILE + ".fingerprint")
        cached = distributed.from_main(cached_parents, path, tag, parents_tag(fingerprint))
        if cached is not None:
            return cached
        c, started = self.hp.tree.candidates, time.perf_counter()
        rows = distributed.shard_rows(len(train))  # this rank's rows (all in one process)
        shard = train.subset(rows) if len(rows) < len(train) else train
        nodes, _ = beam_search(nets, tree, shard, c, c, self.predict_config)  # (n_shard, C)
        parents = select_parents(nodes, tree.node_labels(shard.labels, level - 1), c)
        parents = distributed.gather_rows(parents, len(train))  # (n, C) on every rank
        self.log(f"level {level}: candidates of {len(train):,} docs in "
                 f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        if distributed.is_main():
            with atomic_path(path) as tmp, tmp.open("wb") as fh:
                np.save(fh, parents.astype(np.int32))
            tag.write_text(parents_tag(fingerprint))
        return parents.astype(np.int32)


def finished_level(
    done: Path, fingerprint: str, log: Callable[[str], None]
) -> dict[str, Any] | None:
    """A level this code finished earlier with the same fingerprint ("model" holds its
    weights, "seconds" what it took, when recorded), else None."""
    again = "training the level again"
    saved = checkpoint.load_checked(done, "cpu", log, ("fingerprint", "model"), then=again)
    if saved is None:
        return None
    why = checkpoint.code_change(saved.get("code"))
    if why is not None:
        log(f"checkpoint {done} was written by other code ({why}); {again}")
        return None
    return saved if saved["fingerprint"] == fingerprint else None


def parents_tag(fingerprint: str) -> str:
    """What identifies cached training parents: the level's settings and the code's source."""
    return f"{fingerprint}:{checkpoint.code_version([PACKAGE])['source']}"


def cached_parents(path: Path, tag: Path, expected: str) -> np.ndarray | None:
    """The training parents computed earlier for the same tag, else None (also if unreadable)."""
    try:
        if tag.read_text() == expected:
            return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # missing, or cut short by a crash: compute again
        pass
    return None
