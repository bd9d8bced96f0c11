"""The preprocessing options (every field part of the cache key) and the prepared-data version."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import XMCBenchError
from ..registry import DatasetSpec
from .holdout import VALID_SEED

PREP_VERSION = "1"  # bump whenever the prepared arrays would change for the same inputs
DEFAULT_VALID_MAX = 4000  # default validation size: min(4000, 10% of train)
DEFAULT_VALID_FRACTION = 0.1


@dataclass(frozen=True)
class PrepareOptions:
    """How raw text becomes arrays; every field is part of the cache key."""

    max_vocab: int = 500_000  # vocabulary size including <pad> and <unk> (AttentionXML's rule)
    min_count: int = 1  # least number of training documents a word must occur in
    max_len: int = 500  # token ids kept per document; TF-IDF always sees the full text
    tfidf: bool = True  # build TF-IDF from the text when the files give no features
    valid_size: int | None = None  # None: min(4000, 10% of train); 0: no validation split
    valid_seed: int = VALID_SEED  # the original AttentionXML's random_state

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            wanted = bool if item.name == "tfidf" else int
            ok = isinstance(value, wanted) and (wanted is bool or not isinstance(value, bool))
            if not ok and not (item.name == "valid_size" and value is None):
                raise XMCBenchError(
                    f"preprocessing option {item.name}={value!r}: not {wanted.__name__}"
                )
        if self.max_vocab < 2 or self.min_count < 1 or self.max_len < 1:
            raise XMCBenchError(
                f"invalid preprocessing options: need max_vocab >= 2, min_count >= 1, max_len >= 1 "
                f"(got {self.max_vocab}, {self.min_count}, {self.max_len})"
            )
        if self.valid_size is not None and self.valid_size < 0:
            raise XMCBenchError(
                f"preprocessing option valid_size must be >= 0, got {self.valid_size}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> PrepareOptions:
        """Options from e.g. a ``[prep]`` config table; an unknown key is a clear error."""
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            listing = ", ".join(sorted(known))
            raise XMCBenchError(f"unknown preprocessing option(s) {', '.join(unknown)} ({listing})")
        return cls(**values)

    def with_spec(self, spec: DatasetSpec) -> PrepareOptions:
        """These options with the spec's validation size when none was chosen here."""
        if self.valid_size is None and spec.valid_size is not None:
            return dataclasses.replace(self, valid_size=spec.valid_size)
        return self

    def effective_valid_size(self, n_train: int) -> int:
        """Documents to carve from a training split of `n_train` documents."""
        if self.valid_size is not None:
            return self.valid_size
        return min(DEFAULT_VALID_MAX, int(n_train * DEFAULT_VALID_FRACTION))
