"""Probabilistic label trees through napkinXC, trained in memory on the split's TF-IDF rows.

napkinXC writes its model into a folder (its `output`); `fit` keeps it under the method's
workdir and `save` copies it next to the label map and the params.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from napkinxc.models import PLT

from xmcbench.errors import XMCBenchError
from xmcbench.types import Split, TopK

from .common import (
    compact_labels,
    default_threads,
    native_output_to,
    ranked_to_topk,
    require_features,
)

MODEL_DIR = "napkinxc"


class ProbabilisticLabelTrees:
    """napkinXC's PLT with its 0.7.2 defaults: hierarchical 2-means tree, logistic nodes.

    CPU-only: `device` is accepted and ignored; `seed` goes to napkinXC.
    """

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
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        self.tree_type = tree_type
        self.arity = arity
        self.max_leaves = max_leaves
        self.kmeans_eps = kmeans_eps
        self.kmeans_balanced = kmeans_balanced
        self.loss = loss
        self.liblinear_c = liblinear_c
        self.liblinear_eps = liblinear_eps
        self.liblinear_max_iter = liblinear_max_iter
        self.weights_threshold = weights_threshold
        self.ensemble = ensemble
        self.tree_search_type = tree_search_type  # prediction: "exact" or "beam"
        self.beam_search_width = beam_search_width
        self.n_threads = n_threads or default_threads()
        self.seed = seed
        self.device = device
        self.device_ = "cpu"
        self.model_: PLT | None = None
        self.model_dir_: Path | None = None
        self.label_map_: np.ndarray | None = None  # (L',) int32 model label -> dataset label

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
        }

    def _model(self, folder: Path) -> PLT:
        """A napkinXC PLT reading and writing `folder`, with this object's settings."""
        params = self.get_params()
        threads = params.pop("n_threads")
        return PLT(str(folder), **params, threads=threads, seed=self.seed, verbose=0)

    def fit(self, train: Split, valid: Split | None, workdir: Path) -> None:
        """Train napkinXC in memory; its model folder lives in `workdir`."""
        features = require_features(train, "plt")
        self.label_map_, labels = compact_labels(train.labels)
        folder = Path(workdir) / MODEL_DIR
        shutil.rmtree(folder, ignore_errors=True)  # never mix with an interrupted run's files
        folder.mkdir(parents=True)
        model = self._model(folder)
        try:
            with native_output_to(Path(workdir) / "napkinxc.log"):
                model.fit(features, labels)
        except (RuntimeError, ValueError) as error:
            raise XMCBenchError(f"napkinXC failed to train: {error}") from error
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
        np.save(path / "label_map.npy", self.label_map_)
        (path / "params.json").write_text(json.dumps({**self.get_params(), "seed": self.seed}))

    @classmethod
    def load(cls, path: Path) -> ProbabilisticLabelTrees:
        """A model saved by `save`; napkinXC reads its weights from the folder."""
        path = Path(path)
        method = cls(**json.loads((path / "params.json").read_text()))
        method.label_map_ = np.load(path / "label_map.npy")
        method.model_dir_ = path / MODEL_DIR
        method.model_ = method._model(method.model_dir_)
        method.model_.load()
        return method
