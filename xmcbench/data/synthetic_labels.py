"""Label space of the synthetic dataset: made-up words, hierarchy, Zipf weights, phrases."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .synthetic_config import SyntheticConfig

# Syllables of the made-up words: consonant + vowel, 15 * 5 = 75 of them.
_CONSONANTS = "bdfghklmnprstvz"
_VOWELS = "aeiou"
_SYLLABLES = np.array([c + v for c in _CONSONANTS for v in _VOWELS])  # (75,)
_N_SYL = len(_SYLLABLES)
_MIN_SYL = 2  # shortest word: two syllables


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


def _label_names(cfg: SyntheticConfig, ls: _LabelSpace) -> list[str]:
    """Leaf names ``t03/s12/l0457`` in leaf-id order, then topic names, then subtopic names."""
    wt, ws, wl = (len(str(n - 1)) for n in (cfg.n_topics, cfg.n_subtopics, cfg.n_labels))
    topics = [f"t{t:0{wt}d}" for t in range(cfg.n_topics)]
    subs = [f"{topics[t]}/s{s:0{ws}d}" for s, t in enumerate(ls.sub_topic.tolist())]
    leaves = [f"{subs[s]}/l{j:0{wl}d}" for j, s in enumerate(ls.label_sub.tolist())]
    return leaves + topics + subs
