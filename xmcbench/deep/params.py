"""Hyperparameters every deep method shares with the engine: their specs and a dataclass base.

A method's hyperparameters are one frozen dataclass deriving from `TrainingParams` (the fields
the toolkit itself reads, declared once here: embedding, batching, engine, prediction), whose
``specs`` map every field to its type, range and one-line meaning (`xmcbench.paramspec`): the
one place they are checked. `TRAINING_SPECS` are the toolkit's, so methods spell and check them
alike. The estimator's constructor takes every field by name: `keyword_signature` makes its
signature from the dataclass, so no method copies the list.

The fields stay flat (``--set hidden_size=128``, `get_params()`, params.json and presets spell
them so); ``sections`` groups them into typed parts, each a frozen dataclass built once, right
after the checks, and read as ``hp.section("tree")``: code that needs one part takes that part
whole, and cross-field rules live in its ``__post_init__``. Every field is in exactly one
section: the toolkit's "data", "embedding", "training" and "prediction" (`SHARED_SECTIONS`),
a method's "model" (its network) and, for label trees, "tree"; `xmcbench methods NAME` shows
each parameter's section and its one-line meaning (its spec's ``help``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from xmcbench.paramspec import Param, check_params, choice, flag, fraction, integer, number, text

from .budget import duration, format_duration

PRECISIONS = ("fp32", "bf16", "fp16")

TRAINING_SPECS: dict[str, Param] = {
    "embedding_dim": integer(1, help="size of each word vector"),
    "embedding_init": text(
        help="how word vectors start: ppmi (from the training text), random, glove or a file"
    ),
    "freeze_embedding": flag(help="keep the initial word vectors fixed during training"),
    "embedding_dropout": fraction(help="dropout rate on the word vectors"),
    "max_len": integer(1, help="tokens kept per document (the rest is cut off)"),
    "epochs": integer(1, help="passes over the training documents, at most"),
    "batch_size": integer(1, help="documents per training step (per process under torchrun)"),
    "lr": number(0, low_open=True, help="learning rate of Adam"),
    "swa": flag(
        help="stochastic weight averaging: predict with the weights averaged after warm-up"
    ),
    "swa_warmup": number(0, help="epochs of training before SWA starts averaging (0.5: mid-epoch)"),
    "eval_every": integer(1, help="training steps between validations (at least one per epoch)"),
    "patience": integer(1, help="validations without a gain in nDCG@5 before training stops"),
    "clip_factor": number(
        0, help="clip gradients to this multiple of the recent gradient norms; 0 turns it off"
    ),
    "clip_window": integer(1, help="how many recent gradient norms the clipping threshold uses"),
    "valid_size": integer(
        1, help="validation documents held out of train when the dataset has no validation split"
    ),
    "max_steps": integer(
        1, optional=True, help="stop after this many training steps (none: no cap)"
    ),
    "time_budget": duration().with_help(
        "training time allowed, such as 30m or 2h (none: no limit)"
    ),
    "precision": choice(
        *PRECISIONS, help="arithmetic: fp32, bf16 (autocast, CPU or GPU) or fp16 (GPU only)"
    ),
    "sparse_embedding": flag(help="sparse gradients and SparseAdam for a trainable embedding"),
    "predict_batch_size": integer(1, help="documents per batch when predicting"),
    "ppmi_window": integer(1, help="words on each side that count as co-occurring, for ppmi"),
    "ppmi_max_words": integer(
        1, help="most frequent words given PPMI+SVD vectors (the others start random)"
    ),
}


@dataclass(frozen=True)
class TrainingSection:
    """The engine's hyperparameters (section "training" of every deep method): what
    `estimator.train_config` turns into the engine's `TrainConfig`, in one place."""

    epochs: int
    lr: float
    swa: bool
    swa_warmup: float
    eval_every: int
    patience: int
    clip_factor: float
    clip_window: int
    max_steps: int | None
    precision: str
    time_budget: float | None


@dataclass(frozen=True)
class DataSection:
    """How documents feed the network (section "data"): their length, the documents per step
    and the validation documents carved from train when the dataset has no validation split."""

    max_len: int
    batch_size: int
    valid_size: int


@dataclass(frozen=True)
class EmbeddingSection:
    """How the word vectors start (section "embedding"): `embedding_init.initial_embeddings`."""

    embedding_init: str
    ppmi_window: int
    ppmi_max_words: int


@dataclass(frozen=True)
class PredictionSection:
    """How a trained network is run over a split (section "prediction")."""

    predict_batch_size: int


# the sections of every deep method's hyperparameters beside its own "model" (and "tree")
SHARED_SECTIONS: dict[str, type] = {
    "data": DataSection,
    "embedding": EmbeddingSection,
    "training": TrainingSection,
    "prediction": PredictionSection,
}


class DeepParamsBase:
    """Mixin of a frozen hyperparameter dataclass: checks every field on creation, as_dict."""

    specs: ClassVar[dict[str, Param]] = TRAINING_SPECS
    # section name -> frozen dataclass whose fields are some of these (see the module's note)
    sections: ClassVar[dict[str, type]] = SHARED_SECTIONS

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        for name, value in check_params(values, self.specs).items():  # types, ranges; 3.0 -> 3
            object.__setattr__(self, name, value)
        built = {  # after the checks: a section's own rules see normalised values
            name: kind(**{key: getattr(self, key) for key in field_names(kind)})
            for name, kind in self.sections.items()
        }
        object.__setattr__(self, "_sections", built)

    @property
    def training(self) -> TrainingSection:
        """The engine's section (`TrainingSection`)."""
        return self.section("training")

    @property
    def data(self) -> DataSection:
        """Text length, batching and validation size (`DataSection`)."""
        return self.section("data")

    @property
    def embedding(self) -> EmbeddingSection:
        """How the word vectors start (`EmbeddingSection`)."""
        return self.section("embedding")

    @property
    def prediction(self) -> PredictionSection:
        """How a trained network is run over a split (`PredictionSection`)."""
        return self.section("prediction")

    def section(self, name: str) -> Any:
        """The typed part `name` of these hyperparameters (built once, with the checks)."""
        return self.__dict__["_sections"][name]

    @classmethod
    def section_of(cls, field: str) -> str | None:
        """The section a hyperparameter belongs to, None when it is in none."""
        for name, kind in cls.sections.items():
            if field in field_names(kind):
                return name
        return None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples become lists, the time budget "30m" or "none")."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
        out["time_budget"] = format_duration(out.get("time_budget"))
        return out


@dataclass(frozen=True)
class TrainingParams(DeepParamsBase):
    """Every field the toolkit reads, declared once, with the paper's defaults: each deep
    method's hyperparameters derive from it (overriding a default where the method's differs)
    and add their network's fields, each with a default and a spec."""

    embedding_dim: int = 300
    embedding_init: str = "ppmi"  # "ppmi", "random", "glove" (GloVe 840B if downloaded) or a file
    freeze_embedding: bool = False
    embedding_dropout: float = 0.2
    max_len: int = 500  # tokens kept per document
    epochs: int = 30
    batch_size: int = 40
    lr: float = 1e-3
    swa: bool = True
    swa_warmup: float = 10  # epochs before SWA starts averaging (0.5 = mid first epoch)
    eval_every: int = 100  # steps between validations (at least once per epoch)
    patience: int = 50  # validations without nDCG@5 gain before stopping
    clip_factor: float = 5.0  # clip to this x the recent gradient norms; 0 disables
    clip_window: int = 5  # how many recent norms the clipping threshold remembers
    valid_size: int = 200  # validation docs (carved from train when no valid split is given)
    max_steps: int | None = None  # optional cap on optimizer steps (a budget)
    time_budget: float | None = None  # seconds of training ("30m", "1h30m", 90); None = none
    precision: str = "fp32"  # "fp32", "bf16" (autocast, CPU or GPU) or "fp16" (GPU only)
    sparse_embedding: bool = False  # SparseAdam on a trainable embedding
    predict_batch_size: int = 128
    ppmi_window: int = 5  # PPMI + SVD embedding initialisation
    ppmi_max_words: int = 40_000


def field_names(params: type) -> tuple[str, ...]:
    """The hyperparameter names of a parameter dataclass, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(params))


# ---------------------------------------------------------------- the constructor's keywords
def keyword_signature(settings: inspect.Signature, params: type) -> inspect.Signature:
    """`settings` (an estimator's ``self, preset, *, seed, device, progress, **params``) with
    ``**params`` spelled out: every field of the dataclass `params`, keyword-only, None."""
    kept = [p for p in settings.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    fields = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,  # None: the preset's value
            annotation=f.type if "None" in str(f.type) else f"{f.type} | None",
        )
        for f in dataclasses.fields(params)
    ]
    return inspect.Signature([*kept, *fields])


def passes_hyperparams_on(init: Callable[..., None]) -> bool:
    """Whether the constructor `init` takes the hyperparameters as ``**params``, naming none."""
    params = list(inspect.signature(init).parameters.values())[1:]  # without self
    named = {p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return takes_any and named <= {"preset", "seed", "device", "progress"}


def with_keyword_signature(
    init: Callable[..., None], signature: inspect.Signature, qualname: str
) -> Callable[..., None]:
    """`init` as it is, under `signature`: what `inspect.signature(Class)`, `help()` and the
    harness's check of ``--set`` names read (`passes_to` is `init` itself)."""

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)

    __init__.__qualname__ = qualname
    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.passes_to = init  # type: ignore[attr-defined]
    return __init__
