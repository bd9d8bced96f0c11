"""Label new texts with a saved run's model (`xmcbench predict`), as its dataset was read.

The texts are tokenized and mapped to ids with the run's prepared vocabulary (and TF-IDF
rebuilt from it, for the methods that read features); labels are printed by name with scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data.encode import encode_texts
from .errors import XMCBenchError
from .plugins import Plugins
from .saved_run import load_run_dataset, load_run_method
from .types import UNK_ID

if TYPE_CHECKING:
    from .results.record import RunRecord

__all__ = ["Prediction", "predict_texts", "predictions_json", "read_texts"]


@dataclass(frozen=True)
class Prediction:
    """One text's ranked labels and how much of it the vocabulary knew."""

    text: str
    labels: tuple[tuple[int, str, float], ...]  # (label id, name, score), best first
    tokens: int  # tokens the model reads (after truncation)
    known: int  # of those, words in the run's vocabulary


def read_texts(text: str | None, file: str | Path | None) -> list[str]:
    """The documents to label: `text` as one, or `file` with one document per line."""
    if text is not None:
        if not text.strip():
            raise XMCBenchError("--text is empty: give the document to label")
        return [text]
    if file is None:
        raise XMCBenchError("give a document with --text or a file of documents with --file")
    path = Path(file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise XMCBenchError(f"{path}: cannot read ({reason})") from None
    if not any(line.strip() for line in lines):
        raise XMCBenchError(f"{path}: no documents (expected one document per line)")
    blank = next((i for i, line in enumerate(lines, start=1) if not line.strip()), None)
    if blank is not None:
        raise XMCBenchError(f"{path}:{blank}: empty line (expected one document per line)")
    return lines


def predict_texts(
    record: RunRecord, texts: Sequence[str], k: int, plugins: Plugins
) -> list[Prediction]:
    """Top-k labels of each text from the run's saved model."""
    if k < 1:
        raise XMCBenchError(f"--k must be at least 1, got {k}")
    dataset = load_run_dataset(record, plugins, progress=False)
    split = encode_texts(texts, dataset)
    no_words = np.flatnonzero(split.lengths == 0)
    if len(no_words):
        raise XMCBenchError(
            f"text {no_words[0] + 1} has no words (the tokenizer keeps runs of letters and digits)"
        )
    method = load_run_method(record, plugins)
    try:
        top = method.predict(split, k)
    except XMCBenchError as exc:
        if split.features is None:
            raise XMCBenchError(
                f"{exc}; predict rebuilds TF-IDF only for datasets whose features xmcbench built "
                f"from their texts ({dataset.name!r}: {dataset.info.get('features', 'unknown')}), "
                "so use a method that reads tokens"
            ) from None
        raise
    names = dataset.train.label_names
    is_known = (split.tokens != UNK_ID).astype(np.int64)  # (m,)
    known = np.add.reduceat(is_known, split.offsets[:-1])  # (n,); no text is empty here
    return [
        Prediction(
            text=text,
            labels=tuple(
                (int(i), names[int(i)], float(s))
                for i, s in zip(top.labels[row], top.scores[row], strict=True)
                if i >= 0
            ),
            tokens=int(split.lengths[row]),
            known=int(known[row]),
        )
        for row, text in enumerate(texts)
    ]


def predictions_json(record: RunRecord, predictions: Sequence[Prediction]) -> str:
    """The predictions as JSON: run, method and dataset, then one object per text."""
    data = {
        "run_id": record.run_id,
        "method": record.method,
        "dataset": record.dataset,
        "documents": [
            {
                "text": p.text,
                "tokens": p.tokens,
                "known_tokens": p.known,
                "labels": [
                    {"rank": rank, "label": name, "label_id": i, "score": round(score, 6)}
                    for rank, (i, name, score) in enumerate(p.labels, start=1)
                ],
            }
            for p in predictions
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
