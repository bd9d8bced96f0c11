"""Probabilistic label trees through napkinXC, trained in memory on the split's TF-IDF rows.

napkinXC writes its model into a folder (its `output`); `fit` keeps it under the method's
workdir and `save` copies it next to the label map and the params.
"""

from __future__ import annotations

import ctypes
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from napkinxc.models import PLT

from xmcbench.errors import XMCBenchError, naming_path
from xmcbench.paramspec import (
    Param,
    check_params,
    choice,
    describe_signature,
    flag,
    integer,
    number,
)
from xmcbench.saved_run import construct_saved, read_saved_array
from xmcbench.types import Split, TopK

from .common import (
    compact_labels,
    default_threads,
    native_output_to,
    ranked_to_topk,
    require_features,
)

MODEL_DIR = "napkinxc"
TREE_TYPES = (  # napkinXC 0.7's offline tree constructions
    "hierarchicalKmeans",
    "balancedInOrder",
    "balancedRandom",
    "completeKaryInOrder",
    "completeKaryRandom",
    "huffman",
)

# the type and range of every hyperparameter: the one place they are checked
SPECS: dict[str, Param] = {
    "tree_type": choice(*TREE_TYPES, help="how the label tree is built"),
    "arity": integer(2, help="children per tree node"),
    "max_leaves": integer(1, help="most labels in a leaf"),
    "kmeans_eps": number(0, low_open=True, help="stopping tolerance of the tree's k-means"),
    "kmeans_balanced": flag(help="balanced k-means: children of equal size"),
    "loss": choice("log", "logistic", "l2", "squaredHinge", help="loss of the node classifiers"),
    "liblinear_c": number(
        0, low_open=True, help="cost C of the node classifiers (larger: less regularised)"
    ),
    "liblinear_eps": number(0, low_open=True, help="stopping tolerance of liblinear"),
    "liblinear_max_iter": integer(1, help="most liblinear iterations per node classifier"),
    "weights_threshold": number(0, help="node classifier weights below this are dropped"),
    "ensemble": integer(1, help="trees in the ensemble"),
    "tree_search_type": choice(
        "exact", "beam", help="prediction: exact top-k search or beam search"
    ),
    "beam_search_width": integer(1, help="prediction: beam width when tree_search_type is beam"),
    "n_threads": integer(
        1, optional=True, help="threads to train and predict with (none: every core)"
    ),
}
# described with the others; checked by __init__ (its error message predates the specs)
DETERMINISTIC = flag(help="train on one thread: runs with the same seed are identical, slower")


class ProbabilisticLabelTrees:
    """napkinXC's PLT with its 0.7.2 defaults: hierarchical 2-means tree, logistic nodes.

    CPU-only: `device` is accepted and ignored; `seed` goes to napkinXC.

    napkinXC builds the same tree for a seed whatever the thread count, but its liblinear
    shuffles with the C library's global ``rand()``: node classifiers trained on several threads
    draw from it in whatever order the threads run, so runs differ slightly. `fit` always seeds
    ``rand()`` with the seed first; ``deterministic=True`` also trains on one thread (prediction
    keeps `n_threads`), which makes runs with the same seed bit-identical, at single-core speed.
    """

    needs_features = True  # TF-IDF rows: checked by the runner before training

    def __init__(
        self,
        *,
        tree_type: str = "hierarchicalKmeans",
        arity: int = 2,
        max_leaves: int = 100,
        kmeans_eps: float = 0.0001,
        kmeans_balanced: bool = True,
        loss: str = "log",
        liblinear_c: float = 10.0,
        liblinear_eps: float = 0.1,
        liblinear_max_iter: int = 100,
        weights_threshold: float = 0.1,
        ensemble: int = 1,
        tree_search_type: str = "exact",
        beam_search_width: int = 10,
        n_threads: int | None = None,
        deterministic: bool = False,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        if not isinstance(deterministic, bool):
            raise ValueError(f"deterministic must be true or false, got {deterministic!r}")
        given = {name: value for name, value in locals().items() if name in SPECS}
        for name, value in check_params(given, SPECS).items():  # types and ranges, or ParamError
            setattr(self, name, value)
        self.n_threads = self.n_threads or default_threads()
        self.deterministic = deterministic  # train on one thread: identical runs for a seed
        self.seed = seed
        self.device = device
        self.device_ = "cpu"
        self.model_: PLT | None = None
        self.model_dir_: Path | None = None
        self.label_map_: np.ndarray | None = None  # (L',) int32 model label -> dataset label

    @classmethod
    def describe(cls, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter's default, type and meaning, for `xmcbench methods plt`."""
        return describe_signature(cls, {**SPECS, "deterministic": DETERMINISTIC}, fixed)

    def get_params(self) -> dict[str, Any]:
        """Every hyperparameter, as recorded with the result."""
        return {
            "tree_type": self.tree_type,
            "arity": self.arity,
            "max_leaves": self.max_leaves,
            "kmeans_eps": self.kmeans_eps,
            "kmeans_balanced": self.kmeans_balanced,
            "loss": self.loss,
            "liblinear_c": self.liblinear_c,
            "liblinear_eps": self.liblinear_eps,
            "liblinear_max_iter": self.liblinear_max_iter,
            "weights_threshold": self.weights_threshold,
            "ensemble": self.ensemble,
            "tree_search_type": self.tree_search_type,
            "beam_search_width": self.beam_search_width,
            "n_threads": self.n_threads,
            "deterministic": self.deterministic,
        }

    def _model(self, folder: Path) -> PLT:
        """A napkinXC PLT reading and writing `folder`, with this object's settings."""
        params = self.get_params()
        threads = params.pop("n_threads")
        params.pop("deterministic")
        return PLT(str(folder), **params, threads=threads, seed=self.seed, verbose=0)

    def fit(self, train: Split, valid: Split | None, workdir: Path) -> None:
        """Train napkinXC in memory; its model folder lives in `workdir`."""
        features = require_features(train, "plt")
        self.label_map_, labels = compact_labels(train.labels)
        folder = Path(workdir) / MODEL_DIR
        shutil.rmtree(folder, ignore_errors=True)  # never mix with an interrupted run's files
        folder.mkdir(parents=True)
        model = self._model(folder)
        if self.deterministic:
            model.set_params(threads=1)
        seed_c_rand(self.seed)
        try:
            with native_output_to(Path(workdir) / "napkinxc.log"):
                model.fit(features, labels)
        except (RuntimeError, ValueError) as error:
            raise XMCBenchError(f"napkinXC failed to train: {error}") from error
        model.set_params(threads=self.n_threads)  # threads are not saved with the model
        self.model_, self.model_dir_ = model, folder

    def predict(self, test: Split, k: int) -> TopK:
        """Top k labels per document by napkinXC's tree search, scored by probability."""
        if self.model_ is None or self.label_map_ is None:
            raise RuntimeError("ProbabilisticLabelTrees.predict called before fit or load")
        features = require_features(test, "plt")
        ranked = self.model_.predict_proba(features, top_k=k)
        return ranked_to_topk(ranked, k, self.label_map_)

    def save(self, path: Path) -> None:
        """napkinXC's model folder, the label map and the params: a self-contained folder."""
        if self.model_dir_ is None or self.label_map_ is None:
            raise RuntimeError("ProbabilisticLabelTrees.save called before fit or load")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        target = path / MODEL_DIR
        if target.resolve() != self.model_dir_.resolve():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(self.model_dir_, target)
        with naming_path(path / "label_map.npy"):  # a failed write names its file
            np.save(path / "label_map.npy", self.label_map_)
        with naming_path(path / "params.json"):
            (path / "params.json").write_text(json.dumps({**self.get_params(), "seed": self.seed}))

    @classmethod
    def load(cls, path: Path) -> ProbabilisticLabelTrees:
        """A model saved by `save`; napkinXC reads its weights from the folder."""
        path = Path(path)
        method = construct_saved(cls, path / "params.json")
        method.label_map_ = read_saved_array(path / "label_map.npy")
        method.model_dir_ = path / MODEL_DIR
        method.model_ = method._model(method.model_dir_)
        method.model_.load()
        return method


def seed_c_rand(seed: int) -> None:
    """Seed the C library's ``rand()``, which napkinXC's liblinear draws from (process-wide)."""
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded: the libc napkinXC links to
        libc.srand(ctypes.c_uint(seed % 2**32))
    except (OSError, AttributeError, TypeError):  # no C library to reach (Windows)
        pass
