"""Parabel and Bonsai through omikuji: one wrapper, the two differ only in clustering defaults.

omikuji trains from a file in the Extreme Classification Repository format, so `fit` writes the
split's TF-IDF rows there first. The defaults are omikuji 0.5.2's (its Parabel settings); the
plugin registers "bonsai" with k=100 unbalanced k-means and depth 3, as omikuji's README does.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import omikuji
import scipy.sparse as sp

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
    log_tail,
    native_output_to,
    ranked_to_topk,
    require_features,
)

LOSSES = {"hinge": omikuji.LossType.HINGE, "log": omikuji.LossType.LOG}

# the type and range of every hyperparameter: the one place they are checked
SPECS: dict[str, Param] = {
    "n_trees": integer(1, help="trees in the forest"),
    "min_branch_size": integer(1, help="a node with at most this many labels becomes a leaf"),
    "max_depth": integer(1, help="most levels of a tree"),
    "centroid_threshold": number(0, help="label centroid entries below this are dropped"),
    "collapse_every_n_layers": integer(
        0, help="merge this many adjacent layers into one, for wider shallower trees (0: none)"
    ),
    "linear_loss": choice(*LOSSES, help="loss of the node classifiers"),
    "linear_c": number(
        0, low_open=True, help="cost C of the node classifiers (larger: less regularised)"
    ),
    "linear_eps": number(
        0, low_open=True, help="stopping tolerance of the node classifiers' solver"
    ),
    "linear_weight_threshold": number(0, help="node classifier weights below this are dropped"),
    "linear_max_iter": integer(1, help="most solver iterations per node classifier"),
    "cluster_k": integer(2, help="children per node: the k of the k-means that splits labels"),
    "cluster_balanced": flag(help="balanced k-means (false: regular k-means, as Bonsai)"),
    "cluster_eps": number(0, low_open=True, help="stopping tolerance of the k-means"),
    "cluster_min_size": integer(
        1, help="labels of smaller clusters are moved to others (regular k-means only)"
    ),
    "beam_size": integer(1, help="prediction: beam width of the tree search"),
    "max_sparse_density": number(
        0, 1, help="prediction: weight vectors denser than this are stored dense (0: never)"
    ),
    "n_threads": integer(
        1, optional=True, help="threads to train and predict with (none: every core)"
    ),
}
# described with the others; checked by __init__ (only false is possible)
DETERMINISTIC = flag(help="must be false: omikuji takes no seed, so runs differ (see the class)")


class PartitionedLabelTrees:
    """An omikuji forest of label trees with linear node classifiers (Parabel by default).

    CPU-only: `device` is accepted and ignored. Not reproducible: see `NOT_DETERMINISTIC`;
    ``deterministic`` is recorded as false and asking for true is an error.
    """

    needs_features = True  # TF-IDF rows: checked by the runner before training

    NOT_DETERMINISTIC = (
        "omikuji 0.5.2 takes no seed: its k-means initial centroids and liblinear shuffles come "
        "from rand::thread_rng, seeded from OS entropy, so runs differ even on one thread "
        "(P@1 by up to a point on synthetic); use plt for bit-identical runs, "
        "or average over --seed runs"
    )

    def __init__(
        self,
        *,
        n_trees: int = 3,
        min_branch_size: int = 100,
        max_depth: int = 20,
        centroid_threshold: float = 0.0,
        collapse_every_n_layers: int = 0,
        linear_loss: str = "hinge",
        linear_c: float = 1.0,
        linear_eps: float = 0.1,
        linear_weight_threshold: float = 0.1,
        linear_max_iter: int = 20,
        cluster_k: int = 2,
        cluster_balanced: bool = True,
        cluster_eps: float = 0.0001,
        cluster_min_size: int = 2,
        beam_size: int = 10,
        max_sparse_density: float = 0.1,
        n_threads: int | None = None,
        deterministic: bool = False,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        if deterministic is not False:
            raise ValueError(
                f"deterministic={deterministic!r} is impossible: {self.NOT_DETERMINISTIC}"
            )
        given = {name: value for name, value in locals().items() if name in SPECS}
        for name, value in check_params(given, SPECS).items():  # types and ranges, or ParamError
            setattr(self, name, value)
        self.n_threads = self.n_threads or default_threads()
        self.seed = seed  # recorded for the contract; omikuji has no seed to pass it to
        self.device = device
        self.device_ = "cpu"
        self.model_: omikuji.Model | None = None
        self.label_map_: np.ndarray | None = None  # (L',) int32 model label -> dataset label
        self._pristine: Path | None = None  # saved copy taken before densifying, for `save`

    @classmethod
    def describe(cls, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter's default, type and meaning, for `xmcbench methods parabel`."""
        return describe_signature(cls, {**SPECS, "deterministic": DETERMINISTIC}, fixed)

    def get_params(self) -> dict[str, Any]:
        """Every hyperparameter, as recorded with the result."""
        return {
            "n_trees": self.n_trees,
            "min_branch_size": self.min_branch_size,
            "max_depth": self.max_depth,
            "centroid_threshold": self.centroid_threshold,
            "collapse_every_n_layers": self.collapse_every_n_layers,
            "linear_loss": self.linear_loss,
            "linear_c": self.linear_c,
            "linear_eps": self.linear_eps,
            "linear_weight_threshold": self.linear_weight_threshold,
            "linear_max_iter": self.linear_max_iter,
            "cluster_k": self.cluster_k,
            "cluster_balanced": self.cluster_balanced,
            "cluster_eps": self.cluster_eps,
            "cluster_min_size": self.cluster_min_size,
            "beam_size": self.beam_size,
            "max_sparse_density": self.max_sparse_density,
            "n_threads": self.n_threads,
            "deterministic": False,  # recorded: see NOT_DETERMINISTIC
        }

    def _hyper_param(self) -> Any:
        """omikuji's HyperParam struct filled from this object's settings."""
        hp = omikuji.Model.default_hyper_param()
        hp.n_trees = self.n_trees
        hp.min_branch_size = self.min_branch_size
        hp.max_depth = self.max_depth
        hp.centroid_threshold = self.centroid_threshold
        hp.collapse_every_n_layers = self.collapse_every_n_layers
        hp.linear_loss_type = LOSSES[self.linear_loss].value
        hp.linear_c = self.linear_c
        hp.linear_eps = self.linear_eps
        hp.linear_weight_threshold = self.linear_weight_threshold
        hp.linear_max_iter = self.linear_max_iter
        hp.cluster_k = self.cluster_k
        hp.cluster_balanced = self.cluster_balanced
        hp.cluster_eps = self.cluster_eps
        hp.cluster_min_size = self.cluster_min_size
        return hp

    def fit(self, train: Split, valid: Split | None, workdir: Path) -> None:
        """Write train as an XC-repository file in `workdir` and train omikuji on it."""
        features = require_features(train, "omikuji")
        self.label_map_, labels = compact_labels(train.labels)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        data_path = workdir / "omikuji-train.txt"
        write_xc_repo_file(data_path, features, labels)
        log_path = workdir / "omikuji.log"
        try:
            with native_output_to(log_path):
                model = omikuji.Model.train_on_data(
                    str(data_path), self._hyper_param(), n_threads=self.n_threads
                )
        except RuntimeError as error:
            tail = log_tail(log_path)
            raise XMCBenchError(f"omikuji failed to train: {error}\n{tail}") from error
        data_path.unlink()
        self._pristine = workdir / "omikuji-model"
        _save_model(model, self._pristine, log_path)
        self._use(model, log_path)

    def _use(self, model: omikuji.Model, log_path: Path) -> None:
        """Densify weights for fast prediction (as omikuji's CLI does) and set the thread pool."""
        with native_output_to(log_path):
            if self.max_sparse_density > 0:
                model.densify_weights(self.max_sparse_density, n_threads=self.n_threads)
            model.init_prediction_thread_pool(self.n_threads)
        self.model_ = model

    def predict(self, test: Split, k: int) -> TopK:
        """Top k labels per document by omikuji's beam search over its trees.

        omikuji predicts one document per call and releases the GIL inside it, so chunks of
        documents run on `n_threads` Python threads (omikuji itself only spreads over trees).
        """
        model, label_map = self.model_, self.label_map_
        if model is None or label_map is None:
            raise RuntimeError("PartitionedLabelTrees.predict called before fit or load")
        features = require_features(test, "omikuji")
        if features.shape[1] > model.n_features:  # columns the model never saw cannot score
            features = sp.csr_matrix(features[:, : model.n_features])
        indices, data = features.indices.tolist(), features.data.tolist()
        docs = [
            list(zip(indices[start:end], data[start:end], strict=True))
            for start, end in itertools.pairwise(features.indptr.tolist())
        ]

        def predict_chunk(chunk: list[list[tuple[int, float]]]) -> list[list[tuple[int, float]]]:
            return [model.predict(doc, beam_size=self.beam_size, top_k=k) for doc in chunk]

        size = max(1, -(-len(docs) // (4 * self.n_threads)))  # ~4 chunks per thread
        chunks = [docs[i : i + size] for i in range(0, len(docs), size)]
        with ThreadPoolExecutor(max_workers=self.n_threads) as pool:
            ranked = [pairs for part in pool.map(predict_chunk, chunks) for pairs in part]
        return ranked_to_topk(ranked, k, label_map)

    def save(self, path: Path) -> None:
        """omikuji's model folder (undensified), the label map and the params."""
        if self.model_ is None or self.label_map_ is None:
            raise RuntimeError("PartitionedLabelTrees.save called before fit or load")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        target = path / "omikuji"
        pristine = self._pristine
        if pristine is not None and pristine.is_dir():
            if pristine.resolve() != target.resolve():  # saving where it was loaded from: keep
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(pristine, target)
        else:  # the training workdir is gone: save the (densified) model itself
            _save_model(self.model_, target, path / "omikuji.log")
        with naming_path(path / "label_map.npy"):  # a failed write names its file
            np.save(path / "label_map.npy", self.label_map_)
        with naming_path(path / "params.json"):
            (path / "params.json").write_text(json.dumps({**self.get_params(), "seed": self.seed}))

    @classmethod
    def load(cls, path: Path) -> PartitionedLabelTrees:
        """A model saved by `save`, ready to predict."""
        path = Path(path)
        method = construct_saved(cls, path / "params.json")
        method.label_map_ = read_saved_array(path / "label_map.npy")
        log_path = path / "omikuji.log"
        with native_output_to(log_path):
            model = omikuji.Model.load(str(path / "omikuji"))
        method._pristine = path / "omikuji"
        method._use(model, log_path)
        return method


def _save_model(model: omikuji.Model, folder: Path, log_path: Path) -> None:
    """omikuji's `save` into a fresh folder (it would add trees to an existing one)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with native_output_to(log_path):
        model.save(str(folder))


def write_xc_repo_file(path: Path, features: sp.csr_matrix, labels: sp.csr_matrix) -> None:
    """Write `n D L` then one `l1,l2 f:v f:v` line per row (the XC-repository BOW format)."""
    n, n_features = features.shape
    formats: dict[int, str] = {}  # nnz -> "%d:%.7g %d:%.7g ..." so each row is one % operation
    with path.open("w") as out:
        out.write(f"{n} {n_features} {labels.shape[1]}\n")
        fi, li = features.indptr, labels.indptr
        indices, values = features.indices, features.data.astype(np.float64)
        label_ids = labels.indices
        for row in range(n):
            start, end = fi[row], fi[row + 1]
            nnz = int(end - start)
            pairs: list[Any] = [None] * (2 * nnz)  # f1, v1, f2, v2, ...
            pairs[0::2] = indices[start:end].tolist()
            pairs[1::2] = values[start:end].tolist()
            fmt = formats.get(nnz) or formats.setdefault(nnz, " ".join(["%d:%.7g"] * nnz))
            head = ",".join(map(str, label_ids[li[row] : li[row + 1]].tolist()))
            out.write(f"{head} {fmt % tuple(pairs)}\n" if nnz else f"{head}\n")
