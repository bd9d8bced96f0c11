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
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xmcbench.io import file_mode

__all__ = [
    "PRESETS",
    "SyntheticConfig",
    "SyntheticData",
    "generate",
    "parent_label",
    "write_raw_layout",
]

_SALT = 0x5EED_C0DE  # mixed into the seed so other generators seeded with 0 do not collide

# Syllables of the made-up words: consonant + vowel, 15 * 5 = 75 of them.
_CONSONANTS = "bdfghklmnprstvz"
_VOWELS = "aeiou"
_SYLLABLES = np.array([c + v for c in _CONSONANTS for v in _VOWELS])  # (75,)
_N_SYL = len(_SYLLABLES)
_MIN_SYL = 2  # shortest word: two syllables


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and difficulty knobs of the synthetic dataset (see the module docstring)."""

    n_train: int
    n_test: int
    n_labels: int  # leaf labels
    n_topics: int
    subtopics_per_topic: int
    vocab_size: int  # background (distractor) vocabulary
    doc_len_mean: float  # distractor tokens per document, before evidence is inserted
    doc_len_std: float
    labels_per_doc_mean: float  # leaf labels drawn per document (before de-duplication)
    max_labels_per_doc: int = 12
    zipf_exponent: float = 2.5  # label weight ~ (rank + zipf_offset) ** -zipf_exponent
    zipf_offset: float = 50.0  # > 0 flattens the head (Zipf-Mandelbrot), keeps the power-law tail
    word_zipf_exponent: float = 1.05  # background word frequency
    topic_words_per_topic: int = 40
    topic_word_rate: float = 0.25  # share of distractor tokens that are words of a focus topic
    pool_word_rate: float = 0.03  # share of distractor tokens that are stray evidence-pool words
    marker_word_rate: float = 0.01  # share of distractor tokens that are stray marker words
    phrase_kind_probs: tuple[float, float, float] = (0.15, 0.6, 0.25)  # unique, pair, marked
    pool_fill: float = 0.3  # share of a topic's pool pairs used by its pair labels (sets pool size)
    markers_per_topic: int = 3
    topic_affinity: float = 1.0  # share of a document's labels drawn from its focus topics
    extra_focus_mean: float = 1.0  # Poisson mean of extra topic foci per document
    max_focus: int = 3
    drop_rate: float = 0.1  # chance that a label's evidence phrase is missing from its document
    spurious_rate: float = 0.15  # spurious phrases per assigned label (unassigned labels' phrases)
    cover_all_labels: bool = True  # every leaf label gets at least one training document
    ancestor_labels: bool = False  # topic and subtopic names are labels too

    def __post_init__(self) -> None:
        positive = (
            "n_train",
            "n_labels",
            "n_topics",
            "subtopics_per_topic",
            "vocab_size",
            "max_labels_per_doc",
            "topic_words_per_topic",
            "markers_per_topic",
            "max_focus",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"SyntheticConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_test < 0:
            raise ValueError(f"SyntheticConfig.n_test must be >= 0, got {self.n_test}")
        if self.n_labels < self.n_topics * self.subtopics_per_topic:
            raise ValueError(
                "SyntheticConfig.n_labels must be >= n_topics * subtopics_per_topic "
                "so that every subtopic holds a label"
            )
        if self.doc_len_mean < 1 or self.doc_len_std < 0:
            raise ValueError("SyntheticConfig.doc_len_mean must be >= 1 and doc_len_std >= 0")
        if not 1 <= self.labels_per_doc_mean <= self.max_labels_per_doc:
            raise ValueError(
                "SyntheticConfig.labels_per_doc_mean must lie in [1, max_labels_per_doc]"
            )
        rates = ("topic_word_rate", "pool_word_rate", "marker_word_rate", "drop_rate")
        if not 0 < self.topic_affinity <= 1:
            raise ValueError("SyntheticConfig.topic_affinity must lie in (0, 1]")
        for name in rates:
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"SyntheticConfig.{name} must lie in [0, 1)")
        if self.topic_word_rate + self.pool_word_rate + self.marker_word_rate >= 1:
            raise ValueError("SyntheticConfig: topic, pool and marker word rates must sum below 1")
        if min(self.spurious_rate, self.extra_focus_mean, self.zipf_exponent, self.zipf_offset) < 0:
            raise ValueError(
                "SyntheticConfig: spurious_rate, extra_focus_mean, zipf_exponent and "
                "zipf_offset must be >= 0"
            )
        probs = self.phrase_kind_probs
        if len(probs) != 3 or min(probs) < 0 or not math.isclose(sum(probs), 1.0, abs_tol=1e-9):
            raise ValueError(
                "SyntheticConfig.phrase_kind_probs must be 3 non-negative numbers summing to 1"
            )
        if not 0 < self.pool_fill <= 1:
            raise ValueError("SyntheticConfig.pool_fill must lie in (0, 1]")

    @property
    def n_subtopics(self) -> int:
        return self.n_topics * self.subtopics_per_topic


PRESETS: dict[str, SyntheticConfig] = {
    # unit tests: ~60-token documents, 48 labels, generated in a few milliseconds
    "tiny": SyntheticConfig(
        n_train=300,
        n_test=100,
        n_labels=48,
        n_topics=4,
        subtopics_per_topic=3,
        vocab_size=400,
        doc_len_mean=58,
        doc_len_std=6,
        labels_per_doc_mean=3,
        max_labels_per_doc=6,
        topic_words_per_topic=15,
        zipf_offset=3,
        zipf_exponent=1.5,
    ),
    # README demo: a small BiLSTM-attention model trains to a good score in minutes on 2 cores
    "default": SyntheticConfig(
        n_train=5000,
        n_test=1200,
        n_labels=500,
        n_topics=5,
        subtopics_per_topic=10,
        vocab_size=5000,
        doc_len_mean=200,
        doc_len_std=40,
        labels_per_doc_mean=5.5,
    ),
    # tree methods: thousands of labels, tens of thousands of documents
    "large": SyntheticConfig(
        n_train=20000,
        n_test=5000,
        n_labels=5000,
        n_topics=50,
        subtopics_per_topic=10,
        vocab_size=20000,
        doc_len_mean=120,
        doc_len_std=30,
        labels_per_doc_mean=5,
        zipf_offset=10,
        zipf_exponent=1.2,
    ),
    # stress test: 1,000,000 leaf labels, all present in training; short documents. Coverage
    # adds the labels the Zipf draw missed, so documents carry ~14 labels on average (like
    # Amazon-3M's ~36) and most tail labels have exactly one training document.
    "million": SyntheticConfig(
        n_train=100_000,
        n_test=20_000,
        n_labels=1_000_000,
        n_topics=1000,
        subtopics_per_topic=10,
        vocab_size=30000,
        doc_len_mean=40,
        doc_len_std=8,
        labels_per_doc_mean=6,
        max_labels_per_doc=16,
        topic_words_per_topic=30,
        zipf_offset=10,
        zipf_exponent=1.2,
        spurious_rate=0.1,
    ),
}


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


# --------------------------------------------------------------------------------------------
# words


def _word_strings(n_words: int) -> np.ndarray:
    """Made-up words for ids 0..n_words-1: (n_words,) object array of distinct strings.

    Ids are grouped by length: the first 75**2 ids get two syllables, the next 75**3 three, and
    so on; inside a group a fixed affine bijection scrambles the id before it is written in base
    75, so neighbouring ids do not look alike. Words of different lengths differ in length, words
    of one length differ by the bijection: all strings are distinct.
    """
    out = np.empty(n_words, dtype=object)
    start, n_syl = 0, _MIN_SYL
    while start < n_words:
        group = _N_SYL**n_syl
        count = min(group, n_words - start)
        j = np.arange(count, dtype=np.int64)  # (count,) index inside the length group
        # 7919 and 104729 are primes, coprime with 75 ** n: an affine bijection of the group
        scrambled = (j * 7919 + 104729) % group  # (count,)
        digits = (scrambled[:, None] // (_N_SYL ** np.arange(n_syl, dtype=np.int64))) % _N_SYL
        parts = _SYLLABLES[digits]  # (count, n_syl) str
        joined = parts[:, 0].astype(object)
        for col in range(1, n_syl):
            joined = joined + parts[:, col].astype(object)  # (count,) elementwise str concat
        out[start : start + count] = joined
        start += count
        n_syl += 1
    return out


# --------------------------------------------------------------------------------------------
# label space


@dataclass(frozen=True)
class _LabelSpace:
    label_sub: np.ndarray  # (L,) subtopic of each leaf; leaves of a subtopic are contiguous
    sub_topic: np.ndarray  # (S,) topic of each subtopic; contiguous too
    label_topic: np.ndarray  # (L,) topic of each leaf
    cum_weight: np.ndarray  # (L + 1,) 0 then the cumulative Zipf weight of leaves
    topic_lo: np.ndarray  # (T,) first leaf of each topic
    topic_hi: np.ndarray  # (T,) one past its last leaf
    cum_topic: np.ndarray  # (T + 1,) 0 then the cumulative topic mass
    phrase_tokens: np.ndarray  # (L, 3) int32 word ids, -1 padded
    phrase_len: np.ndarray  # (L,) int64
    phrase_kind: np.ndarray  # (L,) int8
    pool_size: int
    base_topic: int  # first word id of topic words
    base_pool: int  # first word id of evidence-pool words
    base_marker: int  # first word id of marker words
    n_words: int


def _label_space(cfg: SyntheticConfig, rng: np.random.Generator) -> _LabelSpace:
    """Hierarchy, Zipf weights, and an evidence phrase for every leaf label."""
    n_lab, n_top, n_sub = cfg.n_labels, cfg.n_topics, cfg.n_subtopics
    label_sub = (np.arange(n_lab, dtype=np.int64) * n_sub) // n_lab  # (L,) even split
    sub_topic = np.arange(n_sub, dtype=np.int64) // cfg.subtopics_per_topic  # (S,)
    label_topic = sub_topic[label_sub]  # (L,)

    ranks = rng.permutation(n_lab).astype(np.float64) + 1.0  # (L,) frequency rank of each leaf
    weight = (ranks + cfg.zipf_offset) ** -cfg.zipf_exponent  # (L,)
    cum_weight = np.concatenate([[0.0], np.cumsum(weight)])  # (L + 1,)
    topic_lo = np.searchsorted(label_topic, np.arange(n_top), side="left")  # (T,)
    topic_hi = np.searchsorted(label_topic, np.arange(n_top), side="right")  # (T,)
    topic_mass = cum_weight[topic_hi] - cum_weight[topic_lo]  # (T,)
    cum_topic = np.concatenate([[0.0], np.cumsum(topic_mass)])  # (T + 1,)

    # phrase kind of every leaf, and its rank among the leaves of its (topic, kind)
    kind = rng.choice(3, size=n_lab, p=np.asarray(cfg.phrase_kind_probs)).astype(np.int8)
    group = label_topic * 3 + kind  # (L,)
    order = np.argsort(group, kind="stable")  # (L,)
    group_sizes = np.bincount(group, minlength=3 * n_top)  # (3T,)
    group_start = np.concatenate([[0], np.cumsum(group_sizes)[:-1]])  # (3T,)
    rank_in_group = np.empty(n_lab, dtype=np.int64)
    rank_in_group[order] = np.arange(n_lab) - group_start[group[order]]  # (L,)
    per_topic = group_sizes.reshape(n_top, 3)  # (T, 3) leaves per topic and kind

    n_mark = cfg.markers_per_topic
    max_pairs, max_marked = int(per_topic[:, 1].max()), int(per_topic[:, 2].max())
    pool = max(
        2,
        math.ceil(math.sqrt(max_pairs / cfg.pool_fill)),
        math.ceil(math.sqrt(max_marked / (n_mark * cfg.pool_fill))),
    )
    n_codes = pool * pool

    # word-id layout: background | topic words | pool words | markers | unique words
    base_topic = cfg.vocab_size
    base_pool = base_topic + n_top * cfg.topic_words_per_topic
    base_marker = base_pool + n_top * pool
    base_unique = base_marker + n_top * n_mark
    n_words = base_unique + int(per_topic[:, 0].sum())

    # distinct random codes per topic: the first k columns of a random permutation of each row
    pair_perm = np.argsort(rng.random((n_top, n_codes)), axis=1)  # (T, P^2)
    mark_perm = np.argsort(rng.random((n_top, n_mark * n_codes)), axis=1)  # (T, M P^2)

    phrase = np.full((n_lab, 3), -1, dtype=np.int32)  # (L, 3)
    is_u, is_p, is_m = kind == 0, kind == 1, kind == 2
    phrase[is_u, 0] = base_unique + np.arange(int(is_u.sum()))
    t_p = label_topic[is_p]
    code = pair_perm[t_p, rank_in_group[is_p]]  # (n_pair,) in [0, P^2)
    phrase[is_p, 0] = base_pool + t_p * pool + code // pool
    phrase[is_p, 1] = base_pool + t_p * pool + code % pool
    t_m = label_topic[is_m]
    code = mark_perm[t_m, rank_in_group[is_m]]  # (n_marked,) in [0, M P^2)
    marker, pair = code // n_codes, code % n_codes
    phrase[is_m, 0] = base_marker + t_m * n_mark + marker
    phrase[is_m, 1] = base_pool + t_m * pool + pair // pool
    phrase[is_m, 2] = base_pool + t_m * pool + pair % pool
    phrase_len = (phrase >= 0).sum(axis=1).astype(np.int64)  # (L,)

    return _LabelSpace(
        label_sub,
        sub_topic,
        label_topic,
        cum_weight,
        topic_lo,
        topic_hi,
        cum_topic,
        phrase,
        phrase_len,
        kind,
        pool,
        base_topic,
        base_pool,
        base_marker,
        n_words,
    )


def _draw_topics(ls: _LabelSpace, u: np.ndarray) -> np.ndarray:
    """Topics drawn by their Zipf mass, one per uniform number in u."""
    topic = np.searchsorted(ls.cum_topic, u * ls.cum_topic[-1], side="right") - 1
    return np.clip(topic, 0, len(ls.topic_lo) - 1)


def _draw_leaves(ls: _LabelSpace, topic: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Leaves of the given topics, drawn by Zipf weight within the topic."""
    lo, hi = ls.topic_lo[topic], ls.topic_hi[topic]
    a, b = ls.cum_weight[lo], ls.cum_weight[hi]
    leaf = np.searchsorted(ls.cum_weight, a + u * (b - a), side="right") - 1
    return np.clip(leaf, lo, hi - 1)


# --------------------------------------------------------------------------------------------
# documents


def _ragged_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ragged groups of sizes `counts`: the group of every element and its index inside."""
    owner = np.repeat(np.arange(len(counts)), counts)  # (sum,)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])  # (n,)
    within = np.arange(int(counts.sum())) - starts[owner]  # (sum,)
    return owner, within


def _sample_labels(
    cfg: SyntheticConfig, ls: _LabelSpace, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Foci and leaf labels of every document.

    Returns foci (N, F) topics, n_focus (N,), and the (doc, leaf) assignments as two sorted,
    duplicate-free arrays.
    """
    n_docs, n_lab, n_f = cfg.n_train + cfg.n_test, cfg.n_labels, cfg.max_focus
    k = 1 + rng.poisson(cfg.labels_per_doc_mean - 1, n_docs)  # (N,) labels drawn per doc
    k = np.minimum(k, cfg.max_labels_per_doc)
    n_focus = np.minimum(np.minimum(1 + rng.poisson(cfg.extra_focus_mean, n_docs), n_f), k)

    foci = _draw_topics(ls, rng.random((n_docs, n_f)))  # (N, F); the first n_focus are used

    # draw 4k slots per document and keep its first k distinct leaves: sampling without
    # replacement in proportion to the Zipf weights (head leaves repeat)
    doc, _ = _ragged_index(4 * k)  # (sum 4k,) owner doc of each slot, in draw order
    focus_pick = (rng.random(len(doc)) * n_focus[doc]).astype(np.int64)
    leaf = _draw_leaves(ls, foci[doc, focus_pick], rng.random(len(doc)))
    # a share of the slots ignores the foci and draws from all leaves by weight
    anywhere = rng.random(len(doc)) >= cfg.topic_affinity  # (sum 4k,)
    u = rng.random(int(anywhere.sum())) * ls.cum_weight[-1]
    leaf[anywhere] = np.minimum(np.searchsorted(ls.cum_weight, u, side="right") - 1, n_lab - 1)
    _, first = np.unique(doc * n_lab + leaf, return_index=True)
    first = np.sort(first)  # (U,) first draw of each distinct (doc, leaf), still grouped by doc
    _, rank = _ragged_index(np.bincount(doc[first], minlength=n_docs))
    first = first[rank < k[doc[first]]]
    keys = np.sort(doc[first] * n_lab + leaf[first])  # (A,) sorted by doc, then leaf

    if cfg.cover_all_labels:
        is_train = keys // n_lab < cfg.n_train
        seen = np.zeros(n_lab, dtype=bool)
        seen[keys[is_train] % n_lab] = True
        missing = np.flatnonzero(~seen)  # (m,) leaves without a training document, by topic
        if len(missing):
            # Spread them evenly over the training docs (each gets floor or ceil of m / n_train)
            # with a monotone map from leaves sorted by topic to docs sorted by first-focus topic,
            # so that a leaf mostly lands in a doc of its own topic.
            doc_order = np.lexsort((rng.random(cfg.n_train), foci[: cfg.n_train, 0]))
            leaf_order = missing[np.lexsort((rng.random(len(missing)), ls.label_topic[missing]))]
            host = doc_order[(np.arange(len(missing)) * cfg.n_train) // len(missing)]  # (m,)
            keys = np.unique(np.concatenate([keys, host * n_lab + leaf_order]))
    return foci, n_focus, keys // n_lab, keys % n_lab


def _tokens(
    cfg: SyntheticConfig,
    ls: _LabelSpace,
    foci: np.ndarray,
    n_focus: np.ndarray,
    doc: np.ndarray,
    leaf: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of all documents, concatenated, and the token count of each document."""
    n_docs, n_lab = len(foci), cfg.n_labels

    # evidence items: kept true phrases plus spurious phrases of unassigned leaves
    keep = rng.random(len(doc)) >= cfg.drop_rate
    n_assigned = np.bincount(doc, minlength=n_docs)  # (N,)
    n_spur = rng.poisson(cfg.spurious_rate * n_assigned)  # (N,)
    s_doc, _ = _ragged_index(n_spur)
    s_pick = (rng.random(len(s_doc)) * n_focus[s_doc]).astype(np.int64)
    s_leaf = _draw_leaves(ls, foci[s_doc, s_pick], rng.random(len(s_doc)))
    true_keys = doc * n_lab + leaf  # (A,) sorted
    s_keys = np.unique(s_doc * n_lab + s_leaf)
    s_keys = s_keys[~np.isin(s_keys, true_keys, assume_unique=True)]
    item_doc = np.concatenate([doc[keep], s_keys // n_lab])  # (I,)
    item_leaf = np.concatenate([leaf[keep], s_keys % n_lab])  # (I,)
    n_items = len(item_doc)

    # distractor text: background Zipf words, words of a focus topic, stray pool words, markers
    length = np.rint(rng.normal(cfg.doc_len_mean, cfg.doc_len_std, n_docs)).astype(np.int64)
    low = max(4, int(cfg.doc_len_mean - 3 * cfg.doc_len_std))
    length = np.clip(length, low, int(cfg.doc_len_mean + 3 * cfg.doc_len_std) + 1)  # (N,)
    t_doc, t_pos = _ragged_index(length)  # (D,) owner doc and position of each token
    n_tok = len(t_doc)
    focus_pick = (rng.random(n_tok, dtype=np.float32) * n_focus[t_doc]).astype(np.int64)
    topic = foci[t_doc, focus_pick]  # (D,) a focus topic of the token's doc
    del focus_pick
    ranks = np.arange(1, cfg.vocab_size + 1, dtype=np.float64)  # (V,)
    bg_cum = np.cumsum(ranks**-cfg.word_zipf_exponent)  # (V,) background Zipf
    distract = np.searchsorted(bg_cum, rng.random(n_tok) * bg_cum[-1], side="right")
    distract = np.minimum(distract, cfg.vocab_size - 1).astype(np.int32)  # (D,) background
    pick = rng.random(n_tok, dtype=np.float32)  # (D,) in [0, 1): which kind of word
    within = rng.random(n_tok, dtype=np.float32)  # (D,) which word of that kind
    rate = 0.0
    for base, per_topic, share in (
        (ls.base_topic, cfg.topic_words_per_topic, cfg.topic_word_rate),
        (ls.base_pool, ls.pool_size, cfg.pool_word_rate),
        (ls.base_marker, cfg.markers_per_topic, cfg.marker_word_rate),
    ):
        hit = (pick >= rate) & (pick < rate + share)  # (D,)
        distract[hit] = base + topic[hit] * per_topic + (within[hit] * per_topic).astype(np.int64)
        rate += share
    del topic, pick, within

    # evidence tokens: each item's phrase, exploded to one row per token
    plen = ls.phrase_len[item_leaf]  # (I,)
    e_item, e_k = _ragged_index(plen)  # (E,)
    evid = ls.phrase_tokens[item_leaf[e_item], e_k]  # (E,) int32
    gap = (rng.random(n_items) * (length[item_doc] + 1)).astype(np.int64)  # (I,) in [0, len]

    # Merge without sorting the tokens. A document has len + 1 slots; a phrase in slot g sits
    # just before distractor token g, phrases sharing a slot keep their item order.
    per_doc = length + np.bincount(item_doc, weights=plen, minlength=n_docs).astype(np.int64)
    out_start = np.concatenate([[0], np.cumsum(per_doc)[:-1]])  # (N,) first output position
    slot_off = np.concatenate([[0], np.cumsum(length + 1)[:-1]])  # (N,) first slot of each doc
    slot = slot_off[item_doc] + gap  # (I,) global slot of each item
    ev_in_slot = np.bincount(slot, weights=plen, minlength=int(slot_off[-1] + length[-1] + 1))
    cum_ev = np.cumsum(ev_in_slot.astype(np.int64))  # (slots,) evidence tokens in slots <= s
    before_doc = cum_ev[slot_off] - ev_in_slot[slot_off].astype(np.int64)  # (N,)

    tokens = np.empty(int(per_doc.sum()), dtype=np.int32)  # (D + E,)
    # distractor token j of doc d follows its j distractors and the phrases in slots 0..j
    d_slot = slot_off[t_doc] + t_pos  # (D,)
    tokens[out_start[t_doc] + t_pos + cum_ev[d_slot] - before_doc[t_doc]] = distract
    del d_slot, distract
    # a phrase follows `gap` distractors and the evidence tokens of earlier slots / items
    order = np.argsort(slot, kind="stable")  # (I,) items by slot, then item index
    plen_sorted = plen[order]
    ev_before = np.empty(n_items, dtype=np.int64)
    ev_before[order] = np.cumsum(plen_sorted) - plen_sorted  # (I,) global, exclusive
    item_start = out_start[item_doc] + gap + ev_before - before_doc[item_doc]  # (I,)
    tokens[item_start[e_item] + e_k] = evid
    return tokens, per_doc


def _join_lines(strings: np.ndarray, ids: np.ndarray, per_line: np.ndarray) -> str:
    """Lines of space-separated strings[ids], `per_line` items each, as one '\\n'-ended text."""
    with_space = strings.astype(object) + " "  # (W,)
    with_newline = strings.astype(object) + "\n"  # (W,)
    table = np.concatenate([with_space, with_newline])  # (2W,)
    last = np.zeros(len(ids), dtype=bool)
    last[np.cumsum(per_line) - 1] = True  # (n,) last item of each line
    return "".join(table[ids + last * len(strings)].tolist())


def _label_names(cfg: SyntheticConfig, ls: _LabelSpace) -> list[str]:
    """Leaf names ``t03/s12/l0457`` in leaf-id order, then topic names, then subtopic names."""
    wt, ws, wl = (len(str(n - 1)) for n in (cfg.n_topics, cfg.n_subtopics, cfg.n_labels))
    topics = [f"t{t:0{wt}d}" for t in range(cfg.n_topics)]
    subs = [f"{topics[t]}/s{s:0{ws}d}" for s, t in enumerate(ls.sub_topic.tolist())]
    leaves = [f"{subs[s]}/l{j:0{wl}d}" for j, s in enumerate(ls.label_sub.tolist())]
    return leaves + topics + subs


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
    print(
        f"{args.preset}: {len(data.train_texts)} train / {len(data.test_texts)} test docs, "
        f"{len(data.label_names)} labels -> {args.out} ({time.perf_counter() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
