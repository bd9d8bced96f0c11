"""AttentionXML label tree: label features, balanced 2-means, Algorithms 1 and 2."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from xmcbench_attentionxml import tree_clustering as tree_mod
from xmcbench_attentionxml.tree import (
    LabelTree,
    balanced_2means_split,
    build_tree,
    build_tree_from_label_features,
    label_features,
    leaf_depth,
    level_sizes,
)


def random_data(n_docs: int, n_features: int, n_labels: int, seed: int = 0):
    """(docs, features) TF-IDF-like CSR and (docs, labels) 0/1 CSR with every label used."""
    rng = np.random.default_rng(seed)
    x = sp.random(n_docs, n_features, density=0.05, format="csr", random_state=rng)
    x.data = x.data.astype(np.float32)
    rows = np.concatenate([rng.integers(0, n_docs, n_labels), rng.integers(0, n_docs, 2 * n_docs)])
    cols = np.concatenate([np.arange(n_labels), rng.integers(0, n_labels, 2 * n_docs)])
    y = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(n_docs, n_labels))
    y.data[:] = 1.0
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def small_tree() -> tuple[LabelTree, sp.csr_matrix]:
    x, y = random_data(600, 300, 1000)
    return build_tree(x, y, k=8, height=2, seed=0, progress=False), y


# ----------------------------------------------------------------------------- label features


def test_label_features_are_normalised_sums_and_empty_labels_stay_empty() -> None:
    x = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0], [4.0, 0.0, 0.0]]))
    y = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]]))  # label 2 has no document
    feats = label_features(x, y)
    expected = np.array([[1.0, 3.0, 2.0], [4.0, 3.0, 0.0], [0.0, 0.0, 0.0]])  # sums per label
    norms = np.linalg.norm(expected, axis=1, keepdims=True)
    expected[:2] /= norms[:2]
    assert sp.issparse(feats) and feats.shape == (3, 3) and feats.dtype == np.float32
    np.testing.assert_allclose(feats.toarray(), expected, rtol=1e-6)
    assert feats[2].nnz == 0


def test_label_features_binarise_label_values() -> None:
    x = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]))
    y = sp.csr_matrix(np.array([[5.0], [1.0]]))  # a weight is not a document count
    np.testing.assert_allclose(label_features(x, y).toarray(), [[2**-0.5, 2**-0.5]], rtol=1e-6)


# ----------------------------------------------------------------------------- balanced 2-means


def test_split_is_balanced_within_one_for_every_cluster() -> None:
    rng = np.random.default_rng(3)
    sizes = [1, 2, 3, 7, 8, 50, 101]
    cluster = rng.permutation(np.repeat(np.arange(len(sizes)) * 10, sizes))  # ids need not be 0..G
    feats, _ = random_data(cluster.size, 40, 1)
    feats = sp.csr_matrix(feats / np.maximum(sp.linalg.norm(feats, axis=1), 1e-9)[:, None])
    ones = balanced_2means_split(feats, cluster, rng=np.random.default_rng(0))
    for i, size in enumerate(sizes):
        members = cluster == 10 * i
        assert members.sum() - ones[members].sum() == (size + 1) // 2  # False half is the ceil
        assert ones[members].sum() == size // 2


def test_split_recovers_planted_halves() -> None:
    # 40 clusters of 12 labels: labels 0..5 of a cluster lie near one direction, 6..11 near an
    # orthogonal one. 2-means can stall in a local optimum (e.g. both seeds in one block, then a
    # 3/3 mix), so ask for most clusters, not all; a random balanced split would hit 2 / C(12, 6).
    rng = np.random.default_rng(1)
    n_clusters = 40
    block = np.repeat(np.arange(2 * n_clusters), 6)  # (480,) planted block of each label
    dense = 0.05 * rng.random((block.size, 4 * n_clusters))
    dense[np.arange(block.size), 2 * block] += 1.0
    dense[np.arange(block.size), 2 * block + 1] += 1.0
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    cluster = block // 2
    ones = balanced_2means_split(sp.csr_matrix(dense), cluster, rng=np.random.default_rng(0))
    halves = ones.reshape(n_clusters, 2, 6)
    recovered = (halves.min(2) == halves.max(2)).all(1) & (halves[:, 0, 0] != halves[:, 1, 0])
    assert recovered.mean() >= 0.7, recovered.mean()


def test_split_is_a_fixed_point_of_balanced_spherical_2means() -> None:
    """Against a dense reference: recomputed centroids would not move any label."""
    feats = np.random.default_rng(5).random((400, 30)) ** 4  # positive, uneven
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    cluster = np.repeat(np.arange(4), 100)
    ones = balanced_2means_split(
        sp.csr_matrix(feats), cluster, rng=np.random.default_rng(0), max_iter=100, tol=0.0
    )
    for g in range(4):
        x, side = feats[cluster == g], ones[cluster == g]
        c0, c1 = x[~side].sum(0), x[side].sum(0)
        score = x @ (c0 / np.linalg.norm(c0) - c1 / np.linalg.norm(c1))
        assert score[~side].min() >= score[side].max() - 1e-6


def test_split_does_not_depend_on_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    feats, _ = random_data(3000, 200, 1, seed=2)
    feats = sp.csr_matrix(feats / np.maximum(sp.linalg.norm(feats, axis=1), 1e-9)[:, None])
    cluster = np.repeat(np.arange(30), 100)
    whole = balanced_2means_split(feats, cluster, rng=np.random.default_rng(4))
    monkeypatch.setattr(tree_mod, "CHUNK_NNZ", 500)  # many chunks
    monkeypatch.setattr(tree_mod, "_DENSE_SPAN", 16)  # sort-based key numbering
    chunked = balanced_2means_split(feats, cluster, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(whole, chunked)


# ----------------------------------------------------------------------------- tree structure


def test_every_label_is_one_leaf_and_fanout_respects_k(small_tree) -> None:
    tree, _ = small_tree
    tree.validate()
    assert tree.height == 2 and len(tree.levels) == 3
    assert sorted(tree.label_of_leaf.tolist()) == list(range(1000))
    np.testing.assert_array_equal(tree.leaf_of_label[tree.label_of_leaf], np.arange(1000))
    assert tree.level_sizes == level_sizes(1000, k=8, height=2) == [1, 16, 128, 1000]
    for depth, level in enumerate(tree.levels, start=1):
        fanout = np.diff(level.children_indptr)
        assert fanout.sum() == level.n_nodes and fanout.min() >= 1
        if depth > 1:  # only the root may have more than K children
            assert fanout.max() <= tree.k
    leaf_fanout = np.diff(tree.levels[-1].children_indptr)  # 1000 / 128: 7 or 8 labels each
    assert set(leaf_fanout.tolist()) == {7, 8}


def test_appendix_a_level_sizes() -> None:
    assert level_sizes(670_091, k=8, height=3) == [1, 2_048, 16_384, 131_072, 670_091]
    assert level_sizes(501_008, k=64, height=1) == [1, 8_192, 501_008]
    assert level_sizes(2_812_281, k=8, height=3) == [1, 8_192, 65_536, 524_288, 2_812_281]


def test_appendix_a_amazon_670k_tree_is_built_with_those_counts() -> None:
    # featureless labels keep it cheap: the shape only depends on L, K, M, H
    n_labels = 670_091
    feats = sp.csr_matrix((n_labels, 1), dtype=np.float32)
    tree = build_tree_from_label_features(feats, k=8, height=3, progress=False, max_iter=1)
    assert tree.level_sizes == [1, 2_048, 16_384, 131_072, 670_091]
    assert np.diff(tree.levels[-1].children_indptr).max() <= 8


def test_smaller_analogue_counts() -> None:
    # L = 10,000, K = M = 8 (c = 3), H = 2: ceil(L / 2^d) <= 8 first at d = 11 (4.9; d = 10
    # gives 9.8), so S0 = 2^11 = 2,048 leaf parents, S1 = their 3rd ancestors at depth 8
    # (256 nodes), S2 = the root: sizes 1; 256; 2,048; 10,000.
    assert leaf_depth(10_000, 8) == 11
    x, y = random_data(2000, 100, 10_000, seed=1)
    tree = build_tree(x, y, k=8, height=2, progress=False, max_iter=3)
    assert tree.level_sizes == [1, 256, 2_048, 10_000]
    assert set(np.diff(tree.levels[-1].children_indptr).tolist()) == {4, 5}  # 10,000 / 2,048
    assert set(np.diff(tree.levels[1].children_indptr).tolist()) == {8}


# ----------------------------------------------------------------------------- Algorithm 2


def slow_node_labels(tree: LabelTree, labels: sp.csr_matrix, level: int) -> np.ndarray:
    """Algorithm 2 literally: walk from each positive label's leaf up to the root."""
    out = np.zeros((labels.shape[0], tree.n_nodes(level)), dtype=np.float32)
    for i in range(labels.shape[0]):
        for label in labels[i].indices:
            node, depth = tree.leaf_of_label[label], tree.height + 1
            while depth >= 1:
                if depth == level:
                    out[i, node] = 1.0
                node, depth = tree.levels[depth - 1].parent[node], depth - 1
    return out


def test_node_labels_match_algorithm_2(small_tree) -> None:
    tree, y = small_tree
    y = y[:80]
    for level in range(1, tree.height + 2):
        fast = tree.node_labels(y, level)
        assert fast.shape == (80, tree.n_nodes(level))
        np.testing.assert_array_equal(fast.toarray(), slow_node_labels(tree, y, level))
    leaves = tree.node_labels(y, tree.height + 1)  # leaf columns map back to label ids
    np.testing.assert_array_equal(leaves.toarray()[:, tree.leaf_of_label], y.toarray())


def test_children_lists_and_padding(small_tree) -> None:
    tree, _ = small_tree
    indptr, ids = tree.children(0, np.array([0]))
    np.testing.assert_array_equal(ids, np.arange(16))
    nodes = np.array([[3, 0], [15, 3]])
    indptr, ids = tree.children(1, nodes)
    assert indptr.tolist() == [0, 8, 16, 24, 32]
    for q, node in enumerate(nodes.ravel()):
        expected = np.flatnonzero(tree.levels[1].parent == node)
        assert set(ids[indptr[q] : indptr[q + 1]]) == set(expected)
    padded = tree.children_padded(2, nodes)
    assert padded.shape == (2, 2, 8)
    for node, row in zip(nodes.ravel(), padded.reshape(4, 8), strict=True):
        leaves = np.flatnonzero(tree.levels[2].parent == node)
        assert sorted(row[row >= 0].tolist()) == leaves.tolist()
        assert (row[len(leaves) :] == -1).all()
    with pytest.raises(ValueError):
        tree.children(3, np.array([0]))  # leaves have no children


# ----------------------------------------------------------------------------- determinism, io


def test_deterministic_given_seed_and_seed_matters() -> None:
    x, y = random_data(300, 100, 300, seed=7)

    def leaves(seed: int) -> np.ndarray:
        return build_tree(x, y, k=4, height=2, seed=seed, progress=False).label_of_leaf

    np.testing.assert_array_equal(leaves(0), leaves(0))
    assert any(not np.array_equal(leaves(0), leaves(s)) for s in (1, 2, 3))


def test_save_load_round_trip(small_tree, tmp_path) -> None:
    tree, y = small_tree
    path = tmp_path / "trees" / "tree.npz"
    tree.save(path)
    again = LabelTree.load(path)
    assert (again.k, again.m, again.height, again.level_sizes) == (8, 8, 2, tree.level_sizes)
    np.testing.assert_array_equal(again.label_of_leaf, tree.label_of_leaf)
    for a, b in zip(tree.levels, again.levels, strict=True):
        for field in ("parent", "children_indptr", "children_ids"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert (again.node_labels(y, 1) != tree.node_labels(y, 1)).nnz == 0
    assert "level 2: 128 nodes" in again.summary()
    assert [p.name for p in path.parent.iterdir()] == ["tree.npz"]  # no temporary left behind


def test_load_rejects_an_inconsistent_tree(small_tree, tmp_path) -> None:
    tree, _ = small_tree
    reversed_leaves = tree.label_of_leaf[::-1]  # no longer the inverse of leaf_of_label
    broken = LabelTree(tree.levels, tree.leaf_of_label, reversed_leaves, k=8, m=8)
    broken.save(tmp_path / "broken.npz")
    with pytest.raises(ValueError):
        LabelTree.load(tmp_path / "broken.npz")


# ----------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("n_labels", [1, 2, 5, 8])
def test_at_most_k_labels_give_root_and_leaves(n_labels: int) -> None:
    x, y = random_data(20, 10, n_labels)
    tree = build_tree(x, y, k=8, height=3, progress=False)
    tree.validate()
    assert tree.height == 0 and tree.level_sizes == [1, n_labels]
    assert tree.node_labels(y, 1).shape == (20, n_labels)


def test_height_zero_is_flat() -> None:
    x, y = random_data(50, 20, 100)
    tree = build_tree(x, y, k=8, height=0, progress=False)
    assert tree.level_sizes == [1, 100]
    np.testing.assert_array_equal(tree.label_of_leaf, np.arange(100))


@pytest.mark.parametrize(
    ("n_labels", "k", "height", "sizes"),
    [
        (9, 8, 3, [1, 2, 9]),  # ceil(9/2) = 5 <= 8: depth 1; depths 1 - 3 < 1 are dropped
        (100, 8, 3, [1, 2, 16, 100]),  # depth 4 (7 per cluster), then depth 1
        (37, 2, 3, [1, 8, 16, 32, 37]),  # c = 1, M = 2: ceil(37/16) = 3 > 2, so depth 5; 4; 3
        (1000, 4, 1, [1, 256, 1000]),  # H = 1: the root sits right above the leaf parents
    ],
)
def test_small_and_odd_label_counts(n_labels: int, k: int, height: int, sizes: list[int]) -> None:
    x, y = random_data(80, 30, n_labels)
    tree = build_tree(x, y, k=k, height=height, progress=False)
    tree.validate()
    assert tree.level_sizes == level_sizes(n_labels, k=k, height=height) == sizes


def test_featureless_labels_are_spread_over_clusters() -> None:
    x, y = random_data(100, 50, 64)
    y = sp.hstack([y, sp.csr_matrix((100, 64))]).tocsr()  # labels 64..127 have no document
    tree = build_tree(x, y, k=8, height=1, progress=False)
    tree.validate()
    parent = tree.levels[-1].parent[tree.leaf_of_label]  # (L,) leaf parent of each label
    assert np.bincount(parent).max() <= 8 and np.unique(parent[64:]).size > 1


def test_invalid_arguments() -> None:
    x, y = random_data(20, 10, 30)
    with pytest.raises(ValueError):
        build_tree(x, y, k=6, progress=False)
    with pytest.raises(ValueError):
        build_tree(x, y, k=8, m=1, progress=False)
    with pytest.raises(ValueError):
        build_tree(x, y[:10], progress=False)
