"""Every AttentionXML hyperparameter in one frozen dataclass, validated once (types and ranges).

They are also grouped into typed sections, built once with the checks and handed whole to the
code that reads them: ``hp.model`` (`ModelParams`, the network), ``hp.training`` (the engine's,
`xmcbench.deep.params.TrainingSection`), the toolkit's "data", "embedding" and "prediction"
sections (`xmcbench.deep.params.SHARED_SECTIONS`) and ``hp.tree`` (`TreeParams`, the label tree
code in `levels` and `tree_method`, whose cross-field rules, K a power of two and tree_id among
the trees, are checked there). The names users set, record and save stay flat.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmcbench.deep.params import TRAINING_SPECS, TrainingParams, field_names
from xmcbench.errors import ParamError
from xmcbench.paramspec import Param, choice, flag, fraction, integer, integers, number

ATTENTION_IMPLS = ("fast", "reference")
OPTIMIZERS = ("lazy", "dense")  # see optim.LazyAdam
LEVEL_INITS = ("random", "parent")  # see levels.init_from_level_above
CHOOSE_EXPONENT = 0.0  # path_exponent: chosen on the validation documents (path.py)


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
    path_exponent: float

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
class Hyperparams(TrainingParams):
    """Resolved hyperparameters (a preset overridden by explicit values); paper defaults.

    The toolkit's fields come first, declared once in `TrainingParams` (embedding, text length,
    batching, the engine, prediction), whose defaults are the paper's (§3.3) and the original
    code's; then the network's and the label tree's.
    """

    # model (paper §2.4, §3.3)
    hidden_size: int = 256  # LSTM units per direction
    fc_sizes: tuple[int, ...] = (256,)  # shared fully connected layers, ReLU after each
    encoder_dropout: float = 0.5
    attention_impl: str = "fast"  # "fast" (FC1 folded into attention) or "reference"
    # "lazy" (authors' code): embedding rows and the candidates' attention vectors move only in
    # steps that give them a gradient (optim.LazyAdam); "dense": Adam moves every row every step
    optimizer: str = "lazy"
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
    # a label's score is its own probability times its ancestors' path probability to this
    # power: 1 is the paper's eq. 1; 0: chosen on the validation documents after training
    # (`path.choose_exponent`)
    path_exponent: float = 1.0

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
    "hidden_size": integer(1, help="LSTM units per direction of the BiLSTM encoder"),
    "fc_sizes": integers(1, help="sizes of the fully connected layers after attention (ReLU)"),
    "encoder_dropout": fraction(help="dropout rate on the BiLSTM's outputs"),
    "attention_impl": choice(
        *ATTENTION_IMPLS,
        help="fast (same maths, first layer before attention) or reference (the paper's order)",
    ),
    "optimizer": choice(
        *OPTIMIZERS,
        help="lazy: only rows with a gradient move in a step (authors' code); dense: plain Adam",
    ),
    "tree_height": integer(
        0, help="levels of the label tree below the root; 0: flat, one output per label"
    ),
    "tree_k": integer(
        2, help="children per tree node, a power of two (and labels per leaf unless tree_m)"
    ),
    "tree_m": integer(1, optional=True, help="labels per leaf cluster (none: tree_k)"),
    "candidates": integer(
        1, help="parent nodes kept per document at each level, in training and beam search"
    ),
    "level_candidates": integer(
        1,
        optional=True,
        help="candidate nodes per document below level 1 (none: candidates x tree_k)",
    ),
    "trees": integer(1, help="trees in the ensemble; tree i is trained with seed + i"),
    "tree_id": integer(
        0,
        optional=True,
        help="train only tree i of the ensemble, for separate jobs joined by merge (none: all)",
    ),
    "parallel_trees": flag(
        optional=True,
        help="on CPU, train the trees at once, a process each (none: when 2+ CPUs are free)",
    ),
    "level_epochs": integers(
        1,
        optional=True,
        help="epochs per tree level, top first, the last for deeper levels (none: epochs)",
    ),
    "level_swa_warmup": integers(
        0, optional=True, help="SWA warm-up epochs per tree level, top first (none: swa_warmup)"
    ),
    "level_init": choice(
        *LEVEL_INITS,
        help="deeper levels' attention vectors start random (the paper's) or as their parent's",
    ),
    "path_exponent": number(
        0.0, help="a in score = p(label) x p(ancestors)^a; 1: the paper's; 0: chosen on validation"
    ),
}
Hyperparams.specs = SPECS  # read by DeepParamsBase.__post_init__ and `describe`
# the typed parts, built by DeepParamsBase.__post_init__ (data, embedding, training, prediction:
# the toolkit's); every field is in one of them
Hyperparams.sections = {"model": ModelParams, **Hyperparams.sections, "tree": TreeParams}
