"""Every AttentionXML hyperparameter in one frozen dataclass, validated once (types and ranges).

They are also grouped into typed sections, built once with the checks and handed whole to the
code that reads them: ``hp.model`` (`ModelParams`, the network), ``hp.training`` (the engine's,
`xmcbench.deep.params.TrainingSection`) and ``hp.tree`` (`TreeParams`, the label tree code in
`levels` and `tree_method`, whose cross-field rules, K a power of two and tree_id among the
trees, are checked there). The names users set, record and save stay flat.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmcbench.deep.params import TRAINING_SPECS, DeepParamsBase, field_names
from xmcbench.errors import ParamError
from xmcbench.paramspec import Param, choice, flag, fraction, integer, integers

ATTENTION_IMPLS = ("fast", "reference")
OPTIMIZERS = ("lazy", "dense")  # see optim.LazyAdam
LEVEL_INITS = ("random", "parent")  # see levels.init_from_level_above


@dataclass(frozen=True)
class ModelParams:
    """The network's shape and regularisation (paper §2.4); `model.model_config` reads it."""

    embedding_dim: int
    hidden_size: int
    fc_sizes: tuple[int, ...]
    embedding_dropout: float
    encoder_dropout: float
    attention_impl: str
    freeze_embedding: bool
    sparse_embedding: bool
    optimizer: str


@dataclass(frozen=True)
class TreeParams:
    """The label tree and ensemble settings (paper §2.2, §2.3, §3.7); see `Hyperparams`."""

    tree_height: int
    tree_k: int
    tree_m: int | None
    candidates: int
    level_candidates: int | None
    trees: int
    tree_id: int | None
    parallel_trees: bool | None
    level_epochs: tuple[int, ...] | None
    level_swa_warmup: tuple[int, ...] | None
    level_init: str

    def __post_init__(self) -> None:
        if self.tree_k & (self.tree_k - 1):
            raise ParamError(f"tree_k must be a power of two (2, 4, 8, ...), got {self.tree_k}")
        if self.tree_id is not None and self.tree_id >= self.trees:
            bound = f"[0, {self.trees}) for trees={self.trees}"
            raise ParamError(f"tree_id must be in {bound}, got {self.tree_id}")

    @property
    def uses_tree(self) -> bool:
        """Whether these settings ask for the label-tree path (a tree, or an ensemble)."""
        return self.tree_height > 0 or self.trees > 1

    def ids(self) -> list[int]:
        """The trees this job trains: all of them, or only `tree_id`."""
        return list(range(self.trees)) if self.tree_id is None else [self.tree_id]

    def epochs_of_level(self, level: int, epochs: int) -> int:
        """`level_epochs[level - 1]` (the last entry for deeper levels), else `epochs`."""
        if not self.level_epochs:
            return epochs
        return self.level_epochs[min(level, len(self.level_epochs)) - 1]

    def swa_warmup_of_level(self, level: int, warmup: float) -> float:
        """`level_swa_warmup[level - 1]` (the last entry for deeper levels), else `warmup`."""
        if not self.level_swa_warmup:
            return warmup
        return self.level_swa_warmup[min(level, len(self.level_swa_warmup)) - 1]


@dataclass(frozen=True)
class Hyperparams(DeepParamsBase):
    """Resolved hyperparameters (a preset overridden by explicit values); paper defaults."""

    # model (paper §2.4, §3.3)
    embedding_dim: int = 300
    embedding_init: str = "ppmi"  # "ppmi", "random", "glove" (GloVe 840B if downloaded) or a file
    freeze_embedding: bool = False
    hidden_size: int = 256  # LSTM units per direction
    fc_sizes: tuple[int, ...] = (256,)  # shared fully connected layers, ReLU after each
    embedding_dropout: float = 0.2
    encoder_dropout: float = 0.5
    attention_impl: str = "fast"  # "fast" (FC1 folded into attention) or "reference"
    max_len: int = 500  # tokens kept per document
    # training (paper §3.3, original code)
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
    time_budget: float | None = None  # seconds of training ("30m", "1h30m", 90); None = no budget
    precision: str = "fp32"  # "fp32", "bf16" (autocast, CPU or GPU) or "fp16" (GPU only)
    sparse_embedding: bool = False  # SparseAdam on a trainable embedding
    # "lazy" (authors' code): embedding rows and the candidates' attention vectors move only in
    # steps that give them a gradient (optim.LazyAdam); "dense": Adam moves every row every step
    optimizer: str = "lazy"
    predict_batch_size: int = 128
    # PPMI + SVD embedding initialisation
    ppmi_window: int = 5
    ppmi_max_words: int = 40_000
    # label tree (paper §2.2, §2.3, §3.7; Table 2): see levels.py
    tree_height: int = 0  # H, levels between root and leaves; 0 = flat (root + L leaves)
    tree_k: int = 8  # K = 2^c, children per node (also the cluster size M unless tree_m)
    tree_m: int | None = None  # M, labels per leaf cluster; None = K
    candidates: int = 160  # C, parents kept per level in training and in beam search
    level_candidates: int | None = None  # fixed candidates per doc at levels > 1; None = C x K
    trees: int = 1  # ensemble size; tree i uses seed + i
    tree_id: int | None = None  # train only tree i of the ensemble (separate jobs); None = all
    # CPU: train the trees at once, a process each (parallel.py); None = when 2+ CPUs are free
    parallel_trees: bool | None = None
    level_epochs: tuple[int, ...] | None = None  # epochs per level, top first; None = epochs
    level_swa_warmup: tuple[int, ...] | None = None  # SWA warm-up per level; None = swa_warmup
    # attention vectors of a level > 1: "random" (the paper's) or "parent" (a copy of the
    # parent node's, so a label starts where its cluster is and needs few examples to move)
    level_init: str = "random"

    @property
    def model(self) -> ModelParams:
        """The network section (`ModelParams`)."""
        return self.section("model")

    @property
    def tree(self) -> TreeParams:
        """The label tree section, checked with the rest (`TreeParams`)."""
        return self.section("tree")


FIELDS: tuple[str, ...] = field_names(Hyperparams)

# The type and range of every hyperparameter: the one place they are checked (Hyperparams).
SPECS: dict[str, Param] = {
    **TRAINING_SPECS,  # the engine's (xmcbench.deep.params)
    "hidden_size": integer(1),
    "fc_sizes": integers(1),
    "encoder_dropout": fraction(),
    "attention_impl": choice(*ATTENTION_IMPLS),
    "optimizer": choice(*OPTIMIZERS),
    "tree_height": integer(0),
    "tree_k": integer(2),
    "tree_m": integer(1, optional=True),
    "candidates": integer(1),
    "level_candidates": integer(1, optional=True),
    "trees": integer(1),
    "tree_id": integer(0, optional=True),
    "parallel_trees": flag(optional=True),
    "level_epochs": integers(1, optional=True),
    "level_swa_warmup": integers(0, optional=True),
    "level_init": choice(*LEVEL_INITS),
}
Hyperparams.specs = SPECS  # read by DeepParamsBase.__post_init__ and `describe`
# the typed parts, built by DeepParamsBase.__post_init__ ("training": the toolkit's)
Hyperparams.sections = {"model": ModelParams, **Hyperparams.sections, "tree": TreeParams}
