"""AttentionXML on a label tree: candidates, beam search, ensembles, per-level resume, e2e."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from xmcbench_attentionxml import levels, path  # noqa: E402
from xmcbench_attentionxml.beam import beam_search  # noqa: E402
from xmcbench_attentionxml.candidates import (  # noqa: E402
    CandidateTrainingData,
    expand_candidates,
    is_member,
    select_parents,
)
from xmcbench_attentionxml.ensemble import average_topk  # noqa: E402
from xmcbench_attentionxml.method import AttentionXML  # noqa: E402
from xmcbench_attentionxml.model import AttentionXMLNet, ModelConfig  # noqa: E402
from xmcbench_attentionxml.presets import PRESETS  # noqa: E402
from xmcbench_attentionxml.tree import compress_tree  # noqa: E402

from xmcbench.deep.predict import PredictConfig  # noqa: E402
from xmcbench.metrics import precision_at_k  # noqa: E402
from xmcbench.types import Split  # noqa: E402

TINY = {
    "embedding_dim": 16, "hidden_size": 8, "fc_sizes": (8,), "embedding_init": "random",
    "swa": False, "eval_every": 50, "lr": 1e-2, "batch_size": 16, "progress": False,
    "device": "cpu", "tree_k": 4, "candidates": 4,
}  # fmt: skip


@pytest.fixture(scope="module")
def dataset():
    from xmcbench.data.resolve import load_dataset
    from xmcbench.plugins import get_plugins

    torch.set_num_threads(1)
    return load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)


def tiny_tree():
    """L = 20 labels, K = 4, H = 2: 4 nodes, 16 nodes, 20 leaves in a scrambled label order."""
    cluster = np.random.default_rng(3).permutation(np.arange(20) % 16)
    return compress_tree(cluster, 4, k=4, m=4, height=2)


def tiny_split(n: int = 7, vocab: int = 30, n_labels: int = 20) -> Split:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 9, size=n)  # one token: every label gets the same score
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    labels = sp.random(n, n_labels, density=0.15, format="csr", random_state=1, dtype=np.float32)
    labels.data[:] = 1.0
    return Split(
        name="t", tokens=rng.integers(2, vocab, size=offsets[-1]).astype(np.int32),
        offsets=offsets, labels=labels, vocab=tuple(f"w{i}" for i in range(vocab)),
        label_names=tuple(f"l{i}" for i in range(n_labels)),
    )  # fmt: skip


def tiny_net(n_outputs: int, seed: int) -> AttentionXMLNet:
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=30, n_labels=n_outputs, embedding_dim=16, hidden_size=8,
                         fc_sizes=(8,))  # fmt: skip
    return AttentionXMLNet(config).eval()


# ----------------------------------------------------------------------------- candidates


def test_select_parents_positives_first_then_by_score_fixed_count() -> None:
    beam = np.array([[5, 2, 7, 1], [3, 4, -1, -1]])  # best first
    truth = sp.csr_matrix(np.array([[0, 1, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 0, 0]]))
    out = select_parents(beam, truth, 3)
    # row 0: positive 1 is in the beam (after 5, 2), positive 8 is not; then 5, 2, 7 by score
    assert out.tolist()[0] == [1, 8, 5]
    assert out.tolist()[1] == [3, 4, -1]  # nothing more to keep
    assert select_parents(beam, truth, 6).tolist()[0] == [1, 8, 5, 2, 7, -1]


def test_candidates_are_children_of_parents_padded_to_a_fixed_count() -> None:
    tree = tiny_tree()
    parents = np.array([[2, 0], [3, -1]])
    rng = np.random.default_rng(0)
    cand = expand_candidates(tree, 2, parents, 10, rng)
    assert cand.shape == (2, 10)
    kids = [set(tree.children(1, [p])[1].tolist()) for p in range(4)]
    assert cand[0, :8].tolist() == sorted(kids[2]) + sorted(kids[0])  # parent order kept
    assert cand[1, :4].tolist() == sorted(kids[3])
    assert (cand >= 0).all() and (cand < tree.n_nodes(2)).all()  # padding: sampled real nodes
    assert expand_candidates(tree, 2, parents, 3, rng)[0].tolist() == sorted(kids[2])[:3]


def test_candidate_batches_have_correct_targets() -> None:
    tree, split = tiny_tree(), tiny_split()
    truth2 = tree.node_labels(split.labels, 2)
    parents = select_parents(np.zeros((len(split), 4), np.int64) - 1,
                             tree.node_labels(split.labels, 1), 3)  # fmt: skip
    data = CandidateTrainingData(split, tree, 2, parents, 8, 3, 10, seed=0)
    seen = 0
    for batch in data.batches(0):
        assert batch.candidates.shape == batch.targets.shape == (len(batch.tokens), 8)
        seen += len(batch.tokens)
    assert seen == len(split)
    rows = np.repeat(np.arange(len(split))[:, None], 8, axis=1)
    cand = expand_candidates(tree, 2, parents, 8, np.random.default_rng(0))
    dense = truth2.toarray()
    assert (is_member(rows, cand, truth2) == (dense[rows, cand] > 0)).all()
    # every positive level-2 node is a candidate when C covers the doc's positive parents
    n_pos = np.diff(tree.node_labels(split.labels, 1).indptr)
    for i in np.flatnonzero(n_pos <= 2):
        assert set(truth2[i].indices) <= set(cand[i].tolist())


# ----------------------------------------------------------------------------- beam search


def brute_force_leaf_probs(nets: list, tree, split: Split) -> np.ndarray:
    """(n, L) probability of every leaf: product of sigmoids along its path, all nodes scored."""
    tokens, lengths = (
        torch.from_numpy(split.padded().astype(np.int64)),
        torch.from_numpy(split.lengths),
    )
    with torch.no_grad():
        probs = [torch.sigmoid(net(tokens, lengths)).numpy() for net in nets]  # (n, N_d) each
    total = np.ones((len(split), tree.n_labels))
    for level in range(1, tree.height + 2):
        ancestor = tree.label_to_node(level)[tree.label_of_leaf]  # (leaves,) node at `level`
        total *= probs[level - 1][:, ancestor]
    return total


def test_beam_search_equals_brute_force_when_the_beam_is_wide() -> None:
    tree, split = tiny_tree(), tiny_split()
    nets = [tiny_net(tree.n_nodes(d), seed=d) for d in (1, 2, 3)]
    config = PredictConfig(max_len=10, batch_size=3, device=torch.device("cpu"))
    nodes, scores = beam_search(nets, tree, split, width=16, final_width=5, config=config)
    full = brute_force_leaf_probs(nets, tree, split)
    expected = np.argsort(-full, axis=1)[:, :5]
    assert (nodes == expected).all()
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, 1), rtol=1e-5)


def test_narrow_beam_keeps_the_top_c_parents_at_each_level() -> None:
    tree, split = tiny_tree(), tiny_split()
    nets = [tiny_net(tree.n_nodes(d), seed=10 + d) for d in (1, 2, 3)]
    config = PredictConfig(max_len=10, batch_size=4, device=torch.device("cpu"))
    nodes, scores = beam_search(nets, tree, split, width=2, final_width=3, config=config)
    tokens = torch.from_numpy(split.padded().astype(np.int64))
    with torch.no_grad():
        p = [torch.sigmoid(n(tokens, torch.from_numpy(split.lengths))).numpy() for n in nets]
    for i in range(len(split)):  # reference beam in plain python
        beam = {int(j): p[0][i, j] for j in np.argsort(-p[0][i])[:2]}
        for level in (2, 3):
            scored = {int(c): s * p[level - 1][i, c] for par, s in beam.items()
                      for c in tree.children(level - 1, [par])[1]}  # fmt: skip
            keep = 2 if level < 3 else 3
            beam = dict(sorted(scored.items(), key=lambda kv: -kv[1])[:keep])
        short = 3 - len(beam)  # two parents may hold fewer than 3 leaves: -1 / 0 slots
        assert list(beam) + [-1] * short == nodes[i].tolist()
        np.testing.assert_allclose([*beam.values()] + [0.0] * short, scores[i], rtol=1e-5)


def test_path_exponent_tempers_the_ancestors_of_the_last_level() -> None:
    tree, split = tiny_tree(), tiny_split()
    nets = [tiny_net(tree.n_nodes(d), seed=20 + d) for d in (1, 2, 3)]
    config = PredictConfig(max_len=10, batch_size=3, device=torch.device("cpu"))
    nodes, scores = beam_search(nets, tree, split, 16, 5, config, path_exponent=0.5)
    tokens, lengths = (
        torch.from_numpy(split.padded().astype(np.int64)),
        torch.from_numpy(split.lengths),
    )
    with torch.no_grad():
        leaf = torch.sigmoid(nets[2](tokens, lengths)).numpy()[
            :, tree.label_to_node(3)[tree.label_of_leaf]
        ]
    full = brute_force_leaf_probs(nets, tree, split)  # p1 * p2 * p3 of every leaf
    tempered = leaf * (full / leaf) ** 0.5  # p3 * (p1 * p2)^0.5
    expected = np.argsort(-tempered, axis=1)[:, :5]
    assert (nodes == expected).all()
    np.testing.assert_allclose(scores, np.take_along_axis(tempered, expected, 1), rtol=1e-4)


def test_path_exponent_is_chosen_on_validation_and_kept_by_save(dataset, tmp_path) -> None:
    kw = {**TINY, "tree_height": 1, "epochs": 1}
    paper = AttentionXML("demo", seed=2, **kw)
    assert paper.hyperparams().tree.path_exponent == 1.0  # the paper's product by default
    model = AttentionXML("demo", seed=2, path_exponent=0, **kw)  # 0: choose on validation
    model.fit(dataset.train, dataset.valid, tmp_path / "w")
    summary = model.training_summary_
    assert model.path_exponent_ in path.PATH_EXPONENTS
    assert summary["path_exponent"] == model.path_exponent_
    scores = summary["path_exponent_ndcg@5"]
    assert max(scores.values()) == scores[f"{model.path_exponent_:g}"]
    model.save(tmp_path / "m")
    again = AttentionXML.load(tmp_path / "m")
    assert again.path_exponent_ == model.path_exponent_
    want, got = model.predict(dataset.test, 5), again.predict(dataset.test, 5)
    assert (want.labels == got.labels).all()
    model.path_exponent_ = 1.0 if model.path_exponent_ != 1.0 else 0.25
    assert not np.allclose(model.predict(dataset.test, 5).scores, want.scores)
    # one tree of an ensemble (a parallel worker, or a job for merge) does not choose alone
    part = AttentionXML("demo", seed=2, path_exponent=0, trees=2, tree_id=1, **kw)
    part.fit(dataset.train, dataset.valid, tmp_path / "part")
    assert "path_exponent" not in part.training_summary_ and part.path_exponent_ is None
    assert part._path_exponent(part.hyperparams()) == 1.0  # it predicts with the paper's


def test_choosing_the_path_exponent_prefers_the_papers_on_ties(monkeypatch) -> None:
    tree, split = tiny_tree(), tiny_split()
    nets = [tiny_net(tree.n_nodes(d), seed=30 + d) for d in (1, 2, 3)]
    config = PredictConfig(max_len=10, batch_size=3, device=torch.device("cpu"))
    model = levels.TreeModel(tree, nets)
    monkeypatch.setattr(path, "ndcg_at_k", lambda *args: 0.5)  # every exponent scores the same
    assert path.choose_exponent([model], split, 4, config)[0] == 1.0
    monkeypatch.undo()
    chosen, scores = path.choose_exponent([model], split, 4, config)
    assert set(scores) == set(path.PATH_EXPONENTS) and scores[chosen] == max(scores.values())
    flat = levels.TreeModel(SimpleNamespace(height=0), [nets[0]])  # no ancestors to weigh
    assert path.choose_exponent([flat], split, 4, config) == (1.0, {})


# ----------------------------------------------------------------------------- ensembles


def test_average_over_trees_counts_a_missing_label_as_zero() -> None:
    a_lab, a_sco = np.array([[3, 1, 2]]), np.array([[0.9, 0.5, 0.1]])
    b_lab, b_sco = np.array([[1, 4, -1]]), np.array([[0.8, 0.6, 0.0]])
    top = average_topk([a_lab, b_lab], [a_sco, b_sco], 4)
    assert top.labels.tolist() == [[1, 3, 4, 2]]
    np.testing.assert_allclose(top.scores[0], [0.65, 0.45, 0.3, 0.05], rtol=1e-6)


def test_merging_separate_trees_equals_training_both_in_one_job(dataset, tmp_path) -> None:
    kw = {**TINY, "tree_height": 1, "epochs": 2}
    both = AttentionXML("demo", seed=5, trees=2, **kw)
    both.fit(dataset.train, dataset.valid, tmp_path / "both")
    paths = []
    for i in (1, 0):
        single = AttentionXML("demo", seed=5, trees=2, tree_id=i, **kw)
        single.fit(dataset.train, dataset.valid, tmp_path / f"w{i}")
        single.save(tmp_path / f"m{i}")
        paths.append(tmp_path / f"m{i}")
    merged = AttentionXML.merge(paths)
    want, got = both.predict(dataset.test, 5), merged.predict(dataset.test, 5)
    assert [t.tree_id for t in merged.tree_models_] == [0, 1]
    assert (want.labels == got.labels).all()
    np.testing.assert_allclose(want.scores, got.scores, rtol=1e-6)
    # and the ensemble is the mean of its trees' own scores
    per_tree = [AttentionXML.load(p).predict(dataset.test, 100) for p in paths]
    label = want.labels[0, 0]
    mean = sum(float(t.scores[0][t.labels[0] == label].sum()) for t in per_tree) / 2
    assert want.scores[0, 0] == pytest.approx(mean, rel=1e-5)
    with pytest.raises(ValueError, match="same tree twice"):
        AttentionXML.merge([paths[0], paths[0]])


# ----------------------------------------------------------------------------- levels


def test_level_starts_from_the_level_above_except_attention(monkeypatch) -> None:
    above, below = tiny_net(4, seed=0), tiny_net(16, seed=1)
    copied = levels.init_from_level_above(below, above)
    assert not any(name.startswith("head.attention") for name in copied)
    for name, value in below.state_dict().items():
        if name.startswith("head.attention"):
            assert value.shape[0] == 16
        else:
            assert name in copied and torch.equal(value, above.state_dict()[name])


def test_parent_init_scores_every_node_as_its_parent_at_first() -> None:
    above, below = tiny_net(4, seed=0), tiny_net(16, seed=1)
    parent = np.repeat(np.arange(4), 4)[::-1].copy()  # (16,) node j's parent in `above`
    copied = levels.init_from_level_above(below, above, parent)
    assert "head.attention.weight" in copied
    tokens = torch.randint(1, 30, (3, 7))  # (b, T)
    with torch.no_grad():
        lengths = torch.tensor([7, 5, 2])
        before, after = above(tokens, lengths), below(tokens, lengths)  # (3, 4), (3, 16)
    assert torch.allclose(after, before[:, torch.as_tensor(parent)], atol=1e-5)
    random_start = tiny_net(16, seed=1)
    levels.init_from_level_above(random_start, above)  # the paper's: attention stays random
    with torch.no_grad():
        assert not torch.allclose(random_start(tokens, lengths), after, atol=1e-3)


def test_training_initialises_each_level_from_the_one_above(dataset, tmp_path, monkeypatch) -> None:
    calls = []
    original = levels.init_from_level_above

    def spy(net, above, parent=None):
        calls.append((net.config.n_labels, above.config.n_labels))
        return original(net, above, parent)

    monkeypatch.setattr(levels, "init_from_level_above", spy)
    method = AttentionXML("demo", seed=0, tree_height=2, epochs=1, **TINY)
    method.fit(dataset.train, dataset.valid, tmp_path)
    sizes = method.tree_models_[0].tree.level_sizes
    assert calls == [(sizes[2], sizes[1]), (sizes[3], sizes[2])]


def test_each_level_starts_at_the_log_odds_of_its_positive_rate(
    dataset, tmp_path, monkeypatch
) -> None:
    rates = []
    original = AttentionXMLNet.set_label_prior

    def spy(net, rate):
        rates.append(rate)
        original(net, rate)

    monkeypatch.setattr(AttentionXMLNet, "set_label_prior", spy)
    method = AttentionXML("demo", seed=0, tree_height=1, epochs=1, max_steps=1, **TINY)
    method.fit(dataset.train, dataset.valid, tmp_path)
    tree, n = method.tree_models_[0].tree, len(dataset.train)
    level1 = tree.node_labels(dataset.train.labels, 1).nnz / (n * tree.n_nodes(1))
    scored = levels.candidate_count(method.hyperparams().tree, tree, 2)  # fixed candidates per doc
    level2 = tree.node_labels(dataset.train.labels, 2).nnz / (n * scored)
    assert rates == pytest.approx([level1, level2])
    assert level1 < level2 < 0.5  # candidates are far denser in positives than all nodes


def test_interrupted_level_two_resumes_there(dataset, tmp_path) -> None:
    kw = {**TINY, "tree_height": 2, "epochs": 2}
    reference = AttentionXML("demo", seed=2, **kw)
    reference.fit(dataset.train, dataset.valid, tmp_path / "ref")

    method = AttentionXML("demo", seed=2, **kw)
    seen: list[tuple[int, int]] = []

    def stop_in_level_two(step: int) -> None:
        seen.append((method.level_[1], step))
        if method.level_[1] == 2 and step == 5:
            raise KeyboardInterrupt

    method.step_callback = stop_in_level_two
    with pytest.raises(KeyboardInterrupt):
        method.fit(dataset.train, dataset.valid, tmp_path / "run")
    assert seen[-1] == (2, 5)
    seen.clear()
    method.fit(dataset.train, dataset.valid, tmp_path / "run")
    assert seen[0] == (2, 6)  # level 1 not retrained; level 2 goes on after its step 5
    assert {level for level, _ in seen} == {2, 3}
    want, got = reference.predict(dataset.test, 5), method.predict(dataset.test, 5)
    assert (want.labels == got.labels).all()  # the resumed run is the uninterrupted one


def test_tree_needs_tfidf_features(dataset, tmp_path) -> None:
    import dataclasses

    train = dataclasses.replace(dataset.train, features=None)
    method = AttentionXML("demo", seed=0, tree_height=1, epochs=1, **TINY)
    with pytest.raises(ValueError, match="TF-IDF"):
        method.fit(train, dataset.valid, tmp_path)


def test_paper_presets_for_extreme_datasets() -> None:
    assert (
        PRESETS["amazon-670k"]["tree_height"] == 3 and PRESETS["amazon-670k"]["candidates"] == 160
    )
    assert PRESETS["wiki-500k"]["tree_k"] == 64 and PRESETS["wiki-500k"]["candidates"] == 15
    assert PRESETS["amazon-3m"]["tree_k"] == 8 and PRESETS["amazon-3m"]["epochs"] == 5


def test_two_level_tree_beats_popularity_end_to_end(dataset, tmp_path) -> None:
    method = AttentionXML("demo", seed=0, tree_height=2, epochs=15, **TINY)
    method.fit(dataset.train, dataset.valid, tmp_path / "work")
    assert method.tree_models_[0].tree.height == 2
    method.save(tmp_path / "model")
    top = AttentionXML.load(tmp_path / "model").predict(dataset.test, 5)
    assert (top.labels == method.predict(dataset.test, 5).labels).all()
    counts = np.asarray(dataset.train.labels.sum(axis=0)).ravel()
    popular = np.tile(np.argsort(-counts, kind="stable")[:5], (len(dataset.test), 1))
    p1 = precision_at_k(top.labels, dataset.test.labels, 1)
    assert p1 > precision_at_k(popular, dataset.test.labels, 1) + 0.1
