"""Split's ragged storage and TopK's ranking, the two structures every method touches."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from xmcbench.types import Split, TopK


def make_split() -> Split:
    docs = [[5, 6, 7], [8], [9, 10, 11, 12, 13]]
    offsets = np.cumsum([0] + [len(d) for d in docs])
    labels = sp.csr_matrix(np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32))
    return Split(
        "train",
        np.concatenate(docs).astype(np.int32),
        offsets,
        labels,
        ("<pad>", "<unk>"),
        ("a", "b"),
    )


def test_padded_cuts_to_longest_real_document_of_the_batch():
    split = make_split()
    assert split.padded(np.array([0, 1])).tolist() == [[5, 6, 7], [8, 0, 0]]
    assert split.padded(np.array([2]), max_len=2).tolist() == [[9, 10]]
    assert split.lengths.tolist() == [3, 1, 5]


def test_subset_keeps_documents_labels_and_order():
    sub = make_split().subset(np.array([2, 0]), name="valid")
    assert sub.name == "valid" and len(sub) == 2
    assert sub.document(0).tolist() == [9, 10, 11, 12, 13]
    assert sub.document(1).tolist() == [5, 6, 7]
    assert sub.labels.toarray().tolist() == [[1, 1], [1, 0]]


def test_split_rejects_mismatched_label_rows():
    split = make_split()
    with pytest.raises(ValueError, match="3 documents but 2 label rows"):
        Split("x", split.tokens, split.offsets, split.labels[:2], split.vocab, split.label_names)


def test_topk_from_scores_sorts_best_first_and_pads_short_rows():
    scores = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]], dtype=np.float32)
    top = TopK.from_scores(scores, 2)
    assert top.labels.tolist() == [[1, 2], [0, 2]]
    assert np.allclose(top.scores, [[0.9, 0.5], [0.7, 0.3]])
    padded = TopK.from_scores(scores, 5)
    assert padded.labels[0].tolist() == [1, 2, 0, -1, -1]
    assert np.isneginf(padded.scores[0, 3:]).all()


def test_topk_from_scores_ranks_equal_scores_by_lower_label_id():
    """Ties go to the lower id, as `xmcbench.evaluate` ranks score matrices: runs repeat."""
    scores = np.array([[0.5, 0.2, 0.5, 0.5, 0.9], [1, 1, 1, 1, 1]], dtype=np.float32)
    top = TopK.from_scores(scores, 3)
    assert top.labels.tolist() == [[4, 0, 2], [0, 1, 2]]
    assert np.allclose(top.scores, [[0.9, 0.5, 0.5], [1, 1, 1]])
    with pytest.raises(ValueError, match="row 1 hold NaN"):
        TopK.from_scores(np.array([[0.1, 0.2], [np.nan, 0.3]]), 1)
