"""Hyperparameters every deep method shares with the engine: their specs and a dataclass base.

A method's hyperparameters are one frozen dataclass deriving from `DeepParamsBase`, whose
``specs`` map every field to its type and range (`xmcbench.paramspec`): the one place they are
checked. `TRAINING_SPECS` are the specs of the fields the toolkit itself reads (engine, batching,
embedding initialisation, prediction), so methods spell and check them alike.

The fields stay flat (``--set hidden_size=128``, `get_params()`, params.json and presets spell
them so); ``sections`` groups them into typed parts (a label tree's settings, say), each a
frozen dataclass built once, right after the checks, and read as ``hp.section("tree")``: code
that needs one part takes that part whole, and cross-field rules live in its ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from xmcbench.paramspec import Param, check_params, choice, flag, fraction, integer, number, text

from .budget import duration, format_duration

PRECISIONS = ("fp32", "bf16", "fp16")

TRAINING_SPECS: dict[str, Param] = {
    "embedding_dim": integer(1),
    "embedding_init": text(),
    "freeze_embedding": flag(),
    "embedding_dropout": fraction(),
    "max_len": integer(1),
    "epochs": integer(1),
    "batch_size": integer(1),
    "lr": number(0, low_open=True),
    "swa": flag(),
    "swa_warmup": number(0),
    "eval_every": integer(1),
    "patience": integer(1),
    "clip_factor": number(0),
    "clip_window": integer(1),
    "valid_size": integer(1),
    "max_steps": integer(1, optional=True),
    "time_budget": duration(),
    "precision": choice(*PRECISIONS),
    "sparse_embedding": flag(),
    "predict_batch_size": integer(1),
    "ppmi_window": integer(1),
    "ppmi_max_words": integer(1),
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


class DeepParamsBase:
    """Mixin of a frozen hyperparameter dataclass: checks every field on creation, as_dict."""

    specs: ClassVar[dict[str, Param]] = TRAINING_SPECS
    # section name -> frozen dataclass whose fields are some of these (see the module's note)
    sections: ClassVar[dict[str, type]] = {"training": TrainingSection}

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
    """Every field the toolkit reads, with the paper's defaults: a new method's params derive
    from it and add their network's fields (each with a default and a spec)."""

    embedding_dim: int = 300
    embedding_init: str = "ppmi"  # "ppmi", "random", "glove" or a GloVe/word2vec text file
    freeze_embedding: bool = False
    embedding_dropout: float = 0.2
    max_len: int = 500  # tokens kept per document
    epochs: int = 30
    batch_size: int = 40
    lr: float = 1e-3
    swa: bool = True
    swa_warmup: float = 10  # epochs before SWA starts averaging
    eval_every: int = 100  # steps between validations (at least once per epoch)
    patience: int = 50  # validations without nDCG@5 gain before stopping
    clip_factor: float = 5.0  # clip to this x the recent gradient norms; 0 disables
    clip_window: int = 5
    valid_size: int = 200  # validation docs (carved from train when no valid split is given)
    max_steps: int | None = None
    time_budget: float | None = None  # seconds of training ("30m", "1h30m", 90); None = none
    precision: str = "fp32"  # "fp32", "bf16" or "fp16" (GPU only)
    sparse_embedding: bool = False
    predict_batch_size: int = 128
    ppmi_window: int = 5
    ppmi_max_words: int = 40_000


def field_names(params: type) -> tuple[str, ...]:
    """The hyperparameter names of a parameter dataclass, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(params))
