"""The synthetic dataset: determinism, sizes, XMC structure, evidence, and the raw-text layout."""

from __future__ import annotations

import collections
import dataclasses
import re
import time
from pathlib import Path

import numpy as np
import pytest

from xmcbench.data.synthetic import (
    PRESETS,
    SyntheticConfig,
    SyntheticData,
    generate,
    parent_label,
    write_raw_layout,
)

RAW_FILES = ("train_texts.txt", "train_labels.txt", "test_texts.txt", "test_labels.txt")
LEAF_NAME = re.compile(r"^t\d+/s\d+/l\d+$")


@pytest.fixture(scope="module")
def tiny() -> SyntheticData:
    return generate(PRESETS["tiny"], seed=0)


@pytest.fixture(scope="module")
def default() -> SyntheticData:
    return generate(PRESETS["default"], seed=0)


def _train_counts(data: SyntheticData) -> np.ndarray:
    counts = collections.Counter(label for labels in data.train_labels for label in labels)
    return np.array(sorted(counts.values(), reverse=True))


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write_raw_layout(generate(PRESETS["tiny"], seed=7), first)
    write_raw_layout(generate(PRESETS["tiny"], seed=7), second)
    for name in RAW_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_different_seed_gives_different_data(tiny: SyntheticData) -> None:
    other = generate(PRESETS["tiny"], seed=1)
    assert other.train_texts != tiny.train_texts
    assert other.train_labels != tiny.train_labels


@pytest.mark.parametrize("preset", ["tiny", "default"])
def test_preset_sizes(preset: str, tiny: SyntheticData, default: SyntheticData) -> None:
    data = {"tiny": tiny, "default": default}[preset]
    cfg = PRESETS[preset]
    assert len(data.train_texts) == len(data.train_labels) == cfg.n_train
    assert len(data.test_texts) == len(data.test_labels) == cfg.n_test
    assert len(data.label_names) == cfg.n_labels
    lengths = np.array([len(text.split(" ")) for text in data.train_texts])
    assert cfg.doc_len_mean <= lengths.mean() <= 1.5 * cfg.doc_len_mean
    labels_per_doc = np.mean([len(labels) for labels in data.train_labels])
    assert 0.8 * cfg.labels_per_doc_mean <= labels_per_doc <= 1.1 * cfg.labels_per_doc_mean


def test_tiny_is_small_and_fast(tiny: SyntheticData) -> None:
    lengths = np.array([len(text.split(" ")) for text in tiny.train_texts])
    assert 50 <= lengths.mean() <= 80
    assert 40 <= len(tiny.label_names) <= 60
    start = time.perf_counter()
    generate(PRESETS["tiny"], seed=3)
    assert time.perf_counter() - start < 1.0  # ~10 ms when the machine is idle


def test_presets_large_and_million_sizes() -> None:
    assert PRESETS["large"].n_labels >= 5000 and PRESETS["large"].n_train >= 20000
    million = PRESETS["million"]
    assert million.n_labels == 1_000_000 and million.cover_all_labels


def test_every_doc_has_labels_and_text(default: SyntheticData) -> None:
    known = set(default.label_names)
    for texts, labels in (
        (default.train_texts, default.train_labels),
        (default.test_texts, default.test_labels),
    ):
        for text, doc_labels in zip(texts, labels, strict=True):
            assert text and text == text.strip() and "  " not in text and "\n" not in text
            assert doc_labels and len(set(doc_labels)) == len(doc_labels)
            assert set(doc_labels) <= known
    words = {word for text in default.train_texts for word in text.split(" ")}
    assert all(word.isalpha() and word.islower() for word in words)


def test_label_frequencies_are_heavy_tailed(default: SyntheticData) -> None:
    counts = _train_counts(default)
    assert len(counts) == PRESETS["default"].n_labels  # every label has a training document
    top = counts[: len(counts) // 10].sum() / counts.sum()
    assert top > 0.5  # the top 10% of labels cover most assignments
    assert (counts <= 3).sum() >= 0.05 * len(counts)  # and there is a real tail
    assert (counts <= 5).sum() >= 0.15 * len(counts)
    assert counts[0] >= 20 * np.median(counts)


def test_labels_follow_the_hierarchy(default: SyntheticData) -> None:
    assert all(LEAF_NAME.match(name) for name in default.label_names)
    assert parent_label("t3/s12/l0457") == "t3/s12"
    assert parent_label("t3/s12") == "t3" and parent_label("t3") is None
    # a document's labels cluster under few topics
    topics = [len({label.split("/")[0] for label in labels}) for labels in default.train_labels]
    n_labels = [len(labels) for labels in default.train_labels]
    assert np.mean(topics) < 0.4 * np.mean(n_labels)
    assert np.mean(topics) < 2


def test_ancestor_labels_are_added() -> None:
    cfg = dataclasses.replace(PRESETS["tiny"], ancestor_labels=True)
    data = generate(cfg, seed=0)
    assert len(data.label_names) == cfg.n_labels + cfg.n_topics + cfg.n_subtopics
    for labels in data.train_labels + data.test_labels:
        present = set(labels)
        for label in labels:
            parent = parent_label(label)
            assert parent is None or parent in present
    plain = generate(PRESETS["tiny"], seed=0)
    assert data.train_texts == plain.train_texts  # ancestors change labels only


def test_evidence_phrase_marks_its_label(default: SyntheticData) -> None:
    texts = [f" {text} " for text in default.train_texts]
    counts = collections.Counter(label for labels in default.train_labels for label in labels)
    rates_in, rates_out = [], []
    for label, n_docs in counts.most_common(60):
        phrase = f" {default.evidence_phrase(label)} "
        has = np.array([label in labels for labels in default.train_labels])
        found = np.array([phrase in text for text in texts])
        rates_in.append(found[has].mean())
        rates_out.append(found[~has].mean())
        assert n_docs == has.sum()
    rate_in, rate_out = float(np.mean(rates_in)), float(np.mean(rates_out))
    drop = PRESETS["default"].drop_rate
    assert 1 - drop - 0.05 <= rate_in <= 1.0
    assert rate_out < 0.1 * rate_in  # spurious phrases exist but are rare


def test_evidence_needs_context(default: SyntheticData) -> None:
    """Pool words are shared by many phrases, and some pairs need the marker before them."""
    kind, tokens = default.phrase_kind, default.phrase_tokens
    assert set(np.unique(kind)) == {0, 1, 2}
    pool_words = tokens[kind == 1, :2].ravel()
    uses = np.bincount(pool_words)
    assert np.median(uses[uses > 0]) >= 3  # a pool word alone does not identify a label
    pairs = {tuple(row) for row in tokens[kind == 1, :2].tolist()}
    marked_tails = [tuple(row) for row in tokens[kind == 2, 1:].tolist()]
    shared = sum(tail in pairs for tail in marked_tails)
    assert shared >= 0.1 * len(marked_tails)  # "a b" means another label after a marker
    phrases = [" ".join(default.words[row[row >= 0]]) for row in tokens]
    assert len(set(phrases)) == len(phrases)  # every leaf has its own phrase
    # stray pool words also occur outside phrases, so presence is not evidence by itself
    pool = set(default.words[pool_words].tolist())
    texts = [f" {text} " for text in default.train_texts[:300]]
    pool_tokens = sum(word in pool for text in texts for word in text.split())
    in_phrases = sum(text.count(f" {p} ") * 2 for text in texts for p in phrases if " " in p)
    assert pool_tokens > 1.3 * in_phrases


def test_cover_all_labels_with_few_documents() -> None:
    cfg = dataclasses.replace(PRESETS["tiny"], n_labels=600, n_train=150, n_test=20)
    data = generate(cfg, seed=0)
    counts = _train_counts(data)
    assert len(counts) == cfg.n_labels
    per_doc = [len(labels) for labels in data.train_labels]
    assert max(per_doc) - min(per_doc) <= cfg.max_labels_per_doc + 2  # spread evenly
    without = generate(dataclasses.replace(cfg, cover_all_labels=False), seed=0)
    assert len(_train_counts(without)) < cfg.n_labels


def test_write_raw_layout_round_trip(tiny: SyntheticData, tmp_path: Path) -> None:
    out = tmp_path / "raw"
    write_raw_layout(tiny, out)
    write_raw_layout(tiny, out)  # replacing existing files works too
    assert sorted(p.name for p in out.iterdir()) == sorted(RAW_FILES)  # no temp files left
    lines = {name: (out / name).read_text(encoding="utf-8").split("\n") for name in RAW_FILES}
    for name, content in lines.items():
        assert content[-1] == "", f"{name} must end with a newline"
        assert all(content[:-1]), f"{name} has an empty line"
    n_train, n_test = tiny.config.n_train, tiny.config.n_test
    assert len(lines["train_texts.txt"]) == len(lines["train_labels.txt"]) == n_train + 1
    assert len(lines["test_texts.txt"]) == len(lines["test_labels.txt"]) == n_test + 1
    assert lines["train_texts.txt"][:-1] == tiny.train_texts
    assert [line.split(" ") for line in lines["test_labels.txt"][:-1]] == tiny.test_labels


@pytest.mark.parametrize(
    "change",
    [
        {"n_train": 0},
        {"n_labels": 5},  # fewer than n_topics * subtopics_per_topic
        {"drop_rate": 1.0},
        {"phrase_kind_probs": (0.5, 0.5, 0.5)},
        {"topic_word_rate": 0.6, "pool_word_rate": 0.5},
        {"labels_per_doc_mean": 0.5},
    ],
)
def test_bad_config_is_rejected(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(PRESETS["tiny"], **change)


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["tiny"].n_train = 1  # type: ignore[misc]
    assert isinstance(PRESETS["default"], SyntheticConfig)
