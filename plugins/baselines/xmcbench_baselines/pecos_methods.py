"""XR-Linear (PECOS, Yu et al. 2022) on the split's TF-IDF rows, with libpecos 1.2.8's defaults.

PECOS builds a label tree by hierarchical spherical k-means over PIFA label embeddings (each
label's normalised sum of its documents' TF-IDF rows), then trains one-vs-rest linear
classifiers at each level of the tree (liblinear's solvers), each level on the documents its
true (``tfn``) and/or matched (``man``) clusters route to it. Prediction: a beam search down
the tree.

`save` writes PECOS's own model folder (JSON and uncompressed ``.npz`` matrices, no pickle);
`load` does not hand that folder to PECOS's loader, which trusts it: `pecos_files` reads
every matrix with pickles refused and checks shapes and indices before PECOS's C++ code
sees them.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from xmcbench.errors import XMCBenchError, naming_path
from xmcbench.paramspec import Param, check_params, choice, describe_signature, flag, integer
from xmcbench.paramspec import number as real
from xmcbench.runtime import thread_count
from xmcbench.saved_run import construct_saved, read_saved_array
from xmcbench.types import Split, TopK

from .common import compact_labels, require_features
from .pecos_compat import ensure_compatible
from .pecos_files import MODEL_DIR, read_model

METHOD = "xr-linear"
INSTALL = "pip install --no-deps libpecos==1.2.8"  # why --no-deps: plugins/baselines/pyproject
SOLVERS = ("L2R_L2LOSS_SVC_DUAL", "L2R_L1LOSS_SVC_DUAL", "L2R_LR_DUAL", "L2R_L2LOSS_SVC_PRIMAL")
NEGATIVES = ("tfn", "man", "tfn+man")  # teacher-forced, matcher-aware, or both
POST_PROCESSORS = (
    "l3-hinge",
    "l1-hinge",
    "l2-hinge",
    "l4-hinge",
    "sigmoid",
    "log-l1-hinge",
    "log-l2-hinge",
    "log-l3-hinge",
    "log-l4-hinge",
    "log-sigmoid",
    "noop",
)

# the type, range and meaning of every hyperparameter: the one place they are checked
SPECS: dict[str, Param] = {
    "nr_splits": integer(2, help="branching factor of the label tree (children per node)"),
    "max_leaf_size": integer(2, help="at most this many labels in a leaf cluster of the tree"),
    "spherical": flag(help="spherical k-means (unit-length centroids) when clustering labels"),
    "kmeans_max_iter": integer(1, help="k-means iterations per split of the label tree"),
    "solver_type": choice(*SOLVERS, help="liblinear solver of the node and label classifiers"),
    "Cp": real(0, low_open=True, help="loss weight (C) of positive examples"),
    "Cn": real(0, low_open=True, help="loss weight (C) of negative examples"),
    "max_iter": integer(1, help="solver iterations at most, per classifier"),
    "eps": real(0, low_open=True, help="solver stopping tolerance"),
    "bias": real(help="bias feature appended to every document (<= 0: no bias term)"),
    "threshold": real(0, help="weights with absolute value below this are dropped (sparsity)"),
    "negative_sampling": choice(
        *NEGATIVES,
        help="negatives of each level: tfn = true clusters' labels, man = the level above's "
        "predicted clusters, tfn+man = both",
    ),
    "beam_size": integer(1, help="prediction: clusters kept per level of the beam search"),
    "post_processor": choice(
        *POST_PROCESSORS, help="prediction: how a level's scores are transformed and chained"
    ),
    "n_threads": integer(
        1, optional=True, help="threads to train and predict with (null: xmcbench's thread count)"
    ),
}


class XRLinear:
    """PECOS's XR-Linear: hierarchical k-means label tree, linear rankers on TF-IDF at each level.

    CPU-only: `device` is accepted and ignored. `seed` seeds PECOS's k-means; PECOS's solvers
    draw from fixed-seed generators, so a seed gives the same model on any thread count.
    The number of labels PECOS returns per document (its ``only_topk``) is the harness's k.
    """

    needs_features = True  # TF-IDF rows: checked by the runner before training

    def __init__(
        self,
        *,
        nr_splits: int = 16,
        max_leaf_size: int = 100,
        spherical: bool = True,
        kmeans_max_iter: int = 20,
        solver_type: str = "L2R_L2LOSS_SVC_DUAL",
        Cp: float = 1.0,
        Cn: float = 1.0,
        max_iter: int = 100,
        eps: float = 0.1,
        bias: float = 1.0,
        threshold: float = 0.1,
        negative_sampling: str = "tfn",
        beam_size: int = 10,
        post_processor: str = "l3-hinge",
        n_threads: int | None = None,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        given = {name: value for name, value in locals().items() if name in SPECS}
        for name, value in check_params(given, SPECS).items():  # types and ranges, or ParamError
            setattr(self, name, value)
        if not pecos_installed():  # said before any data is loaded
            raise XMCBenchError(f"libpecos is not installed: {INSTALL}")
        self.n_threads = self.n_threads or thread_count()
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
            raise ValueError(f"seed must be an integer in [0, 2147483647], got {seed!r}")
        self.seed = seed
        self.device = device
        self.device_ = "cpu"
        self.model_: Any = None  # pecos.xmc.xlinear.XLinearModel
        self.label_map_: np.ndarray | None = None  # (L',) int32 model label -> dataset label

    @classmethod
    def describe(cls, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Each parameter's default, type and meaning, for `xmcbench methods xr-linear`."""
        return describe_signature(cls, SPECS, fixed)

    def get_params(self) -> dict[str, Any]:
        """Every hyperparameter, as recorded with the result."""
        return {name: getattr(self, name) for name in SPECS}

    def _train_kwargs(self) -> dict[str, Any]:
        """PECOS's keyword arguments for the linear solvers, negatives and beam search."""
        return {
            "solver_type": self.solver_type,
            "Cp": self.Cp,
            "Cn": self.Cn,
            "max_iter": self.max_iter,
            "eps": self.eps,
            "bias": self.bias,
            "threshold": self.threshold,
            "negative_sampling_scheme": self.negative_sampling,
            "threads": self.n_threads,
            "beam_size": self.beam_size,
            "post_processor": self.post_processor,
        }

    def fit(self, train: Split, valid: Split | None, workdir: Path) -> None:
        """Cluster the labels' PIFA embeddings into a tree and train XR-Linear on it."""
        from pecos.xmc import Indexer, LabelEmbeddingFactory
        from pecos.xmc.xlinear.model import XLinearModel

        ensure_compatible()
        features = require_features(train, METHOD)
        self.label_map_, labels = compact_labels(train.labels)
        if labels.shape[1] == 0:
            raise XMCBenchError(f"{METHOD}: the training split has no labels to learn")
        y = sp.csc_matrix(labels, dtype=np.float32)
        with pecos_errors("train"):
            embedding = LabelEmbeddingFactory.create(
                y, features, method="pifa", threads=self.n_threads
            )
            chain = Indexer.gen(
                sp.csr_matrix(embedding, dtype=np.float32),
                indexer_type="hierarchicalkmeans",
                nr_splits=self.nr_splits,
                max_leaf_size=self.max_leaf_size,
                spherical=self.spherical,
                kmeans_max_iter=self.kmeans_max_iter,
                seed=self.seed,
                threads=self.n_threads,
            )
            self.model_ = XLinearModel.train(
                features, y, C=chain, nr_splits=self.nr_splits, **self._train_kwargs()
            )

    def predict(self, test: Split, k: int) -> TopK:
        """Top k labels per document by PECOS's beam search, best first; -1 pads short rows."""
        model, label_map = self.model_, self.label_map_
        if model is None or label_map is None:
            raise RuntimeError("XRLinear.predict called before fit or load")
        features = fit_columns(require_features(test, METHOD), model.model.nr_features)
        with pecos_errors("predict"):
            scores = model.predict(
                features,
                beam_size=self.beam_size,
                only_topk=k,
                post_processor=self.post_processor,
                threads=self.n_threads,
            )
        return csr_to_topk(sp.csr_matrix(scores), k, label_map)

    def save(self, path: Path) -> None:
        """PECOS's model folder (JSON + .npz, no pickle), the label map and the params."""
        if self.model_ is None or self.label_map_ is None:
            raise RuntimeError("XRLinear.save called before fit or load")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with naming_path(path / MODEL_DIR):
            self.model_.save(str(path / MODEL_DIR))
        with naming_path(path / "label_map.npy"):  # a failed write names its file
            np.save(path / "label_map.npy", self.label_map_)
        with naming_path(path / "params.json"):
            (path / "params.json").write_text(json.dumps({**self.get_params(), "seed": self.seed}))

    @classmethod
    def load(cls, path: Path) -> XRLinear:
        """A model saved by `save`, its matrices read and checked by xmcbench, not by PECOS."""
        path = Path(path)
        method = construct_saved(cls, path / "params.json")
        label_map = read_saved_array(path / "label_map.npy")
        ensure_compatible()
        method.model_ = read_model(path / MODEL_DIR, method.bias, method.post_processor)
        n_labels = method.model_.model.nr_labels
        if label_map.ndim != 1 or label_map.dtype.kind not in "iu" or len(label_map) != n_labels:
            raise XMCBenchError(f"{path / 'label_map.npy'}: not the label map of this model")
        method.label_map_ = label_map.astype(np.int32)
        return method


def pecos_installed() -> bool:
    """Whether libpecos can be imported (checked without importing it)."""
    return importlib.util.find_spec("pecos") is not None


@contextmanager
def pecos_errors(step: str) -> Iterator[None]:
    """Turn an exception raised inside libpecos into one line naming the method and the step."""
    try:
        yield
    except XMCBenchError:
        raise
    except Exception as exc:  # PECOS raises asserts, ValueErrors and more; Ctrl-C passes
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        reason = f"{type(exc).__name__}: {first.strip()}" if first else type(exc).__name__
        raise XMCBenchError(f"{METHOD}: PECOS failed to {step} ({reason})") from exc


def fit_columns(features: sp.csr_matrix, n_features: int) -> sp.csr_matrix:
    """`features` with exactly the model's columns: extra ones dropped, missing ones empty."""
    if features.shape[1] > n_features:
        features = sp.csr_matrix(features[:, :n_features])
    elif features.shape[1] < n_features:
        features = sp.csr_matrix(
            (features.data, features.indices, features.indptr),
            shape=(features.shape[0], n_features),
        )
    features.sort_indices()
    return features


def csr_to_topk(scores: sp.csr_matrix, k: int, label_map: np.ndarray) -> TopK:
    """PECOS's (n, L') score matrix, at most k entries a row, as TopK in dataset label ids."""
    n = scores.shape[0]
    counts = np.diff(scores.indptr)  # (n,)
    if counts.size and counts.max() > k:
        raise XMCBenchError(f"{METHOD}: PECOS returned more than k={k} labels for a document")
    rows = np.repeat(np.arange(n), counts)
    slots = np.arange(scores.nnz) - np.repeat(scores.indptr[:-1], counts)
    labels = np.full((n, k), -1, dtype=np.int64)  # (n, k) compact ids, -1 for none
    values = np.full((n, k), -np.inf, dtype=np.float32)  # (n, k)
    labels[rows, slots] = scores.indices
    values[rows, slots] = scores.data
    order = np.lexsort((labels, -values), axis=1)  # best first; ties by label id
    labels = np.take_along_axis(labels, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    mapped = np.where(labels >= 0, label_map[np.maximum(labels, 0)], -1).astype(np.int32)
    return TopK(labels=mapped, scores=values)
