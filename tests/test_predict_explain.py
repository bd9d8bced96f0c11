"""`xmcbench predict` and `explain` on saved runs: label names, scores, attention, errors."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from xmcbench_attentionxml.explain import network_attention  # noqa: E402
from xmcbench_attentionxml.levels import TreeModel  # noqa: E402
from xmcbench_attentionxml.method import AttentionXML  # noqa: E402
from xmcbench_attentionxml.model import AttentionXMLNet, ModelConfig  # noqa: E402
from xmcbench_attentionxml.tree import compress_tree  # noqa: E402

from xmcbench.cli import main  # noqa: E402
from xmcbench.data.encode import encode_texts  # noqa: E402
from xmcbench.data.resolve import load_dataset, local_files, resolve_spec  # noqa: E402
from xmcbench.errors import XMCBenchError  # noqa: E402
from xmcbench.explain import (  # noqa: E402
    Explanation,
    explain_document,
    resolve_label,
)
from xmcbench.explain_render import (  # noqa: E402
    explanation_html,
    explanation_text,
    print_explanation,
    shading,
)
from xmcbench.plugins import get_plugins  # noqa: E402
from xmcbench.predict import predict_texts, read_texts  # noqa: E402
from xmcbench.results.lookup import find_run  # noqa: E402
from xmcbench.results.store import load_topk  # noqa: E402
from xmcbench.types import Split  # noqa: E402

TINY_AXML = [
    "embedding_dim=16", "hidden_size=8", "fc_sizes=[16]", "embedding_init=random", "epochs=1",
    "trees=1", "max_len=64", "batch_size=32", "valid_size=20", "eval_every=5", "max_steps=10",
    "precision=fp32", "progress=false",
]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Record paths of a tiny AttentionXML run, a popularity run and a Parabel run."""
    torch.set_num_threads(1)
    results = tmp_path_factory.mktemp("results")
    sets = [arg for value in TINY_AXML for arg in ("--set", value)]
    for method, extra in (("attentionxml", sets), ("popularity", []), ("parabel", [])):
        argv = ["run", method, "--dataset", "synthetic-tiny", "--results", str(results), "--quiet"]
        assert main([*argv, *extra]) == 0
    return {m.name: next(m.glob("*.json")) for m in (results / "synthetic-tiny").iterdir()}


@pytest.fixture(scope="module")
def raw_test_texts() -> list[str]:
    spec, folder = resolve_spec("synthetic-tiny", get_plugins().datasets)
    return (local_files(spec, folder) / "test_texts.txt").read_text().splitlines()


def record_of(path: Path) -> dict:
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- predict


def test_new_texts_are_encoded_exactly_as_the_prepared_test_split(raw_test_texts) -> None:
    dataset = load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)
    split = encode_texts(raw_test_texts, dataset)
    assert np.array_equal(split.tokens, dataset.test.tokens)
    assert np.array_equal(split.offsets, dataset.test.offsets)
    # TF-IDF rebuilt from the training rows' document frequencies: the same features
    np.testing.assert_allclose(split.features.toarray(), dataset.test.features.toarray(), atol=1e-6)
    assert split.labels.nnz == 0 and split.label_names == dataset.test.label_names


@pytest.mark.parametrize("method", ["attentionxml", "parabel"])
def test_predict_on_the_raw_test_texts_reproduces_the_runs_predictions(
    runs, raw_test_texts, method
) -> None:
    """Token methods (AttentionXML) and TF-IDF methods (Parabel) alike."""
    path = runs[method]
    predictions = predict_texts(record_of(path), raw_test_texts, 5, get_plugins())
    stored = load_topk(path)
    labels = np.array([[i for i, _, _ in p.labels] for p in predictions])
    scores = np.array([[s for _, _, s in p.labels] for p in predictions])
    assert np.array_equal(labels, stored.labels)
    np.testing.assert_allclose(scores, stored.scores, atol=1e-5)
    dataset = load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)
    assert predictions[0].labels[0][1] == dataset.test.label_names[stored.labels[0, 0]]


def test_predict_cli_json_gives_popularity_names_and_frequencies(runs, capsys) -> None:
    record = record_of(runs["popularity"])
    argv = ["predict", "--run", str(runs["popularity"]), "--text", "kupe zobe", "--k", "3"]
    assert main([*argv, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    dataset = load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)
    counts = np.asarray(dataset.train.labels.sum(axis=0)).ravel() / len(dataset.train)
    best = np.argsort(-counts, kind="stable")[:3]
    (doc,) = out["documents"]
    assert out["run_id"] == record["run_id"] and doc["tokens"] == 2
    assert [item["label"] for item in doc["labels"]] == [dataset.train.label_names[i] for i in best]
    np.testing.assert_allclose([item["score"] for item in doc["labels"]], counts[best], atol=1e-6)


def test_predict_cli_table_by_id_prefix_names_labels(runs, tmp_path, capsys) -> None:
    results = runs["attentionxml"].parents[2]
    run_id = runs["attentionxml"].stem
    texts = tmp_path / "texts.txt"
    texts.write_text("kupe zobe feto nili\nunknownword kupe\n")
    argv = ["predict", "--run", run_id[:20], "--results", str(results), "--file", str(texts)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    dataset = load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)
    top = predict_texts(record_of(runs["attentionxml"]), ["kupe zobe feto nili"], 5, get_plugins())
    assert "text 1: kupe zobe feto nili" in out and "text 2: unknownword kupe" in out
    assert top[0].labels[0][1] in out and top[0].labels[0][1] in dataset.test.label_names
    assert f"{top[0].labels[0][2]:.4f}" in out
    assert "1 of 2 tokens in the vocabulary" in out


def test_predict_errors_are_one_clear_line(runs, tmp_path, capsys) -> None:
    results = runs["attentionxml"].parents[2]
    cases = {
        ("--run", "nosuchrun", "--text", "kupe"): "unknown run 'nosuchrun'",
        ("--run", "2", "--text", "kupe"): "is ambiguous: it matches",
        ("--run", runs["popularity"].stem, "--text", "  "): "--text is empty",
        ("--run", runs["popularity"].stem, "--text", "?!"): "has no words",
        ("--run", runs["popularity"].stem, "--file", str(tmp_path / "none.txt")): "cannot read",
    }
    for args, message in cases.items():
        assert main(["predict", "--results", str(results), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (args, err)

    broken = tmp_path / "broken.json"  # the record of a run whose model folder is gone
    record = record_of(runs["popularity"])
    broken.write_text(json.dumps({**record, "model_dir": str(tmp_path / "gone")}))
    assert main(["predict", "--run", str(broken), "--text", "kupe"]) == 2
    assert f"model folder {tmp_path / 'gone'} is missing" in capsys.readouterr().err


def test_read_texts_names_the_file_and_line_of_a_blank_document(tmp_path) -> None:
    path = tmp_path / "docs.txt"
    path.write_text("first doc\n\nthird doc\n")
    with pytest.raises(XMCBenchError, match=r"docs.txt:2: empty line"):
        read_texts(None, path)
    path.write_text("\n\n")
    with pytest.raises(XMCBenchError, match="no documents"):
        read_texts(None, path)
    path.write_text("one\ntwo\n")
    assert read_texts(None, path) == ["one", "two"]


def test_no_tfidf_is_rebuilt_when_the_features_came_from_files() -> None:
    dataset = load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)
    bow = type(dataset)(**{**dataset.__dict__, "info": {**dataset.info, "features": "files"}})
    assert encode_texts(["kupe"], bow).features is None


def test_find_run_by_path_id_and_prefix(runs) -> None:
    path = runs["parabel"]
    results = path.parents[2]
    assert find_run(str(path), results)[0] == path
    assert find_run(path.stem, results)[0] == path
    assert find_run(path.stem[:-3], results)[1].method == "parabel"


# ----------------------------------------------------------------------------- explain


def test_explain_weights_sum_to_one_over_the_documents_tokens(runs) -> None:
    record = record_of(runs["attentionxml"])
    dataset = load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)
    true_label = int(dataset.test.labels[3].indices[0])
    exp = explain_document(record, 3, dataset.test.label_names[true_label], get_plugins())
    doc = dataset.test.document(3)
    assert exp.label == true_label and exp.label_is_true
    assert exp.words == tuple(dataset.test.vocab[i] for i in doc)
    assert exp.weights.shape == (len(doc),) and (exp.weights >= 0).all()
    seen = min(len(doc), 64)  # the run's max_len: later tokens were never read
    assert exp.weights[:seen].sum() == pytest.approx(1.0, abs=1e-5)
    assert not exp.weights[seen:].any()
    stored = load_topk(runs["attentionxml"])
    assert [name for name, _, _ in exp.predictions] == [
        dataset.test.label_names[i] for i in stored.labels[3]
    ]
    truth = set(dataset.test.labels[3].indices)
    assert [t for _, _, t in exp.predictions] == [int(i) in truth for i in stored.labels[3]]


def test_explain_html_shows_tokens_label_and_top_predictions(runs, tmp_path, capsys) -> None:
    page = tmp_path / "page.html"
    argv = ["explain", "--run", str(runs["attentionxml"]), "--doc", "0", "--label", "5"]
    assert main([*argv, "--output", str(page)]) == 0
    record = record_of(runs["attentionxml"])
    exp = explain_document(record, 0, "5", get_plugins())
    text = page.read_text()
    out = capsys.readouterr().out
    assert exp.label_name in out and "top 5 predictions" in out
    assert f'Label <b class="label">{exp.label_name}</b> (#5)' in text
    spans = text.split('<div class="doc">')[1].split("</div>")[0]
    assert spans.count("<span") == len(exp.words)
    for word in set(exp.words):
        assert f">{word}</span>" in spans
    for name, score, true in exp.predictions:
        row = next(line for line in text.splitlines() if f"<td>{name}</td>" in line)
        assert f"{score:.4f}" in row and (("✓ true" in row) == true)
    assert html_weights(text) == pytest.approx(list(exp.weights), abs=1e-5)
    assert explanation_html(exp) == text


def html_weights(text: str) -> list[float]:
    return [float(part.split('"')[0]) for part in text.split('title="')[1:]]


def test_explain_errors(runs, capsys) -> None:
    cases = {
        (str(runs["popularity"]), "0", "0"): "does not expose attention weights",
        (
            str(runs["attentionxml"]),
            "100",
            "0",
        ): "--doc 100: the test split of synthetic-tiny has 100",
        (str(runs["attentionxml"]), "0", "t9/nope"): "unknown label 't9/nope'",
        (str(runs["attentionxml"]), "0", "48"): "label index 48 is out of range (0..47)",
    }
    for (run, doc, label), message in cases.items():
        assert main(["explain", "--run", run, "--doc", doc, "--label", label]) == 2
        assert message in capsys.readouterr().err


def test_shading_spans_the_documents_own_range_of_weights() -> None:
    near_uniform = np.array([0.24, 0.25, 0.26, 0.25])  # max-relative shading: 0.92..1, all hot
    assert shading(near_uniform) == pytest.approx([0.0, 0.5, 1.0, 0.5])
    read_then_unread = np.array([0.3, 0.5, 0.2, 0.0, 0.0])  # tokens past max_len weigh 0
    assert shading(read_then_unread) == pytest.approx([1 / 3, 1.0, 0.0, 0.0, 0.0])
    assert not shading(np.full(4, 0.25)).any()  # equal weights: no token stands out
    assert not shading(np.zeros(3)).any()


def explanation(weights: list[float]) -> Explanation:
    return Explanation(
        run_id="r1", method="m", dataset="d", doc=0, doc_id=None, label=2, label_name="t<2>",
        label_is_true=True, words=tuple(f"w{i}" for i in range(len(weights))),
        weights=np.array(weights), predictions=(("t<2>", 0.9, True), ("t1", 0.1, False)),
        true_labels=("t<2>",),
    )  # fmt: skip


def test_explain_html_of_a_near_uniform_document_spreads_its_shades() -> None:
    page = explanation_html(explanation([0.198, 0.199, 0.2, 0.201, 0.202]))
    shades = re.findall(r'<span style="background:rgb\((\d+), (\d+), (\d+)\)"', page)
    assert shades[0] == ("255", "255", "255") and shades[-1] == ("255", "120", "0")
    assert len(set(shades)) == 5  # five weights, five shades
    assert "t&lt;2&gt;" in page and "t<2>" not in page  # the template escapes


def test_piped_explain_prints_each_weight_without_colour_codes(runs, capsys) -> None:
    argv = ["explain", "--run", str(runs["attentionxml"]), "--doc", "0", "--label", "5"]
    assert main(argv) == 0  # capsys: stdout is not a terminal
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    exp = explain_document(record_of(runs["attentionxml"]), 0, "5", get_plugins())
    lines = out.splitlines()
    start = lines.index("position\ttoken\tweight") + 1
    rows = [line.split("\t") for line in lines[start : start + len(exp.words)]]
    assert [r[1] for r in rows] == list(exp.words)
    assert [float(r[2]) for r in rows] == pytest.approx(list(exp.weights), abs=1e-6)
    assert out.startswith(explanation_text(exp))


def test_a_terminal_gets_the_shaded_view() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=80)
    print_explanation(explanation([0.1, 0.2, 0.7]), console)
    shown = console.file.getvalue()
    assert "\x1b[" in shown and "48;2;255;120;0" in shown  # the top token's full orange
    assert "position\ttoken" not in shown


def test_resolve_label_prefers_a_name_then_an_index() -> None:
    names = ("a", "7", "b")
    assert resolve_label("b", names) == 2
    assert resolve_label("7", names) == 1  # a label named "7" wins over index 7
    assert resolve_label("0", names) == 0
    with pytest.raises(XMCBenchError, match="did you mean 'b'"):
        resolve_label("bb", ("b", "c"))


# ----------------------------------------------------------------------------- attention


def tiny_split(lengths: list[int], vocab: int = 30, n_labels: int = 20) -> Split:
    rng = np.random.default_rng(0)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Split(
        name="t",
        tokens=rng.integers(2, vocab, size=offsets[-1]).astype(np.int32),
        offsets=offsets,
        labels=sp.csr_matrix((len(lengths), n_labels), dtype=np.float32),
        vocab=tuple(f"w{i}" for i in range(vocab)),
        label_names=tuple(f"l{i}" for i in range(n_labels)),
    )


def tiny_net(n_outputs: int, seed: int) -> AttentionXMLNet:
    torch.manual_seed(seed)
    config = ModelConfig(
        vocab_size=30, n_labels=n_outputs, embedding_dim=8, hidden_size=4, fc_sizes=(8,)
    )
    return AttentionXMLNet(config).eval()


def test_network_attention_sums_to_one_and_ignores_tokens_past_max_len() -> None:
    split = tiny_split([3, 9, 5])
    net = tiny_net(20, 0)
    labels = np.array([[0, 7], [3, 19], [5, 5]])
    weights = network_attention(net, split, np.arange(3), labels, max_len=6, batch_size=2)
    assert [w.shape for w in weights] == [(3, 2), (9, 2), (5, 2)]
    for w in weights:
        np.testing.assert_allclose(w[:6].sum(axis=0), 1.0, atol=1e-6)
    assert not weights[1][6:].any()  # tokens 7..9 of the long document were never read
    np.testing.assert_allclose(weights[2][:, 0], weights[2][:, 1])  # same label twice


def test_tree_attention_uses_each_trees_leaf_level_for_the_label() -> None:
    """L = 20 labels on trees of 4, 16, 20 nodes; leaves are not label ids."""
    split = tiny_split([6, 4])
    models = []
    for seed in (3, 4):
        cluster = np.random.default_rng(seed).permutation(np.arange(20) % 16)
        tree = compress_tree(cluster, 4, k=4, m=4, height=2)
        nets = [tiny_net(4, seed), tiny_net(16, seed), tiny_net(20, 10 + seed)]
        models.append(TreeModel(tree, nets, tree_id=len(models)))
    method = AttentionXML("demo", device="cpu", max_len=50, trees=2, tree_height=2)
    method.tree_models_ = models
    labels = np.array([[2, 11], [0, 19]])
    weights = method.attention(split, np.arange(2), labels)
    expected = [np.zeros((6, 2)), np.zeros((4, 2))]
    for model in models:
        leaves = model.tree.leaf_of_label[labels]
        tokens = torch.from_numpy(split.padded().astype(np.int64))
        alpha = model.nets[-1].attention_weights(
            tokens, torch.from_numpy(split.lengths), torch.from_numpy(leaves)
        )
        for i, n in enumerate(split.lengths):
            expected[i] += alpha[i, :n].detach().numpy() / 2
    for got, want in zip(weights, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
        np.testing.assert_allclose(got.sum(axis=0), 1.0, atol=1e-6)


def test_a_network_without_attention_says_so() -> None:
    from xmcbench_baselines.xmlcnn import XMLCNN

    from xmcbench.capabilities import attention_weights, has_attention

    method = XMLCNN(device="cpu")
    assert not has_attention(method) and has_attention(AttentionXML(device="cpu"))
    with pytest.raises(XMCBenchError, match="'xml-cnn' does not expose attention weights"):
        attention_weights(method, "xml-cnn", tiny_split([3]), np.arange(1), np.array([[0]]))
