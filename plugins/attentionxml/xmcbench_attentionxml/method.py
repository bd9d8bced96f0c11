"""AttentionXML as an xmcbench method: sklearn-style estimator around the model and the engine."""

from __future__ import annotations

import dataclasses
import inspect
import json
import pickle
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from xmcbench.errors import XMCBenchError, naming_path
from xmcbench.io import write_json
from xmcbench.paramspec import flag
from xmcbench.types import Split, TopK

from . import __version__, auto, budget, checkpoint, distributed, explain, tree_method
from .batching import FlatTrainingData, carve_validation
from .embedding_init import initial_embeddings
from .engine import TrainConfig, Trainer
from .model import AttentionXMLNet, ModelConfig
from .params import FIELDS, SPECS, Hyperparams
from .predict import PredictConfig, flat_evaluator, predict_topk
from .presets import AUTO, resolve

VALID_SEED = 1240  # fixed: every seed holds out the same validation documents
WEIGHTS_FILE, PARAMS_FILE = "weights.pt", "params.json"
# what torch.load raises on a file that is not a checkpoint: a foreign pickle (refused by
# weights_only), text (KeyError), a truncated archive (RuntimeError)
NOT_A_CHECKPOINT = (pickle.UnpicklingError, EOFError, KeyError, RuntimeError, ValueError)


def resolve_device(device: str) -> torch.device:
    """ "auto" picks CUDA when available, else CPU; "cuda" without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device")
    return torch.device(device)


class AttentionXML:
    """Flat AttentionXML (label tree = root + L leaves): BiLSTM + one attention vector per label.

    Every hyperparameter is a keyword (see `params.Hyperparams`); None means "take it from the
    preset" (default preset: "auto", chosen from the data at fit time, see `auto.py`).
    `get_params()` returns the resolved values; `training_summary_` (after fit) the time budget,
    the seconds trained and what stopped training.
    """

    name = "attentionxml"
    # The swappable model-building step: subclasses (the deep baselines) set their own network,
    # its config dataclass, hyperparameter names and preset resolver; fit/predict/save/load stay.
    model_class: Callable[..., nn.Module] = AttentionXMLNet
    config_class: Callable[..., Any] = ModelConfig
    fields: tuple[str, ...] = FIELDS
    resolve_params = staticmethod(resolve)

    def __init__(
        self,
        preset: str | None = None,
        *,
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
        embedding_dim: int | None = None,
        embedding_init: str | None = None,
        freeze_embedding: bool | None = None,
        hidden_size: int | None = None,
        fc_sizes: tuple[int, ...] | list[int] | None = None,
        embedding_dropout: float | None = None,
        encoder_dropout: float | None = None,
        attention_impl: str | None = None,
        max_len: int | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        swa: bool | None = None,
        swa_warmup: float | None = None,
        eval_every: int | None = None,
        patience: int | None = None,
        clip_factor: float | None = None,
        clip_window: int | None = None,
        valid_size: int | None = None,
        max_steps: int | None = None,
        time_budget: float | str | None = None,
        precision: str | None = None,
        sparse_embedding: bool | None = None,
        optimizer: str | None = None,
        predict_batch_size: int | None = None,
        ppmi_window: int | None = None,
        ppmi_max_words: int | None = None,
        tree_height: int | None = None,
        tree_k: int | None = None,
        tree_m: int | None = None,
        candidates: int | None = None,
        level_candidates: int | None = None,
        trees: int | None = None,
        tree_id: int | None = None,
        parallel_trees: bool | None = None,
        level_epochs: tuple[int, ...] | list[int] | None = None,
        level_swa_warmup: tuple[int, ...] | list[int] | None = None,
        level_init: str | None = None,
    ) -> None:
        given = {k: v for k, v in locals().items() if k in FIELDS}
        self._setup(preset, seed, device, progress, given)

    def _setup(
        self, preset: str | None, seed: int, device: str, progress: bool, given: dict[str, Any]
    ) -> None:
        """Store the settings and explicit hyperparameters; shared with subclasses' __init__."""
        flag().check("progress", progress)  # the one setting outside the Hyperparams dataclass
        self.preset, self.seed, self.device, self.progress = preset, seed, device, progress
        for key in self.fields:  # a field a subclass's __init__ does not take: the preset's
            setattr(self, key, given.get(key))
        self.resolve_params(preset, given)  # fail early on a bad preset or value
        self.step_callback: Callable[[int], None] | None = None  # called after each step (tests)
        self.model_: nn.Module | None = None
        self.device_: str | None = None  # the device actually used, once fitted or loaded
        self.history_: list[dict[str, float]] = []
        self.tree_models_: list[Any] | None = None  # label-tree path: one TreeModel per tree
        self.auto_: auto.AutoChoice | None = None  # what the auto preset chose, once fitted
        self.training_summary_: dict[str, Any] | None = None  # budget, seconds, stop reason

    def preflight(self) -> None:
        """Cheap checks before the harness loads any data: the device and the embedding file."""
        resolve_device(self.device)
        init = self.hyperparams().embedding_init
        if init not in ("ppmi", "random", "glove") and not Path(init).expanduser().is_file():
            raise ValueError(
                f"embedding_init must be 'ppmi', 'random', 'glove' or a file, got {init!r}"
            )

    # ------------------------------------------------------------------ parameters
    def hyperparams(self) -> Hyperparams:  # a subclass's own dataclass for the deep baselines
        """The resolved hyperparameters: preset values overridden by the explicit ones."""
        return self._resolved()[1]

    def _resolved(self) -> tuple[str, Any]:
        """(preset name, hyperparameters); the auto preset takes what it chose at fit time."""
        explicit = {k: getattr(self, k) for k in self.fields}
        if not self._uses_auto():
            return self.resolve_params(self.preset, explicit)
        chosen = None if self.auto_ is None else self.auto_.values
        if chosen is None:  # before the data: the rules for this device, data-dependent ones later
            chosen = auto.base_values(str(resolve_device(self.device)))
        return resolve(self.preset, explicit, auto_values=chosen)

    def _uses_auto(self) -> bool:
        """Whether the `auto` preset applies (AttentionXML's resolver, preset auto or none)."""
        own = type(self).resolve_params is AttentionXML.resolve_params
        return own and (self.preset or AUTO) == AUTO

    def get_params(self) -> dict[str, Any]:
        """Effective hyperparameters as the harness records them (preset name, seed, device too).

        Under the auto preset the values that depend on the data (max_len, the label tree) are
        left out before fit; what it chose and why is `training_summary_["auto_reason"]`.
        """
        preset, hp = self._resolved()
        params = {
            "preset": preset,
            **hp.as_dict(),
            "seed": self.seed,
            "device": str(resolve_device(self.device)),
        }
        if self._uses_auto() and self.auto_ is None:
            for name in auto.DATA_DEPENDENT:
                if getattr(self, name) is None:
                    params.pop(name)
        return params

    @classmethod
    def describe(cls, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every hyperparameter (default, type and range) and every preset's resolved values.

        Read by `xmcbench methods NAME`; `fixed` are a registered alias's parameters. Presets
        and the default preset come from the resolver's module (``PRESETS``, ``DEFAULT_PRESET``),
        so the deep baselines, which share this class, list their own.
        """
        module = sys.modules[cls.resolve_params.__module__]
        presets: Mapping[str, Any] = getattr(module, "PRESETS", {})
        fixed = dict(fixed or {})
        resolved = {name: cls.resolve_params(name, fixed)[1] for name in presets}
        any_hp = next(iter(resolved.values()), None)
        specs = getattr(type(any_hp), "specs", None) or getattr(module, "SPECS", None) or SPECS
        params = []
        for f in dataclasses.fields(type(any_hp)) if any_hp is not None else ():
            default = f.default
            if f.name in specs and hasattr(specs[f.name], "describe"):
                kind = specs[f.name].describe()
            else:
                kind = str(f.type)
            if f.name == "time_budget":
                default = budget.format_duration(default)
            params.append({"name": f.name, "default": _jsonable(default), "type": kind})
        notes = {}
        if AUTO in presets and type(any_hp) is Hyperparams:
            notes[AUTO] = (
                "values before the data is seen on CPU; at fit time max_len and the label tree "
                "(tree_height, tree_k, candidates) follow the data, and a GPU takes the paper's "
                "settings without a time budget (auto.py)"
            )
        return {
            "method": cls.name,
            "default_preset": getattr(module, "DEFAULT_PRESET", None),
            "fixed": _jsonable(fixed),
            "params": params,
            "presets": {name: hp.as_dict() for name, hp in resolved.items()},
            "notes": notes,
        }

    @classmethod
    def _model_config(cls, hp: Any, vocab_size: int, n_labels: int) -> Any:
        shared = {f.name for f in dataclasses.fields(cls.config_class)} & set(cls.fields)
        return cls.config_class(
            vocab_size=vocab_size, n_labels=n_labels, **{name: getattr(hp, name) for name in shared}
        )

    def _predict_config(self, hp: Any, device: torch.device) -> PredictConfig:
        return PredictConfig(hp.max_len, hp.predict_batch_size, device, hp.precision)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, train: Split, valid: Split | None, workdir: Path) -> None:
        """Train on `train`, validating on `valid` (or on documents held out of `train`).

        Under torchrun this trains data-parallel (`batch_size` documents per process and step).
        """
        device = distributed.init(resolve_device(self.device))  # cuda:LOCAL_RANK under torchrun
        if self._uses_auto():  # choose from the data (all of train) and the device, say why
            self.auto_ = auto.choose(auto.DataShape.of(train), device.type)
            given = {k: getattr(self, k) for k in self.fields if getattr(self, k) is not None}
            self.auto_ = auto.with_overrides(self.auto_, given)
            if self.progress and distributed.is_main():
                print(f"auto preset: {self.auto_.reason}")
        hp, workdir, started = self.hyperparams(), Path(workdir), budget.now()
        if tree_method.uses_tree(hp):  # label tree (levels.py) or an ensemble of trees
            return tree_method.fit_trees(self, train, valid, workdir)
        if valid is None:
            keep, held = carve_validation(len(train), hp.valid_size, VALID_SEED)
            train, valid = train.subset(keep), train.subset(held, name="valid")
        elif len(valid) > hp.valid_size:  # bound the cost of each validation
            rows = np.random.default_rng(VALID_SEED).choice(
                len(valid), hp.valid_size, replace=False
            )
            valid = valid.subset(np.sort(rows))
        config = self._model_config(hp, len(train.vocab), train.n_labels)
        run = {
            "params": hp.as_dict(),
            "seed": self.seed,
            "device": device.type,
            "n_train": len(train),
            "n_valid": len(valid),
            "model": dataclasses.asdict(config),
            "label_nnz": int(train.labels.nnz),
            "tokens": len(train.tokens),
            **distributed.run_settings(),
        }
        fingerprint = checkpoint.fingerprint(run)
        summary = distributed.from_main(checkpoint.read_summary, workdir)
        resuming = summary is not None and summary["fingerprint"] == fingerprint

        torch.manual_seed(self.seed)
        embedding = None
        if not resuming:  # a resumed run loads its weights from the checkpoint instead
            embedding = initial_embeddings(
                hp.embedding_init,
                train,
                hp.embedding_dim,
                seed=self.seed,
                window=hp.ppmi_window,
                max_words=hp.ppmi_max_words,
                max_len=hp.max_len,
            )
        model = self.model_class(config, embedding)
        set_prior = getattr(model, "set_label_prior", None)  # output bias at the label frequency
        if callable(set_prior):
            set_prior(train.labels.nnz / max(1, len(train) * train.n_labels))
        model = model.to(device)
        train_config = TrainConfig(
            **{
                f.name: getattr(hp, f.name)
                for f in dataclasses.fields(TrainConfig)
                if f.name != "progress" and hasattr(hp, f.name)
            },
            progress=self.progress,
        )
        if hp.time_budget is not None:  # the embeddings' set-up counts against the budget
            left = max(1.0, hp.time_budget - (budget.now() - started))
            train_config = dataclasses.replace(train_config, time_budget=left)
        trainer = Trainer(model, train_config, device, workdir, fingerprint, self.step_callback)
        global_batch = hp.batch_size * distributed.world_size()  # split across the processes
        data = FlatTrainingData(train, global_batch, hp.max_len, self.seed)
        state = trainer.fit(data, flat_evaluator(valid, self._predict_config(hp, device)))
        self.model_, self.history_, self.device_ = model.eval(), state.history, str(device)
        self.training_summary_ = budget.summary(
            hp.time_budget,
            [{"train_s": round(state.elapsed_s, 3), "stopped_by": state.stopped_by}],
        )
        self._note_auto()

    def _note_auto(self) -> None:
        """Add what the auto preset chose and why to `training_summary_`."""
        if self.auto_ is not None and self.training_summary_ is not None:
            self.training_summary_["auto_reason"] = self.auto_.reason

    def predict(self, test: Split, k: int) -> TopK:
        """Top-k labels (int32) and sigmoid scores (float32) per test document."""
        if self.tree_models_ is not None:
            return tree_method.predict_trees(self, test, k)
        if self.model_ is None:
            raise RuntimeError(f"{type(self).__name__}.predict called before fit or load")
        hp = self.hyperparams()
        device = next(self.model_.parameters()).device
        return predict_topk(
            self.model_, test, k, self._predict_config(hp, device), self.model_.config.n_labels
        )

    def attention(self, split: Split, rows: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
        """Per row of `rows`, (n_tokens, c) attention weights for its (len(rows), c) `labels`.

        The optional attention capability of xmcbench (`xmcbench explain`); each column sums to
        1 over the document's tokens. A subclass whose network has no attention raises
        NotImplementedError.
        """
        if not hasattr(self.model_class, "attention_weights"):
            raise NotImplementedError(f"{self.name} pools over tokens and has no label attention")
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
        """A folder with the weights (weights.pt) and the parameters (params.json)."""
        if self.tree_models_ is not None:
            return tree_method.save_trees(self, path)
        if self.model_ is None:
            raise RuntimeError(f"{type(self).__name__}.save called before fit or load")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().cpu() for k, v in self.model_.state_dict().items()}
        try:
            with naming_path(path / WEIGHTS_FILE):
                checkpoint.save(weights, path / WEIGHTS_FILE)
        except RuntimeError as exc:  # torch reports a failed write (disk full) as RuntimeError
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "write failed"
            raise XMCBenchError(f"{path / WEIGHTS_FILE}: cannot write ({reason})") from exc
        config = dataclasses.asdict(self.model_.config)
        write_json(
            path / PARAMS_FILE,
            {
                "method": self.name,
                "plugin_version": __version__,
                "params": self.get_params(),
                "model_config": config,
                **({"auto_reason": self.auto_.reason} if self.auto_ is not None else {}),
            },
        )

    @classmethod
    def load(cls, path: Path) -> AttentionXML:
        """Rebuild a saved model; it runs on CUDA when available."""
        path = Path(path)
        method, saved = cls._from_params_file(path / PARAMS_FILE)
        if "label_trees" in saved:  # a label tree or an ensemble: see tree_method.py
            device = resolve_device("auto")
            try:
                with _no_pickle_warnings():
                    models = tree_method.load_tree_models(path, saved["label_trees"])
            except NOT_A_CHECKPOINT as exc:
                raise XMCBenchError(
                    f"{_foreign_file(path)}: not a model written by xmcbench"
                ) from exc
            method.tree_models_, method.device_ = models, str(device)
            for model in models:
                model.nets = [net.to(device) for net in model.nets]
            return method
        config = saved["model_config"]
        config = cls.config_class(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
        )
        model = cls.model_class(config)
        weights_file = path / WEIGHTS_FILE
        try:
            with _no_pickle_warnings():
                weights = checkpoint.load(weights_file, "cpu")
        except NOT_A_CHECKPOINT as exc:
            raise XMCBenchError(f"{weights_file}: not a model written by xmcbench") from exc
        try:
            model.load_state_dict(weights)
        except (RuntimeError, TypeError, AttributeError) as exc:  # missing or foreign weights
            detail = " ".join(str(exc).split()) or type(exc).__name__
            detail = detail if len(detail) <= 160 else detail[:159] + "…"
            raise XMCBenchError(
                f"{weights_file}: does not fit the network in {PARAMS_FILE} ({detail})"
            ) from exc
        device = resolve_device("auto")
        method.model_, method.device_ = model.to(device).eval(), str(device)
        return method

    @classmethod
    def _from_params_file(cls, params_file: Path) -> tuple[AttentionXML, dict[str, Any]]:
        """A method built from a saved params.json, and the file's content; errors name it."""
        try:
            saved = json.loads(params_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise XMCBenchError(f"{params_file}: not valid JSON ({exc})") from None
        params = saved.get("params") if isinstance(saved, dict) else None
        if not isinstance(params, dict) or "preset" not in params or "seed" not in params:
            raise XMCBenchError(f"{params_file}: not a model written by xmcbench (no 'params')")
        params = dict(params)
        preset, seed = params.pop("preset"), params.pop("seed")
        params.pop("device", None)
        reason = saved.get("auto_reason")
        unknown = sorted(set(params) - set(cls.fields))
        if unknown:
            raise XMCBenchError(
                f"{params_file}: unknown hyperparameter(s) {', '.join(map(repr, unknown))} for "
                f"{cls.name} (saved by another version of the plugin, or edited?)"
            )
        accepted = inspect.signature(cls).parameters  # a subclass may not take every field
        later = {k: params.pop(k) for k in list(params) if k not in accepted}
        try:
            method = cls(preset, seed=seed, device="auto", **params)
            for key, value in later.items():
                setattr(method, key, value)
            method.hyperparams()  # checks the values set after construction too
        except (TypeError, ValueError) as exc:
            raise XMCBenchError(f"{params_file}: {exc}") from exc
        if reason is not None and method._uses_auto():  # every value is explicit: keep the why
            method.auto_ = auto.AutoChoice({}, str(reason))
        return method, saved

    @staticmethod
    def merge(paths: list[Path]) -> AttentionXML:
        """One ensemble from saved models of separate trees (``tree_id=i`` jobs) of one setting."""
        return tree_method.merge_models(paths)


def _jsonable(value: Any) -> Any:
    """Tuples as lists, mappings with their values converted: what json.dumps writes."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _foreign_file(folder: Path) -> Path:
    """The first weights file under `folder` that torch cannot load safely (else the folder)."""
    for candidate in sorted(folder.rglob("*.pt")):
        try:
            with _no_pickle_warnings():
                checkpoint.load(candidate, "cpu")
        except NOT_A_CHECKPOINT:
            return candidate
    return folder


@contextmanager
def _no_pickle_warnings() -> Iterator[None]:
    """Silence torch's warning about a foreign pickle's protocol: the error will say it all."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        yield
