"""What plugins register: methods, datasets and metrics, looked up by name or alias."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from .errors import PluginError, UnknownNameError


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
    propensity_a: float = 0.55
    propensity_b: float = 1.5
    stats: Mapping[str, float] = field(default_factory=dict)  # the paper's Table 1 row
    sources: tuple[Source, ...] = ()
    builder: str | None = None  # "module:function" writing the files into a folder, no network
    builder_args: Mapping[str, Any] = field(default_factory=dict)
    card: Path | None = None  # the card file this spec was read from
    plugin: str = ""


@dataclass(frozen=True)
class MetricSpec:
    """A metric family evaluated at each k: ``function(pred (n,k), truth csr, k, inv_prop)``."""

    name: str
    function: Callable[..., float]
    needs_propensity: bool = False
    description: str = ""
    plugin: str = ""


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
