"""What plugins register: methods, datasets and metrics, looked up by name or alias."""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from .errors import PluginError, UnknownNameError, XMCBenchError
from .metrics import PROPENSITY_A, PROPENSITY_B


def import_object(reference: str) -> Any:
    """Import ``"package.module:attribute"`` lazily (so listing never imports torch)."""
    module_name, _, attribute = reference.partition(":")
    if not attribute:
        raise ValueError(f"expected 'package.module:attribute', got {reference!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class MethodSpec:
    """A method: a name, a lazy class reference, and fixed parameters (for aliases like *-noswa).

    The optional metadata feeds the paper-style reports: `param_labels` gives the symbols tables
    print for parameters (``{"tree_k": "K"}``, in the order Table 2 lists them), `tags` what kind
    of method it is (``"tree-based"`` methods make Figure 2), and `ablation_column` the column
    of the paper's Table 4 this method fills (``"XML-CNN"``, ``"BiLSTM"``, ``"BiLSTM+Att"``,
    ``"BiLSTM+Att+SWA"``).
    """

    name: str
    factory: str  # "package.module:Class"
    description: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)  # fixed overrides of the class defaults
    plugin: str = ""
    param_labels: Mapping[str, str] = field(default_factory=dict)  # param name -> table symbol
    tags: tuple[str, ...] = ()
    ablation_column: str = ""

    def load(self) -> type:
        return import_object(self.factory)


@dataclass(frozen=True)
class Source:
    """One downloadable file of a dataset. sha256 None: recorded on first download, then checked."""

    url: str
    filename: str
    sha256: str | None = None
    kind: str = "http"  # "http" or "gdrive" (Google Drive file id in url, confirm step)
    extract: bool = True  # unpack archives (.tar.gz, .zip) after download
    name: str = ""  # which mirror this is, e.g. "pecos" or "attentionxml"


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: where its files come from (sources, a local builder) and how to score it."""

    name: str
    title: str = ""
    aliases: tuple[str, ...] = ()
    description: str = ""
    valid_size: int | None = None  # documents carved from train for validation
    propensity_a: float = PROPENSITY_A
    propensity_b: float = PROPENSITY_B
    stats: Mapping[str, float] = field(default_factory=dict)  # the paper's Table 1 row
    sources: tuple[Source, ...] = ()
    builder: str | None = None  # "module:function" writing the files into a folder, no network
    builder_args: Mapping[str, Any] = field(default_factory=dict)
    card: Path | None = None  # the card file this spec was read from
    plugin: str = ""


PLUGIN_METRIC_ORDER = 100  # a plugin's metric goes after the built-in ones unless it says
UNKNOWN_METRIC_ORDER = 1_000_000  # a record's metric no loaded plugin registers: last


@dataclass(frozen=True)
class MetricSpec:
    """A metric family evaluated at each k: ``function(pred (n,k), truth csr, k, inv_prop)``.

    `label` is what tables print before ``@k`` (``"N"`` for ndcg; the name upper-cased when
    empty), `order` places the family among the others in tables (lower first; the built-ins
    use 0-3), and `higher_is_better` says which end of a column is best (bold, ranking).
    """

    name: str
    function: Callable[..., float]
    needs_propensity: bool = False
    description: str = ""
    plugin: str = ""
    label: str = ""
    order: int = PLUGIN_METRIC_ORDER
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if not _METRIC_NAME.match(self.name):
            raise ValueError(f"metric name {self.name!r} must be lower-case [a-z0-9_-], no '@'")
        if not self.label:
            object.__setattr__(self, "label", self.name.upper())


_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


T = TypeVar("T", MethodSpec, DatasetSpec, MetricSpec)


class Registry(Generic[T]):
    """Name -> spec, with aliases; duplicate names are an error naming both plugins."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def add(self, spec: T, aliases: tuple[str, ...] = ()) -> None:
        for key in (spec.name, *aliases):
            owner = self._owner(key)
            if owner is not None:
                raise PluginError(
                    f"{self.kind} {key!r} is registered twice: by plugin {owner.plugin!r} "
                    f"and by plugin {spec.plugin!r}"
                )
        self._items[spec.name] = spec
        for alias in aliases:
            self._aliases[alias] = spec.name

    def _owner(self, key: str) -> T | None:
        name = self._aliases.get(key, key)
        return self._items.get(name)

    def get(self, name: str) -> T:
        spec = self._owner(name) or self._owner(name.lower())
        if spec is None:
            raise UnknownNameError(self.kind, name, [*self._items, *self._aliases])
        return spec

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._owner(name) is not None

    def __iter__(self) -> Iterator[T]:
        return iter(sorted(self._items.values(), key=lambda spec: spec.name))

    def __len__(self) -> int:
        return len(self._items)

    def aliases_of(self, name: str) -> list[str]:
        return sorted(alias for alias, target in self._aliases.items() if target == name)

    def snapshot(self) -> tuple[dict[str, T], dict[str, str]]:
        """A copy of the contents, for `restore` to undo a plugin's partial registration."""
        return dict(self._items), dict(self._aliases)

    def restore(self, snapshot: tuple[dict[str, T], dict[str, str]]) -> None:
        """Put back the contents `snapshot` copied (later additions are dropped)."""
        self._items, self._aliases = dict(snapshot[0]), dict(snapshot[1])


class MetricRegistry(Registry[MetricSpec]):
    """The metric families, and what tables need of a record's metric name (``ndcg@3``).

    Names a record holds but no loaded plugin registers still get a label (upper-cased), a place
    (after every registered family) and a direction (higher is better).
    """

    def __init__(self) -> None:
        super().__init__("metric")

    def family(self, metric: str) -> MetricSpec | None:
        """The spec of a record metric's family (``ndcg@3`` -> ndcg), None when unregistered."""
        family = metric.partition("@")[0]
        return self._owner(family) or self._owner(family.lower())

    def label(self, metric: str) -> str:
        """Column header of a record metric, as the paper writes it: ``ndcg@3`` -> ``N@3``."""
        family, _, k = metric.partition("@")
        spec = self.family(metric)
        return f"{spec.label if spec else family.upper()}@{k}"

    def sort_key(self, metric: str) -> tuple[int, str, int, str]:
        """Families by their order (unregistered last), then k: ``p@1, p@3, ndcg@1, ...``."""
        family, _, k = metric.partition("@")
        spec = self.family(metric)
        order = spec.order if spec else UNKNOWN_METRIC_ORDER
        return order, spec.name if spec else family, int(k) if k.isdigit() else 0, metric

    def higher_is_better(self, metric: str) -> bool:
        """Whether a larger value of this record metric is better (unregistered: yes)."""
        spec = self.family(metric)
        return spec.higher_is_better if spec else True

    def expand(self, metrics: str | Iterable[str], ks: Sequence[int]) -> list[str]:
        """Record metric names for a spec: ``p@k`` -> p@1, p@3, p@5; ``n@3`` -> ndcg@3; commas ok.

        A family no plugin registered raises one error naming the known ones, with a hint.
        """
        specs = [metrics] if isinstance(metrics, str) else list(metrics)
        out: list[str] = []
        for text in (part.strip() for item in specs for part in item.split(",")):
            family, sep, k = text.lower().partition("@")
            spec = self._owner(family) if sep else None
            if spec is None or not (k == "k" or (k.isdigit() and int(k) > 0)):
                raise self._unknown(text)
            names = [f"{spec.name}@{x}" for x in ks] if k == "k" else [f"{spec.name}@{int(k)}"]
            out.extend(name for name in names if name not in out)
        if not out:
            raise XMCBenchError(f"no metric asked for; try {self._known()}")
        return out

    def _known(self) -> str:
        """``p@k, ndcg@k (or n@k), ...``: every family in table order, aliases in brackets."""
        parts = []
        for spec in sorted(self, key=lambda s: (s.order, s.name)):
            aliases = self.aliases_of(spec.name)
            also = f" (or {', '.join(f'{a}@k' for a in aliases)})" if aliases else ""
            parts.append(f"{spec.name}@k{also}")
        return ", ".join(parts)

    def _unknown(self, text: str) -> XMCBenchError:
        families = [*self._items, *self._aliases]
        hints = [f"{family}@{k}" for family in families for k in ("k", "1", "3", "5")]
        close = difflib.get_close_matches(text.lower(), hints, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        return XMCBenchError(
            f"unknown metric {text!r}{hint} (known: {self._known()}; k may be a number)"
        )
