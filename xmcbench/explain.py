"""`xmcbench explain`: one test document's tokens weighted by a method's attention to one label.

The paper's Figure 3 for any run whose method has the attention capability
(`capabilities.attention_weights`), plus the run's top predictions for that document.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .capabilities import attention_weights
from .errors import XMCBenchError
from .plugins import Plugins
from .results.record import RunRecord
from .saved_run import load_run_dataset, load_run_method
from .types import Split

__all__ = ["Explanation", "explain_document", "resolve_label"]


@dataclass(frozen=True)
class Explanation:
    """Everything the terminal view and the HTML page show."""

    run_id: str
    method: str
    dataset: str
    doc: int
    doc_id: str | None
    label: int
    label_name: str
    label_is_true: bool
    words: tuple[str, ...]  # the document's stored tokens (unknown words as <unk>)
    weights: np.ndarray  # (n_tokens,) attention to `label`, summing to 1
    predictions: tuple[tuple[str, float, bool], ...]  # (label name, score, is a true label)
    true_labels: tuple[str, ...]


def resolve_label(spec: str, names: Sequence[str]) -> int:
    """A label given by name (exact) or by index; a bad one names the problem and close names."""
    text = spec.strip()
    index = {name: i for i, name in enumerate(names)}
    if text in index:
        return index[text]
    if text.lstrip("-").isdigit():
        value = int(text)
        if 0 <= value < len(names):
            return value
        raise XMCBenchError(f"label index {value} is out of range (0..{len(names) - 1})")
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise XMCBenchError(f"unknown label {text!r}: not a label name or index{hint}")


def explain_document(
    record: RunRecord | Mapping[str, Any], doc: int, label: str, plugins: Plugins, *, k: int = 5
) -> Explanation:
    """Attention of test document `doc` to `label` and the top-k predictions, for one run."""
    record = RunRecord.coerce(record)
    dataset = load_run_dataset(record, plugins, progress=False)
    test = dataset.test
    if not 0 <= doc < len(test):
        raise XMCBenchError(
            f"--doc {doc}: the test split of {dataset.name} has {len(test)} documents "
            f"(0..{len(test) - 1})"
        )
    label_id = resolve_label(label, test.label_names)
    if test.lengths[doc] == 0:
        raise XMCBenchError(f"test document {doc} of {dataset.name} has no tokens to weigh")
    method = load_run_method(record, plugins)
    rows = np.array([doc])
    (block,) = attention_weights(method, record.method, test, rows, np.array([[label_id]]))
    truth = set(test.labels[doc].indices.tolist())
    return Explanation(
        run_id=record.run_id or "",
        method=record.method,
        dataset=dataset.name,
        doc=doc,
        doc_id=None if test.ids is None else test.ids[doc],
        label=label_id,
        label_name=test.label_names[label_id],
        label_is_true=label_id in truth,
        words=tuple(test.vocab[i] for i in test.document(doc)),
        weights=block[:, 0],
        predictions=_top_predictions(method, test, doc, k, truth),
        true_labels=tuple(test.label_names[i] for i in sorted(truth)),
    )


def _top_predictions(
    method: Any, test: Split, doc: int, k: int, truth: set[int]
) -> tuple[tuple[str, float, bool], ...]:
    top = method.predict(test.subset(np.array([doc])), k)
    return tuple(
        (test.label_names[int(i)], float(s), int(i) in truth)
        for i, s in zip(top.labels[0], top.scores[0], strict=True)
        if i >= 0
    )
