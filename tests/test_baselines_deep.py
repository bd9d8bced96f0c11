"""Deep baselines: XML-CNN's dynamic max-pooling, BiLSTM + max-pool, fitting, aliases, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xmcbench_baselines.bilstm_maxpool import (  # noqa: E402
    BiLSTMMaxPool,
    BiLSTMMaxPoolConfig,
    BiLSTMMaxPoolNet,
)
from xmcbench_baselines.deep_common import dynamic_max_pool  # noqa: E402
from xmcbench_baselines.xmlcnn import XMLCNN, XMLCNNConfig, XMLCNNNet  # noqa: E402

import xmcbench.deep.encoder  # noqa: E402
from xmcbench.data.resolve import load_dataset  # noqa: E402
from xmcbench.metrics import precision_at_k  # noqa: E402
from xmcbench.plugins import get_plugins  # noqa: E402
from xmcbench.runner import build_method  # noqa: E402
from xmcbench.types import Dataset  # noqa: E402

VOCAB, LABELS = 40, 6
TINY_NET = {"embedding_dim": 8, "bottleneck_size": 16, "embedding_dropout": 0.0, "dropout": 0.0}
TINY_FIT = {
    "preset": "demo",
    "embedding_dim": 32,
    "bottleneck_size": 64,
    "embedding_init": "random",
    "epochs": 10,
    "lr": 1e-2,
    "batch_size": 16,
    "eval_every": 20,
    "progress": False,
}
FIT_PARAMS = {
    "xml-cnn": {**TINY_FIT, "num_filters": 16},
    "bilstm-maxpool": {**TINY_FIT, "hidden_size": 16},
}


def xmlcnn_net(chunks: int) -> XMLCNNNet:
    config = XMLCNNConfig(
        VOCAB, LABELS, filter_sizes=(2, 4, 8), num_filters=5, pooling_chunks=chunks, **TINY_NET
    )
    return XMLCNNNet(config).eval()


def bilstm_net(chunks: int = 1) -> BiLSTMMaxPoolNet:
    config = BiLSTMMaxPoolConfig(
        VOCAB, LABELS, hidden_size=4, pooling_chunks=chunks, encoder_dropout=0.0, **TINY_NET
    )
    return BiLSTMMaxPoolNet(config).eval()


def batch(lengths: list[int], width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(b, width) random token ids >= 1 with zeros (padding) past each length."""
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, VOCAB, (len(lengths), width), generator=gen)
    lens = torch.tensor(lengths)
    tokens[torch.arange(width)[None, :] >= lens[:, None]] = 0
    return tokens, lens


# ----------------------------------------------------------------------------- dynamic max-pooling


def test_dynamic_max_pool_takes_chunk_maxima_and_ignores_padding() -> None:
    h = torch.tensor([[[1.0, 5.0, 2.0, 7.0, 3.0, 99.0, 99.0]]])  # (1, 1, 7): last two are padding
    assert dynamic_max_pool(h, torch.tensor([5]), 2).tolist() == [[5.0, 7.0]]  # [0, 2), [2, 5)
    assert dynamic_max_pool(h, torch.tensor([5]), 1).tolist() == [[7.0]]
    # two real positions, four chunks: every chunk repeats a real position, never padding
    assert dynamic_max_pool(h, torch.tensor([2]), 4).tolist() == [[1.0, 1.0, 5.0, 5.0]]
    assert dynamic_max_pool(-h, torch.tensor([1]), 3).tolist() == [[-1.0, -1.0, -1.0]]


@pytest.mark.parametrize("chunks", [1, 3])
@pytest.mark.parametrize("width", [1, 2, 5, 12])
def test_xmlcnn_features_have_filters_x_widths_x_chunks(chunks: int, width: int) -> None:
    """Also for sequences shorter than p and than the widest filter (8)."""
    net = xmlcnn_net(chunks)
    tokens, lens = batch([width, max(1, width - 1), 1], width)
    with torch.no_grad():
        out = net.features(tokens, lens)
    assert out.shape == (3, 5 * 3 * chunks)
    assert torch.isfinite(out).all()
    assert net(tokens, lens).shape == (3, LABELS)


@pytest.mark.parametrize("make", [xmlcnn_net, bilstm_net], ids=["xml-cnn", "bilstm-maxpool"])
@pytest.mark.parametrize("chunks", [1, 3])
def test_padding_a_document_does_not_change_its_output(make, chunks: int) -> None:
    net = make(chunks)
    tokens, lens = batch([11, 6, 2, 1], 11, seed=3)
    with torch.no_grad():
        together = net(tokens, lens)  # (4, L), padded to the longest document
        wider = net(torch.nn.functional.pad(tokens, (0, 9)), lens)  # 9 more padding columns
        alone = torch.cat([net(tokens[i : i + 1, : lens[i]], lens[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(wider, alone, rtol=1e-5, atol=1e-6)


def test_bilstm_maxpool_reuses_attentionxmls_encoder_class() -> None:
    from xmcbench_attentionxml import model as attentionxml_model

    net = bilstm_net()
    assert type(net.encoder) is xmcbench.deep.encoder.BiLSTMEncoder
    assert attentionxml_model.BiLSTMEncoder is xmcbench.deep.encoder.BiLSTMEncoder
    tokens, lens = batch([7, 3], 7)
    with torch.no_grad():
        assert net.features(tokens, lens).shape == (2, 2 * 4)  # both directions, max over time


def test_candidates_score_like_the_full_output() -> None:
    net = xmlcnn_net(2)
    tokens, lens = batch([9, 4], 9)
    candidates = torch.tensor([[5, 0, 2], [1, 1, 4]])
    with torch.no_grad():
        full, some = net(tokens, lens), net(tokens, lens, candidates)
    torch.testing.assert_close(some, torch.gather(full, 1, candidates))


@pytest.mark.parametrize("make", [xmlcnn_net, bilstm_net], ids=["cnn", "lstm"])
def test_label_prior_starts_every_output_at_the_mean_label_frequency(make) -> None:
    net = make(2)
    net.set_label_prior(0.01)  # what fit() does, as for AttentionXML: no popular-label plateau
    bias = net.head.output.bias
    torch.testing.assert_close(torch.sigmoid(bias), torch.full_like(bias, 0.01))


# ----------------------------------------------------------------------------- registry


def test_attentionxml_noswa_resolves_to_swa_false() -> None:
    methods = get_plugins().methods
    plain = build_method(methods.get("attentionxml"), {"preset": "demo"}, seed=0, device="cpu")
    noswa = build_method(methods.get("attentionxml-noswa"), {"preset": "demo"}, 0, "cpu")
    assert plain.get_params()["swa"] is True
    assert noswa.get_params()["swa"] is False
    assert {k: v for k, v in noswa.get_params().items() if k != "swa"} == {
        k: v for k, v in plain.get_params().items() if k != "swa"
    }


def test_registered_classes_and_presets() -> None:
    methods = get_plugins().methods
    xmlcnn = build_method(methods.get("xml-cnn"), {}, seed=0, device="cpu")
    assert isinstance(xmlcnn, XMLCNN) and xmlcnn.get_params()["preset"] == "cpu"
    paper = XMLCNN("paper").get_params()
    assert paper["filter_sizes"] == [2, 4, 8] and paper["num_filters"] == 128
    assert paper["bottleneck_size"] == 512 and paper["dropout"] == 0.5
    assert BiLSTMMaxPool("paper").get_params()["hidden_size"] == 256
    with pytest.raises(TypeError, match="hidden_size"):
        XMLCNN(**{"hidden_size": 3})
    with pytest.raises(ValueError, match="preset"):
        BiLSTMMaxPool("dmeo")


# ----------------------------------------------------------------------------- fit, predict, save


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)


@pytest.mark.parametrize("name", ["xml-cnn", "bilstm-maxpool"])
def test_fits_beats_popularity_and_round_trips(tiny: Dataset, name: str, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    method = build_method(get_plugins().methods.get(name), FIT_PARAMS[name], seed=0, device="cpu")
    method.fit(tiny.train, tiny.valid, tmp_path / "work")
    top = method.predict(tiny.test, 5)
    assert top.labels.shape == (len(tiny.test), 5) and top.labels.dtype == np.int32
    assert np.all(np.diff(top.scores, axis=1) <= 0)
    p1 = precision_at_k(top.labels, tiny.test.labels, 1)
    popular = int(np.argmax(np.asarray(tiny.train.labels.sum(axis=0))))
    baseline = float(tiny.test.labels[:, popular].mean())
    assert p1 > baseline + 0.1, (p1, baseline)
    assert (tmp_path / "work" / "best.pt").exists() and method.history_

    method.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "params.json").read_text())
    assert saved["method"] == name and saved["params"]["preset"] == "demo"
    loaded = type(method).load(tmp_path / "model")
    assert type(loaded.model_) is type(method.model_)
    assert loaded.get_params() == method.get_params()
    again = loaded.predict(tiny.test, 5)
    assert np.array_equal(again.labels, top.labels) and np.array_equal(again.scores, top.scores)
