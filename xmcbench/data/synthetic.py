"""A deterministic synthetic XMC dataset that needs no network.

The generator builds text with the structure that makes extreme multi-label classification hard
and that rewards label-specific attention:

* **Label hierarchy.** Leaf labels live under subtopics, subtopics under topics; names encode the
  path (``t03/s12/l0457``). A document draws 1-3 topic *foci* (often one or two) and its labels
  come from its foci (a ``topic_affinity`` share; the rest from anywhere), so they cluster under
  few topics.
  With ``ancestor_labels`` the topic and subtopic names are labels too, like category systems.
* **Power-law frequencies.** Leaf label weights follow Zipf-Mandelbrot, ``(rank + offset) **
  -exponent``, over a random permutation of ranks, so a few head labels cover most assignments
  and many tail labels have 1-5 training documents. A document's labels are drawn without
  replacement by weight.
* **Evidence inside long distractor text.** Each assigned label is signalled by a short phrase
  dropped at a random position among a few hundred topic-correlated distractor words. A phrase is
  one of three kinds:

  - *unique*: one word that belongs to this label only (easy, even for bag-of-words);
  - *pair*: an ordered pair ``a b`` from a small evidence-word pool shared by the whole topic;
  - *marked*: a topic marker word followed by a pool pair, ``m a b``. The pair ``a b`` is often
    the phrase of a *pair* label too: after a marker it means the marked label and not that one.

  Pool words and markers also occur alone inside the distractor text. Because every pool word
  belongs to many phrases and a document holds several phrases of the same topic, a bag of words
  cannot tell ``{a b, c d}`` from ``{a d, c b}``; the order and the neighbours of words matter.
  This is also where one pooled vector struggles: max-pooling over time keeps, per feature, the
  strongest position, so features of ``a``-first and ``b``-second coming from two *different*
  phrases look like the phrase ``a b`` (a binding problem), and several phrases per document must
  share one vector. Per-label attention scores each position for its own label, finds the one
  place where its phrase sits and reads the context there.
* **Noise.** A fraction of evidence phrases is dropped (the label has no evidence) and spurious
  phrases of unassigned labels of the same foci are added, so nothing scores 100%.

Words are made-up lowercase syllable strings (``tavoru``), a fixed function of a word id. The
output of `write_raw_layout` is the AttentionXML raw-text layout: ``{train,test}_texts.txt`` with
one space-separated document per line and ``{train,test}_labels.txt`` with its label names.

Everything is vectorised with numpy: the only Python loops run once per label name, per word
string or per document line split, never per token; the 1,000,000-label preset takes seconds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xmcbench.io import file_mode
from xmcbench.notes import note

from .synthetic_config import PRESETS, SyntheticConfig
from .synthetic_docs import _join_lines, _sample_labels, _tokens
from .synthetic_labels import _label_names, _label_space, _word_strings

__all__ = [
    "PRESETS",
    "SyntheticConfig",
    "SyntheticData",
    "generate",
    "parent_label",
    "write_raw_layout",
]

_SALT = 0x5EED_C0DE  # mixed into the seed so other generators seeded with 0 do not collide


@dataclass(frozen=True, eq=False)
class SyntheticData:
    """Generated documents, label names and the ground truth behind them."""

    config: SyntheticConfig
    seed: int
    train_texts: list[str]
    train_labels: list[list[str]]
    test_texts: list[str]
    test_labels: list[list[str]]
    label_names: list[str]  # every possible label: leaves (id order), then topics, subtopics
    # ground truth, for tests and inspection
    words: np.ndarray = field(repr=False)  # (W,) object: word id -> word string
    phrase_tokens: np.ndarray = field(repr=False)  # (L, 3) int32 word ids, -1 padded
    phrase_kind: np.ndarray = field(repr=False)  # (L,) int8: 0 unique, 1 pair, 2 marked

    @property
    def n_leaf_labels(self) -> int:
        return int(self.phrase_tokens.shape[0])

    def leaf_id(self, label: str) -> int:
        """Leaf index of a leaf label name (``.../l0457`` -> 457)."""
        return int(label.rsplit("/l", 1)[1])

    def evidence_phrase(self, label: str) -> str:
        """The phrase that signals a leaf label inside text, e.g. ``"mavi tore"``."""
        ids = self.phrase_tokens[self.leaf_id(label)]
        return " ".join(self.words[ids[ids >= 0]].tolist())


def parent_label(label: str) -> str | None:
    """Parent in the hierarchy: ``t03/s12/l0457`` -> ``t03/s12`` -> ``t03`` -> None."""
    head, sep, _ = label.rpartition("/")
    return head if sep else None


def generate(config: SyntheticConfig, seed: int = 0) -> SyntheticData:
    """Generate the dataset of `config`; the same config and seed give identical data."""
    rng = np.random.default_rng([seed, _SALT])
    ls = _label_space(config, rng)
    foci, n_focus, doc, leaf = _sample_labels(config, ls, rng)
    tokens, per_doc = _tokens(config, ls, foci, n_focus, doc, leaf, rng)

    words = _word_strings(ls.n_words)  # (W,)
    texts = _join_lines(words, tokens, per_doc).split("\n")[:-1]

    n_lab, n_top = config.n_labels, config.n_topics
    label_ids = leaf
    if config.ancestor_labels:
        sub = ls.label_sub[leaf]
        anc_doc = np.concatenate([doc, doc, doc])
        anc_ids = np.concatenate([leaf, n_lab + ls.sub_topic[sub], n_lab + n_top + sub])
        keys = np.unique(anc_doc * (n_lab + n_top + config.n_subtopics) + anc_ids)
        doc, label_ids = np.divmod(keys, n_lab + n_top + config.n_subtopics)
    names = _label_names(config, ls)
    doc_labels = np.asarray(names, dtype=object)[label_ids].tolist()  # (A,) shared str objects
    ends = np.cumsum(np.bincount(doc, minlength=len(per_doc))).tolist()  # (N,) every doc >= 1
    labels = [doc_labels[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    n_tr = config.n_train
    return SyntheticData(
        config=config,
        seed=seed,
        train_texts=texts[:n_tr],
        train_labels=labels[:n_tr],
        test_texts=texts[n_tr:],
        test_labels=labels[n_tr:],
        label_names=names if config.ancestor_labels else names[:n_lab],
        words=words,
        phrase_tokens=ls.phrase_tokens,
        phrase_kind=ls.phrase_kind,
    )


def write_raw_layout(data: SyntheticData, out_dir: Path) -> None:
    """Write ``{train,test}_{texts,labels}.txt`` (one document per line) atomically into out_dir.

    All four files are first written under temporary names in out_dir, then moved into place
    with os.replace, so a reader never sees a half-written file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        "train_texts.txt": data.train_texts,
        "train_labels.txt": [" ".join(labels) for labels in data.train_labels],
        "test_texts.txt": data.test_texts,
        "test_labels.txt": [" ".join(labels) for labels in data.test_labels],
    }
    temps: dict[str, str] = {}
    try:
        for name, lines in contents.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            temps[name] = tmp
            os.fchmod(fd, file_mode())  # mkstemp creates 0600; these are ordinary data files
            with os.fdopen(fd, "wb") as handle:
                handle.write(("\n".join(lines) + "\n" if lines else "").encode("utf-8"))
        for name, tmp in temps.items():
            os.replace(tmp, out_dir / name)
    finally:
        for tmp in temps.values():
            if os.path.exists(tmp):
                os.unlink(tmp)


def build(dest: Path, preset: str, seed: int = 0) -> None:
    """Dataset builder used by the registry: a preset's files in the raw-text layout."""
    write_raw_layout(generate(PRESETS[preset], seed=seed), dest)


def main(argv: list[str] | None = None) -> None:
    """``python -m xmcbench.data.synthetic --preset default --out DIR [--seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = generate(PRESETS[args.preset], seed=args.seed)
    write_raw_layout(data, args.out)
    note(
        f"{args.preset}: {len(data.train_texts)} train / {len(data.test_texts)} test docs, "
        f"{len(data.label_names)} labels -> {args.out} ({time.perf_counter() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
