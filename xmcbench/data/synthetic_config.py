"""Sizes and difficulty knobs of the synthetic XMC dataset, and its named presets."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and difficulty knobs of the synthetic dataset (see xmcbench.data.synthetic)."""

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
