"""Documents of the synthetic dataset: label assignments, token ids and text lines."""

from __future__ import annotations

import numpy as np

from .synthetic_config import SyntheticConfig
from .synthetic_labels import _draw_leaves, _draw_topics, _LabelSpace

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
