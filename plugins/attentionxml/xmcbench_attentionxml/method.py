"""AttentionXML as an xmcbench method: a `DeepEstimator` whose network is `AttentionXMLNet`.

Flat (root + L leaves) it is the toolkit's flat estimator; with ``tree_height > 0`` or
``trees > 1`` it trains label trees and ensembles (`tree_method`). Its own capabilities:
the `auto` preset (chosen from the data at fit time, `auto.py`), attention weights for
`xmcbench explain` and `merge` of separately trained trees (`xmcbench.capabilities`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from xmcbench.deep import distributed
from xmcbench.deep.distributed import resolve_device
from xmcbench.deep.estimator import DeepEstimator
from xmcbench.deep.saving import NOT_A_CHECKPOINT, foreign_file, no_pickle_warnings
from xmcbench.errors import XMCBenchError
from xmcbench.notes import note
from xmcbench.types import Split, TopK

from . import __version__, auto, explain, tree_method
from .model import AttentionXMLNet, ModelConfig, model_config
from .params import CHOOSE_EXPONENT, Hyperparams
from .presets import AUTO, DEFAULT_PRESET, PRESETS, resolve

__all__ = ["AttentionXML", "resolve_device"]


class AttentionXML(DeepEstimator):
    """AttentionXML: BiLSTM + one attention vector per label, flat or over label trees.

    Every field of `params.Hyperparams` is a keyword; None means "take it from the preset"
    (default preset: "auto", chosen from the data at fit time, see `auto.py`).
    `get_params()` returns the resolved values; `training_summary_` (after fit) the time budget,
    the seconds trained and what stopped training.
    """

    name = "attentionxml"
    label = "AttentionXML"
    version = __version__
    params_class = Hyperparams
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = PRESETS
    default_preset = DEFAULT_PRESET
    network_class = AttentionXMLNet
    config_class = ModelConfig

    def __init__(self, preset: str | None = None, **params: Any) -> None:
        """`preset`, then seed/device/progress and the hyperparameters by name (the signature
        `inspect` shows lists them all, made from `Hyperparams` by the toolkit)."""
        self.auto_: auto.AutoChoice | None = None  # what the auto preset chose, once fitted
        self.tree_models_: list[Any] | None = None  # label-tree path: one TreeModel per tree
        self.level_: tuple[int, int] | None = None  # (tree, level) training stands at
        self.path_exponent_: float | None = None  # label trees: as fitted (path.py)
        self.worker_peak_rss_mb_: list[float] = []  # trees trained at once: each process's peak
        super().__init__(preset, **params)

    @classmethod
    def network_config(cls, hp: Hyperparams, vocab_size: int, n_labels: int) -> ModelConfig:
        """The flat network's shape: one output per label."""
        return model_config(hp.model, vocab_size, n_labels)

    # ------------------------------------------------------------------ parameters
    @classmethod
    def resolve_params(
        cls, preset: str | None, explicit: Mapping[str, Any]
    ) -> tuple[str, Hyperparams]:
        """The preset name used and the resolved hyperparameters (the `auto` preset's pre-data
        values until fit)."""
        return resolve(preset, explicit)

    def _resolved(self) -> tuple[str, Hyperparams]:
        """(preset name, hyperparameters); the auto preset takes what it chose at fit time."""
        explicit = self.explicit_params()
        if not self._uses_auto():
            return resolve(self.preset, explicit)
        chosen = None if self.auto_ is None else self.auto_.values
        if chosen is None:  # before the data: the rules for this device, data-dependent ones later
            chosen = auto.base_values(str(resolve_device(self.device)))
        return resolve(self.preset, explicit, auto_values=chosen)

    def _uses_auto(self) -> bool:
        """Whether the `auto` preset applies (preset auto, or none given)."""
        return (self.preset or AUTO) == AUTO

    def get_params(self) -> dict[str, Any]:
        """Effective hyperparameters as the harness records them (preset name, seed, device too).

        Under the auto preset the values that depend on the data (max_len, the label tree) are
        left out before fit; what it chose and why is `training_summary_["auto_reason"]`.
        """
        params = super().get_params()
        if self._uses_auto() and self.auto_ is None:
            for name in auto.DATA_DEPENDENT:
                if getattr(self, name) is None:
                    params.pop(name)
        return params

    @classmethod
    def _describe_notes(cls) -> dict[str, str]:
        return {
            AUTO: "values before the data is seen on CPU; at fit time max_len and the label tree "
            "(tree_height, tree_k, candidates; on CPU a tree also trains with lighter dropout "
            "and weighs its levels by an exponent chosen on validation) "
            "follow the data, and a GPU takes the paper's settings without a time budget (auto.py)"
        }

    # ------------------------------------------------------------------ fit / predict
    def fit(self, train: Split, valid: Split | None, workdir: Path) -> None:
        """Train on `train`, validating on `valid` (or on documents held out of `train`).

        Under torchrun this trains data-parallel (`batch_size` documents per process and step).
        """
        device = distributed.init(resolve_device(self.device))  # cuda:LOCAL_RANK under torchrun
        if self._uses_auto():  # choose from the data (all of train) and the device, say why
            chosen = auto.choose(auto.DataShape.of(train), device.type)
            given = {k: v for k, v in self.explicit_params().items() if v is not None}
            self.auto_ = auto.with_overrides(chosen, given)
            if self.progress and distributed.is_main():
                note(f"auto preset: {self.auto_.reason}")
        if tree_method.uses_tree(self.hyperparams()):  # label tree (levels.py) or an ensemble
            fitted = tree_method.fit_trees(self, train, valid, Path(workdir), self._on_level_step)
            self.tree_models_, self.device_ = fitted.models, fitted.device
            self.training_summary_ = fitted.summary
            self.path_exponent_ = fitted.path_exponent
            self.worker_peak_rss_mb_ = fitted.worker_peak_rss_mb  # the runner records them
        else:
            self._fit_network(train, valid, Path(workdir), device)
        if self.auto_ is not None and self.training_summary_ is not None:
            self.training_summary_["auto_reason"] = self.auto_.reason

    def _on_level_step(self, tree: int, level: int, step: int) -> None:
        """Where label-tree training stands (tests interrupt on it), then `step_callback`."""
        self.level_ = (tree, level)
        if self.step_callback is not None:
            self.step_callback(step)

    def predict(self, test: Split, k: int) -> TopK:
        """Top-k labels (int32) and sigmoid scores (float32) per test document."""
        if self.tree_models_ is not None:
            hp = self.hyperparams()
            return tree_method.predict_trees(
                self.tree_models_, hp, test, k, self._path_exponent(hp)
            )
        return super().predict(test, k)

    def _path_exponent(self, hp: Hyperparams) -> float:
        """How the trees' levels combine: as fitted, else as set (1, the paper's, if neither)."""
        if self.path_exponent_ is not None:
            return self.path_exponent_
        return 1.0 if hp.tree.path_exponent == CHOOSE_EXPONENT else hp.tree.path_exponent

    def attention(self, split: Split, rows: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
        """Per row of `rows`, (n_tokens, c) attention weights for its (len(rows), c) `labels`.

        The optional attention capability of xmcbench (`xmcbench explain`); each column sums to
        1 over the document's tokens.
        """
        hp = self.hyperparams()
        labels = np.asarray(labels, dtype=np.int64).reshape(len(rows), -1)
        if self.tree_models_ is not None:
            return explain.tree_attention(
                self.tree_models_, split, rows, labels, hp.max_len, hp.predict_batch_size
            )
        if self.model_ is None:
            raise RuntimeError(f"{type(self).__name__}.attention called before fit or load")
        return explain.network_attention(
            self.model_, split, rows, labels, hp.max_len, hp.predict_batch_size
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        """A folder with the weights and params.json (a label tree: one folder per tree)."""
        if self.tree_models_ is None:
            return super().save(path)
        entries = tree_method.save_trees(self.tree_models_, Path(path))
        exponent = self._path_exponent(self.hyperparams())
        self._write_params(Path(path), label_trees=entries, path_exponent=exponent)

    def _saved_notes(self) -> dict[str, Any]:
        return {"auto_reason": self.auto_.reason} if self.auto_ is not None else {}

    def _restore_notes(self, saved: dict[str, Any]) -> None:
        reason = saved.get("auto_reason")
        if reason is not None and self._uses_auto():  # every value is explicit: keep the why
            self.auto_ = auto.AutoChoice({}, str(reason))

    def _restore(self, path: Path, saved: dict[str, Any]) -> None:
        if "label_trees" not in saved:
            return super()._restore(path, saved)
        device = resolve_device("auto")
        try:
            with no_pickle_warnings():
                models = tree_method.load_tree_models(path, saved["label_trees"])
        except NOT_A_CHECKPOINT as exc:
            raise XMCBenchError(f"{foreign_file(path)}: not a model written by xmcbench") from exc
        for model in models:
            model.nets = [net.to(device) for net in model.nets]
        self.tree_models_, self.device_ = models, str(device)
        exponent = saved.get("path_exponent")  # absent in models saved before it existed: 1
        self.path_exponent_ = float(exponent) if isinstance(exponent, int | float) else None

    @classmethod
    def merge(cls, paths: list[Path]) -> AttentionXML:
        """One ensemble from saved models of separate trees (``tree_id=i`` jobs) of one setting."""
        loaded = [cls.load(Path(p)) for p in paths]
        models = tree_method.merged_trees(
            [m.get_params() for m in loaded], [m.tree_models_ or [] for m in loaded]
        )
        merged = loaded[0]
        merged.trees, merged.tree_id = len(models), None
        # each job chose its exponent on its own tree: the ensemble takes the paper's unless set
        exponents = {m.path_exponent_ for m in loaded}
        merged.path_exponent_ = exponents.pop() if len(exponents) == 1 else None
        device = resolve_device("auto")
        for model in models:
            model.nets = [net.to(device) for net in model.nets]
        merged.tree_models_, merged.device_ = models, str(device)
        return merged
