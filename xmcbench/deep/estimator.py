"""`DeepEstimator`: fit, predict, save, load and parameters of a flat network over every label.

Every deep method of xmcbench is a small subclass, scikit-learn style: its hyperparameters are
the fields of one frozen dataclass (`params_class`, deriving from `params.DeepParamsBase`),
declared there once; the constructor takes each of them by name (stored unresolved, None = the
preset's value), and its signature, which `inspect`, `help()` and the harness read, is made
from the dataclass (`params.keyword_signature`), so no subclass copies the list. Its presets are a
mapping; its one job is to build its network:

* `network_config(hp, vocab_size, n_labels)`: the network's shape, spelled field by field (a
  renamed field fails loudly instead of falling back to a default), a frozen dataclass saved in
  params.json and read back by `load`;
* `network_class(config, embedding)`: the `nn.Module`; its ``forward(tokens, lengths)`` gives
  (b, L) logits, it keeps `config`, and ``set_label_prior(rate)`` when it has one starts the
  output at the labels' mean frequency.

Training is the toolkit's (`engine.Trainer`: Adam or LazyAdam, adaptive clipping, optional SWA,
early stopping on validation nDCG@5, time budgets, checkpoints, resume, SIGTERM, torchrun data
parallelism), as are PPMI+SVD embedding initialisation, batching and top-k prediction.
Optional capabilities (attention weights, merging) are a subclass's own methods, declared as in
`xmcbench.capabilities`, never inherited from here.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from xmcbench.errors import XMCBenchError
from xmcbench.io import write_json
from xmcbench.paramspec import flag
from xmcbench.types import Split, TopK

from . import budget, checkpoint, distributed
from .batching import FlatTrainingData, validation_split
from .distributed import resolve_device
from .embedding_init import initial_embeddings
from .engine import TrainConfig, Trainer
from .params import (
    DeepParamsBase,
    field_names,
    keyword_signature,
    passes_hyperparams_on,
    with_keyword_signature,
)
from .predict import PredictConfig, flat_evaluator, predict_topk
from .presets import resolve_preset
from .saving import PARAMS_FILE, WEIGHTS_FILE, load_weights, read_params, save_weights

__all__ = ["DeepEstimator", "predict_config", "resolve_device", "train_config"]


def train_config(hp: DeepParamsBase, progress: bool, **overrides: Any) -> TrainConfig:
    """The engine's settings: a method's "training" section whole, then `overrides` (a
    level's epochs, what is left of the time budget)."""
    values = dataclasses.asdict(hp.training)
    return TrainConfig(**{**values, **overrides}, progress=progress)


def predict_config(hp: Any, device: torch.device) -> PredictConfig:
    """How to run a network over a split, from a method's resolved hyperparameters."""
    return PredictConfig(hp.max_len, hp.predict_batch_size, device, hp.precision)


class DeepEstimator:
    """Base of the deep methods: a flat network over every label, trained by the engine.

    A subclass sets `name`, `label` (for messages), `version` (its plugin's), `params_class`,
    `presets`, `default_preset`, `network_class` and `config_class`, and defines
    `network_config`. It needs no ``__init__``: ``Method(preset, seed=, device=, progress=,
    **hyperparameters)`` is this class's, and a subclass's own ``__init__(self, preset=None,
    **params)`` that passes them on keeps the dataclass's keyword signature too (one that names
    its hyperparameters itself keeps its own).
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""  # as messages spell the method ("XML-CNN")
    version: ClassVar[str] = "0"  # of the plugin, written into params.json
    params_class: ClassVar[type]
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    default_preset: ClassVar[str | None] = None
    network_class: ClassVar[Callable[..., nn.Module]]
    config_class: ClassVar[Callable[..., Any]]
    fields: ClassVar[tuple[str, ...]] = ()  # the hyperparameter names (set from params_class)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "params_class" in cls.__dict__:
            cls.fields = field_names(cls.params_class)
        init = getattr(cls.__init__, "passes_to", cls.__init__)  # under a made signature
        if cls.fields and passes_hyperparams_on(init):
            settings = inspect.signature(DeepEstimator.__init__)
            signature = keyword_signature(settings, cls.params_class)
            name = f"{cls.__qualname__}.__init__"
            cls.__init__ = with_keyword_signature(init, signature, name)  # type: ignore[method-assign]

    def __init__(
        self,
        preset: str | None = None,
        *,
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
        **params: Any,
    ) -> None:
        """A preset (None: the default one), the harness's settings, then hyperparameters by
        name (None: the preset's value); a name `params_class` lacks is a TypeError."""
        self._setup(preset, seed, device, progress, params)

    @classmethod
    def network_config(cls, hp: Any, vocab_size: int, n_labels: int) -> Any:
        """The network's shape for `vocab_size` words and `n_labels` outputs (a subclass's)."""
        raise NotImplementedError(f"{cls.__name__} does not say how to build its network")

    @classmethod
    def build_network(cls, config: Any, embedding: np.ndarray | None = None) -> nn.Module:
        """The network for `config`, its word embedding initialised from `embedding` if given."""
        return cls.network_class(config, embedding)

    # ------------------------------------------------------------------ parameters
    def _setup(
        self, preset: str | None, seed: int, device: str, progress: bool, given: dict[str, Any]
    ) -> None:
        """Store the settings and the explicit hyperparameters (None = the preset's)."""
        flag().check("progress", progress)  # the one setting outside the hyperparameters
        unknown = sorted(set(given) - set(self.fields))
        if unknown:  # a misspelled keyword, or an __init__ passing a name its dataclass lacks
            close = difflib.get_close_matches(unknown[0], self.fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"unknown {self.label or self.name} hyperparameter(s): {unknown}{hint}")
        self.preset, self.seed, self.device, self.progress = preset, seed, device, progress
        for key in self.fields:  # a field the subclass's __init__ does not take: the preset's
            setattr(self, key, given.get(key))
        self.resolve_params(preset, given)  # fail early on a bad preset or value
        self.step_callback: Callable[[int], None] | None = None  # called after each step (tests)
        self.model_: nn.Module | None = None
        self.device_: str | None = None  # the device actually used, once fitted or loaded
        self.history_: list[dict[str, float]] = []
        self.training_summary_: dict[str, Any] | None = None  # budget, seconds, stop reason

    @classmethod
    def resolve_params(cls, preset: str | None, explicit: Mapping[str, Any]) -> tuple[str, Any]:
        """The preset name used and the resolved hyperparameters (preset + explicit values)."""
        label = cls.label or cls.name
        default = cls.default_preset or next(iter(cls.presets), "")
        return resolve_preset(label, cls.params_class, cls.presets, default, preset, explicit)

    def explicit_params(self) -> dict[str, Any]:
        """The hyperparameters as given (None = unset, the preset's)."""
        return {k: getattr(self, k) for k in self.fields}

    def _resolved(self) -> tuple[str, Any]:
        """(preset name, hyperparameters)."""
        return self.resolve_params(self.preset, self.explicit_params())

    def hyperparams(self) -> Any:
        """The resolved hyperparameters: preset values overridden by the explicit ones."""
        return self._resolved()[1]

    def get_params(self) -> dict[str, Any]:
        """Effective hyperparameters as the harness records them (preset name, seed, device too)."""
        preset, hp = self._resolved()
        device = str(resolve_device(self.device))
        return {"preset": preset, **hp.as_dict(), "seed": self.seed, "device": device}

    def preflight(self) -> None:
        """Cheap checks before the harness loads any data: the device and the embedding file."""
        resolve_device(self.device)
        init = self.hyperparams().embedding_init
        if init not in ("ppmi", "random", "glove") and not Path(init).expanduser().is_file():
            raise ValueError(
                f"embedding_init must be 'ppmi', 'random', 'glove' or a file, got {init!r}"
            )

    @classmethod
    def describe(cls, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every hyperparameter (default, type, range, section, meaning) and every preset's values.

        Read by `xmcbench methods NAME`; `fixed` are a registered alias's parameters.
        """
        fixed = dict(fixed or {})
        resolved = {name: cls.resolve_params(name, fixed)[1] for name in cls.presets}
        specs = getattr(cls.params_class, "specs", {})
        section_of = getattr(cls.params_class, "section_of", lambda name: None)
        params = []
        for f in dataclasses.fields(cls.params_class):
            default = f.default
            kind = specs[f.name].describe() if f.name in specs else str(f.type)
            if f.name == "time_budget":
                default = budget.format_duration(default)
            params.append(
                {
                    "name": f.name,
                    "default": _jsonable(default),
                    "type": kind,
                    "section": section_of(f.name),  # the typed part it belongs to
                    "help": specs[f.name].help if f.name in specs else "",  # its meaning
                }
            )
        order = list(getattr(cls.params_class, "sections", {}))  # model first, tree last
        params.sort(
            key=lambda p: order.index(p["section"]) if p["section"] in order else len(order)
        )
        return {
            "method": cls.name,
            "default_preset": cls.default_preset,
            "fixed": _jsonable(fixed),
            "params": params,
            "presets": {name: hp.as_dict() for name, hp in resolved.items()},
            "notes": cls._describe_notes(),
        }

    @classmethod
    def _describe_notes(cls) -> dict[str, str]:
        """Notes on presets for `describe` (none by default)."""
        return {}

    # ------------------------------------------------------------------ fit / predict
    def fit(self, train: Split, valid: Split | None, workdir: Path) -> None:
        """Train on `train`, validating on `valid` (or on documents held out of `train`).

        Under torchrun this trains data-parallel (`batch_size` documents per process and step).
        """
        device = distributed.init(resolve_device(self.device))  # cuda:LOCAL_RANK under torchrun
        self._fit_network(train, valid, Path(workdir), device)

    def _fit_network(
        self, train: Split, valid: Split | None, workdir: Path, device: torch.device
    ) -> None:
        """Train the flat network into `workdir`, resuming a checkpoint of the same settings."""
        hp, started = self.hyperparams(), budget.now()
        train, valid = validation_split(train, valid, hp.valid_size)
        config = self.network_config(hp, len(train.vocab), train.n_labels)
        run = {
            "params": hp.as_dict(), "seed": self.seed, "device": device.type,
            "n_train": len(train), "n_valid": len(valid), "model": dataclasses.asdict(config),
            "label_nnz": int(train.labels.nnz), "tokens": len(train.tokens),
            **distributed.run_settings(),
        }  # fmt: skip
        fingerprint = checkpoint.fingerprint(run)
        summary = distributed.from_main(checkpoint.read_summary, workdir)
        resuming = summary is not None and summary["fingerprint"] == fingerprint

        torch.manual_seed(self.seed)
        embedding = None
        if not resuming:  # a resumed run loads its weights from the checkpoint instead
            embedding = initial_embeddings(
                hp.embedding_init, train, hp.embedding_dim, seed=self.seed,
                window=hp.ppmi_window, max_words=hp.ppmi_max_words, max_len=hp.max_len,
            )  # fmt: skip
        model = self.build_network(config, embedding)
        set_prior = getattr(model, "set_label_prior", None)  # output bias at the label frequency
        if callable(set_prior):
            set_prior(train.labels.nnz / max(1, len(train) * train.n_labels))
        model = model.to(device)
        left = budget.left_after_setup(hp.time_budget, started)  # the embeddings count too
        settings = train_config(hp, self.progress, time_budget=left)
        trainer = Trainer(model, settings, device, workdir, fingerprint, self.step_callback)
        global_batch = hp.batch_size * distributed.world_size()  # split across the processes
        data = FlatTrainingData(train, global_batch, hp.max_len, self.seed)
        state = trainer.fit(data, flat_evaluator(valid, predict_config(hp, device)))
        self.model_, self.history_, self.device_ = model.eval(), state.history, str(device)
        self.training_summary_ = budget.summary(
            hp.time_budget,
            [{"train_s": round(state.elapsed_s, 3), "stopped_by": state.stopped_by}],
        )

    def predict(self, test: Split, k: int) -> TopK:
        """Top-k labels (int32) and sigmoid scores (float32) per test document."""
        if self.model_ is None:
            raise RuntimeError(f"{type(self).__name__}.predict called before fit or load")
        device = next(self.model_.parameters()).device
        config = predict_config(self.hyperparams(), device)
        return predict_topk(self.model_, test, k, config, self.model_.config.n_labels)

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        """A folder with the weights (weights.pt) and the parameters (params.json)."""
        if self.model_ is None:
            raise RuntimeError(f"{type(self).__name__}.save called before fit or load")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_weights(self.model_, path / WEIGHTS_FILE)
        config = dataclasses.asdict(self.model_.config)
        self._write_params(path, model_config=config)

    def _write_params(self, path: Path, **content: Any) -> None:
        """params.json: method, plugin version, resolved hyperparameters, then `content`."""
        header = {"method": self.name, "plugin_version": self.version}
        write_json(
            Path(path) / PARAMS_FILE,
            {**header, "params": self.get_params(), **content, **self._saved_notes()},
        )

    def _saved_notes(self) -> dict[str, Any]:
        """What params.json keeps beyond the parameters and the network (none by default)."""
        return {}

    @classmethod
    def load(cls, path: Path) -> DeepEstimator:
        """Rebuild a saved model; it runs on CUDA when available."""
        path = Path(path)
        method, saved = cls._from_params_file(path / PARAMS_FILE)
        method._restore(path, saved)
        return method

    def _restore(self, path: Path, saved: dict[str, Any]) -> None:
        """Load the saved network of `path` (described by `saved`, its params.json)."""
        config = saved.get("model_config")
        if not isinstance(config, dict):
            raise XMCBenchError(f"{path / PARAMS_FILE}: no 'model_config' (not a saved network)")
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
        try:
            shape = self.config_class(**config)
        except TypeError as exc:  # a field renamed or gone since the model was saved
            raise XMCBenchError(f"{path / PARAMS_FILE}: model_config does not fit ({exc})") from exc
        model = load_weights(self.build_network(shape), path / WEIGHTS_FILE)
        device = resolve_device("auto")
        self.model_, self.device_ = model.to(device).eval(), str(device)

    @classmethod
    def _from_params_file(cls, params_file: Path) -> tuple[Any, dict[str, Any]]:
        """A method built from a saved params.json, and the file's content; errors name it."""
        preset, seed, params, saved = read_params(params_file)
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
        method._restore_notes(saved)
        return method, saved

    def _restore_notes(self, saved: dict[str, Any]) -> None:
        """Take back what `_saved_notes` wrote (nothing by default)."""


def _jsonable(value: Any) -> Any:
    """Tuples as lists, mappings with their values converted: what json.dumps writes."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
