"""Word tokenizer: lowercase letter/digit words, one compiled regex, `/SEP/` kept whole."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

SEP = "/SEP/"  # sentence/field separator marker in AttentionXML's text files

# A word is a run of letters/digits; an apostrophe or hyphen joins two runs ("don't",
# "state-of-the-art"), a period or comma joins two digit runs ("3.14", "1,000").
# Everything else (punctuation, underscores, symbols) separates words and is dropped.
_WORD = r"/SEP/|\d+(?:[.,]\d+)+|[^\W_]+(?:['\-][^\W_]+)*"
_TOKEN = re.compile(_WORD)
_TOKEN_OR_NEWLINE = re.compile("\n|" + _WORD)  # batch mode: newlines mark document ends


def _normalise(text: str) -> str:
    """Lowercase; typographic apostrophes become "'"; the /SEP/ marker (any case) stays upper."""
    lowered = text.lower()
    if "’" in lowered:
        lowered = lowered.replace("’", "'")
    if "/sep/" in lowered:
        lowered = lowered.replace("/sep/", SEP)
    return lowered


def tokenize(text: str) -> list[str]:
    """Split `text` into lowercase word tokens; `/SEP/` stays one token (any case on input)."""
    return _TOKEN.findall(_normalise(text))


def tokenize_batch(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Tokens of all `texts` concatenated, and each text's count: `tokenize` in one regex pass."""
    joined = "\n".join(texts)
    if not texts or joined.count("\n") != len(texts) - 1:  # a text holds a newline
        per_text = [tokenize(text) for text in texts]
        counts = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
        return [token for tokens in per_text for token in tokens], counts
    tokens = np.array(_TOKEN_OR_NEWLINE.findall(_normalise(joined)), dtype=object)  # (m,)
    ends = np.flatnonzero(tokens == "\n")  # (n - 1,) positions of document boundaries
    bounds = np.concatenate([[-1], ends, [len(tokens)]])  # (n + 1,)
    counts = np.diff(bounds) - 1  # (n,) tokens per text
    keep = np.ones(len(tokens), dtype=bool)  # (m,) False at the boundaries
    keep[ends] = False
    return tokens[keep].tolist(), counts
