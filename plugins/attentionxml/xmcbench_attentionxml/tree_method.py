"""The label-tree path of AttentionXML: fit, predict, save, load and merge trees (functions).

`AttentionXML` delegates here when ``tree_height > 0`` or ``trees > 1``; these functions read
what a job asks for (`TreeJob`) and return what they made, which the estimator keeps. Tree i of
an ensemble uses seed + i for its tree, its embedding and its training, so ``tree_id=i`` jobs on
separate machines give the same trees as one ``trees=n`` job; combine their saved models with
``AttentionXML.merge([dir_0, dir_1, ...])`` (which checks them with `merged_trees`).

Saved layout: ``params.json`` (with a ``label_trees`` entry) and per tree ``tree-<i>/tree.npz``
plus ``tree-<i>/level-<d>.pt`` weights.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from xmcbench.deep import budget, checkpoint, distributed
from xmcbench.deep.batching import validation_split
from xmcbench.deep.distributed import resolve_device
from xmcbench.deep.estimator import predict_config
from xmcbench.deep.predict import PredictConfig
from xmcbench.io import write_json
from xmcbench.notes import note
from xmcbench.types import Split, TopK

from . import parallel, path
from .beam import beam_search
from .ensemble import average_topk
from .levels import LevelTrainer, TreeModel, level_costs
from .model import AttentionXMLNet, ModelConfig
from .params import CHOOSE_EXPONENT, Hyperparams, TreeParams
from .tree import LabelTree, build_tree

PACKAGE = __package__ or "xmcbench_attentionxml"  # its code decides what a tree is
TREE_FILE, TREE_INFO = "tree.npz", "tree.json"
# do not change what a tree's training does (parallel_trees: whether they train at once)
NOT_IN_FINGERPRINT = ("trees", "tree_id", "parallel_trees", "predict_batch_size")


class TreeJob(Protocol):
    """What the trees of a job are trained for: the estimator's settings (read only)."""

    seed: int
    device: str
    progress: bool
    step_callback: Callable[[int], None] | None

    def hyperparams(self) -> Hyperparams: ...


@dataclass
class TreeFit:
    """What `fit_trees` trained: one model per tree, the device, the training summary."""

    models: list[TreeModel]
    device: str
    summary: dict[str, Any]
    path_exponent: float | None = None  # as chosen on validation (`path.py`); None: as set
    worker_peak_rss_mb: list[float] = field(default_factory=list)  # trained at once: each process


def uses_tree(hp: Hyperparams) -> bool:
    """Whether hyperparameters ask for the label-tree path (a tree, or an ensemble)."""
    return hp.tree.uses_tree


def get_tree(hp: TreeParams, train: Split, seed: int, workdir: Path, progress: bool) -> LabelTree:
    """The tree for `seed` (`hp`: the tree section): loaded from `workdir` if built there for
    the same data and settings."""
    settings = {
        "k": hp.tree_k, "m": hp.tree_m, "height": hp.tree_height, "seed": seed,
        "n_labels": train.n_labels, "label_nnz": int(train.labels.nnz), "n_train": len(train),
        "source": checkpoint.code_version([PACKAGE])["source"],  # other tree code: build again
    }  # fmt: skip
    path, info = workdir / TREE_FILE, workdir / TREE_INFO
    saved = saved_tree(path, info, settings)
    if saved is not None:
        return saved
    if hp.tree_height == 0:  # root + L leaves: an ensemble of flat models, no features needed
        no_features = sp.csr_matrix((len(train), 1), dtype=np.float32)
        tree = build_tree(
            no_features, train.labels, k=hp.tree_k, m=train.n_labels, height=0, seed=seed,
            progress=False,
        )  # fmt: skip
    else:
        if train.features is None:
            raise ValueError(
                "tree_height > 0 builds the label tree from TF-IDF features, but the training "
                "split has none (Split.features is None); prepare the dataset with features"
            )
        tree = build_tree(
            train.features, train.labels, k=hp.tree_k, m=hp.tree_m, height=hp.tree_height,
            seed=seed, progress=progress,
        )  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    tree.save(path)
    write_json(info, settings)
    return tree


def saved_tree(path: Path, info: Path, settings: dict[str, Any]) -> LabelTree | None:
    """The tree built earlier in this folder with the same settings and code, else None.

    A tree or settings file that a crash left unreadable counts as none: the tree is rebuilt.
    """
    try:
        if json.loads(info.read_text(encoding="utf-8")) == settings:
            return LabelTree.load(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    return None


def fit_trees(
    method: TreeJob,
    train: Split,
    valid: Split | None,
    workdir: Path,
    on_step: Callable[[int, int, int], None] | None = None,
) -> TreeFit:
    """Build and train the trees of this job, level by level, resuming from `workdir`.

    `on_step(tree, level, step)` is called after each training step (else `step_callback`).
    """
    hp, workdir = method.hyperparams(), Path(workdir)
    device = distributed.init(resolve_device(method.device))  # cuda:LOCAL_RANK under torchrun
    train, valid = validation_split(train, valid, hp.valid_size)
    params = {k: v for k, v in hp.as_dict().items() if k not in NOT_IN_FINGERPRINT}
    base = {
        "params": params, "device": device.type, "n_train": len(train), "n_valid": len(valid),
        "label_nnz": int(train.labels.nnz), "tokens": len(train.tokens),
        **distributed.run_settings(),
    }  # fmt: skip
    models, summaries, ids = [], [], hp.tree.ids()
    log = note if method.progress and distributed.is_main() else (lambda text: None)
    workers = (
        1
        if distributed.active()
        else parallel.tree_workers(hp.tree.parallel_trees, len(ids), device.type)
    )
    wall, worker_peaks = budget.now(), []
    if workers > 1:  # each process trains whole trees with the budget; the loop below loads them
        log(parallel.workers_note(workers, len(ids), flat=hp.tree.tree_height == 0))
        worker_peaks = parallel.train_in_processes(method, ids, train, valid, workdir, workers)
    allowance: budget.Allowance | None = None  # the time budget, shared by every tree's levels
    for i in ids:
        seed = method.seed + i
        tree_dir = workdir / f"tree-{i}"
        # rank 0 builds (or loads) the tree, every rank trains on the very same one
        started = budget.now()
        tree = distributed.from_main(get_tree, hp.tree, train, seed, tree_dir, method.progress)
        if allowance is None:  # the trees of one setting have the same shape, give or take
            allowance = budget.Allowance(hp.time_budget, level_costs(hp, tree) * len(ids))
        allowance.charge(budget.now() - started)  # building the tree is part of training

        def level_step(level: int, step: int, i: int = i) -> None:
            if on_step is not None:
                on_step(i, level, step)
            elif method.step_callback is not None:
                method.step_callback(step)

        trainer = LevelTrainer(
            hp, device, seed, base, method.progress, level_step, log, allowance,
            announce_loaded=workers == 1,
        )  # fmt: skip
        models.append(trainer.train(tree, train, valid, tree_dir, tree_id=i))
        summaries += trainer.summaries
    summary = budget.summary(hp.time_budget, summaries, per_level=True)
    if workers > 1:  # the trees trained at once: the wall clock, not the sum of their times
        summary.update(train_s=round(budget.now() - wall, 3), tree_workers=workers)
    exponent = None
    # chosen on the validation documents once the whole ensemble is trained; a tree_id job (a
    # worker of parallel.py, or one tree for `merge`) leaves it to the job that has all trees
    if hp.tree.path_exponent == CHOOSE_EXPONENT and hp.tree.tree_id is None:
        config = predict_config(hp, device)
        exponent, scores = path.choose_exponent(models, valid, hp.tree.candidates, config)
        summary["path_exponent"] = exponent
        if scores:
            summary["path_exponent_ndcg@5"] = {f"{e:g}": round(v, 6) for e, v in scores.items()}
            shown = ", ".join(f"{e:g}: {v:.4f}" for e, v in scores.items())
            log(f"path exponent {exponent:g}, chosen on {len(valid):,} validation documents "
                f"(nDCG@5 {shown})")  # fmt: skip
    return TreeFit(models, str(device), summary, exponent, worker_peaks)


def tree_scores(
    model: TreeModel,
    test: Split,
    width: int,
    config: PredictConfig,
    beam: int,
    path_exponent: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) label ids (-1 = none) and path scores of one tree's beam search."""
    nodes, scores = beam_search(
        model.nets, model.tree, test, beam, width, config, path_exponent=path_exponent
    )
    return model.tree.labels_of_leaves(nodes), scores


def predict_trees(
    models: Sequence[TreeModel], hp: Hyperparams, test: Split, k: int, path_exponent: float = 1.0
) -> TopK:
    """Top-k labels: each tree's beam search, then the per-label mean over the trees."""
    if not models:
        raise RuntimeError("AttentionXML.predict called before fit or load")
    width, beam = max(k, hp.tree.candidates), hp.tree.candidates
    labels, scores = [], []
    for model in models:
        device = next(model.nets[0].parameters()).device
        config = predict_config(hp, device)
        lab, sco = tree_scores(model, test, width, config, beam, path_exponent)
        labels.append(lab)
        scores.append(sco)
    return average_topk(labels, scores, k)


def save_trees(models: Sequence[TreeModel], path: Path) -> list[dict[str, Any]]:
    """Each tree with its level weights under ``path/tree-<i>/``; returns params.json's entries."""
    path = Path(path)
    entries = []
    for model in models:
        sub = path / f"tree-{model.tree_id}"
        sub.mkdir(parents=True, exist_ok=True)
        model.tree.save(sub / TREE_FILE)
        for level, net in enumerate(model.nets, start=1):
            weights = {k: v.detach().cpu() for k, v in net.state_dict().items()}
            checkpoint.save(weights, sub / f"level-{level}.pt")
        configs = [dataclasses.asdict(net.config) for net in model.nets]
        entries.append({"tree_id": model.tree_id, "dir": sub.name, "model_configs": configs})
    return entries


def load_tree_models(path: Path, entries: list[dict[str, Any]]) -> list[TreeModel]:
    """The trees listed in a saved params.json, weights on CPU."""
    models = []
    for entry in entries:
        sub = Path(path) / entry["dir"]
        nets = []
        for level, config in enumerate(entry["model_configs"], start=1):
            net = AttentionXMLNet(ModelConfig(**{**config, "fc_sizes": tuple(config["fc_sizes"])}))
            net.load_state_dict(checkpoint.load(sub / f"level-{level}.pt", "cpu"))
            nets.append(net.eval())
        models.append(TreeModel(LabelTree.load(sub / TREE_FILE), nets, int(entry["tree_id"])))
    return models


def merged_trees(
    params: Sequence[dict[str, Any]], models: Sequence[Sequence[TreeModel]]
) -> list[TreeModel]:
    """The trees of saved models (their `get_params()` and trees) as one ensemble, by tree id.

    Refuses models of different settings or seeds, and the same tree twice.
    """
    ignored = ("tree_id", "trees", "device")
    settings = [{k: v for k, v in p.items() if k not in ignored} for p in params]
    if any(p != settings[0] for p in settings[1:]):
        raise ValueError("cannot merge models trained with different hyperparameters or seeds")
    trees = sorted((t for group in models for t in group), key=lambda t: t.tree_id)
    ids = [t.tree_id for t in trees]
    if len(set(ids)) != len(ids):
        raise ValueError(f"the models hold the same tree twice (tree ids {ids})")
    return trees
