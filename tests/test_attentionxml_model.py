"""AttentionXML network pieces: masking, shapes, gradients, attention, formulations, SWA, setup."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from xmcbench_attentionxml.method import AttentionXML  # noqa: E402
from xmcbench_attentionxml.model import AttentionXMLNet, ModelConfig  # noqa: E402
from xmcbench_attentionxml.params import FIELDS  # noqa: E402

from xmcbench.deep.batching import bucketed_batches, prediction_blocks  # noqa: E402
from xmcbench.deep.clipping import AdaptiveClipper  # noqa: E402
from xmcbench.deep.embedding_init import ppmi_svd_embeddings  # noqa: E402
from xmcbench.deep.encoder import BiLSTMEncoder  # noqa: E402
from xmcbench.deep.swa import WeightAverage  # noqa: E402
from xmcbench.types import Split  # noqa: E402

V, L = 40, 6


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and one thread never spin-waits on busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_net(impl: str = "fast", fc: tuple[int, ...] = (12,), seed: int = 0) -> AttentionXMLNet:
    torch.manual_seed(seed)
    config = ModelConfig(
        vocab_size=V, n_labels=L, embedding_dim=16, hidden_size=8, fc_sizes=fc, attention_impl=impl
    )
    return AttentionXMLNet(config)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Three documents of lengths 7, 4 and 1, zero-padded to width 7."""
    gen = torch.Generator().manual_seed(1)
    tokens = torch.randint(2, V, (3, 7), generator=gen)
    lengths = torch.tensor([7, 4, 1])
    tokens[torch.arange(7)[None, :] >= lengths[:, None]] = 0
    return tokens, lengths


def test_shapes_for_all_labels_and_for_candidates() -> None:
    net = tiny_net().eval()
    tokens, lengths = batch()
    assert net(tokens, lengths).shape == (3, L)
    candidates = torch.tensor([[0, 5], [1, 2], [3, 3]])
    assert net(tokens, lengths, candidates).shape == (3, 2)
    assert net.attention_weights(tokens, lengths).shape == (3, 7, L)


def test_bf16_autocast_keeps_label_scores_apart() -> None:
    """With a rare-label prior (logits near -9) bf16 logits are 1/16 apart and would tie; the
    shared bias is added in fp32, so bf16 scores stay within bf16 precision of the fp32 ones."""
    net = tiny_net().eval()
    net.set_label_prior(1e-4)
    tokens, lengths = batch()
    with torch.no_grad():
        exact = net(tokens, lengths)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            scores = net(tokens, lengths)
    assert scores.dtype == torch.float32
    assert float((scores - exact).abs().max()) < 0.005  # a 1/16 grid would be off by up to 0.03
    assert len(set(scores[0].tolist())) == L  # no ties


def test_extra_padding_does_not_change_scores() -> None:
    net = tiny_net(fc=(12, 10)).eval()
    tokens, lengths = batch()
    wider = torch.cat([tokens, torch.zeros(3, 9, dtype=tokens.dtype)], dim=1)  # 9 more pad columns
    with torch.no_grad():
        torch.testing.assert_close(net(wider, lengths), net(tokens, lengths), rtol=0, atol=1e-6)
        alone = net(tokens[1:2, :4], lengths[1:2])  # document 1 in a batch of its own, no padding
        torch.testing.assert_close(alone, net(tokens, lengths)[1:2], rtol=0, atol=1e-6)


def test_encoder_equals_a_packed_bidirectional_lstm() -> None:
    """The length-reversal trick computes exactly what pack_padded_sequence would."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    encoder = BiLSTMEncoder(5, 4)
    packed_lstm = torch.nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(packed_lstm, name).copy_(getattr(encoder.forward_lstms[0], name))
            getattr(packed_lstm, name + "_reverse").copy_(getattr(encoder.backward_lstms[0], name))
    x, lengths = torch.randn(4, 9, 5), torch.tensor([9, 3, 1, 6])
    h0 = encoder.h0[0][:, None, :].expand(-1, 4, -1).contiguous()  # (directions, b, hidden)
    c0 = encoder.c0[0][:, None, :].expand(-1, 4, -1).contiguous()
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(packed_lstm(packed, (h0, c0))[0], batch_first=True)
    with torch.no_grad():
        torch.testing.assert_close(encoder(x, lengths), expected, rtol=1e-5, atol=1e-6)


def test_gradients_reach_embedding_lstm_attention_and_fc() -> None:
    net = tiny_net(fc=(12, 10)).train()
    tokens, lengths = batch()
    net(tokens, lengths).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert net.encoder.h0.grad.abs().sum() > 0  # the learned initial states train too
    assert torch.all(net.embedding.weight.grad[0] == 0)  # padding row never moves


def test_frozen_embedding_gets_no_gradient() -> None:
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=V,
        n_labels=L,
        embedding_dim=16,
        hidden_size=8,
        fc_sizes=(12,),
        freeze_embedding=True,
    )
    net = AttentionXMLNet(config)
    tokens, lengths = batch()
    net(tokens, lengths).sum().backward()
    assert net.embedding.weight.grad is None


def test_attention_sums_to_one_over_real_tokens_and_is_zero_on_padding() -> None:
    net = tiny_net().eval()
    tokens, lengths = batch()
    with torch.no_grad():
        alpha = net.attention_weights(tokens, lengths)  # (b, T, L)
        sub = net.attention_weights(tokens, lengths, torch.tensor([[4], [0], [2]]))  # (b, T, 1)
    for a in (alpha, sub):
        torch.testing.assert_close(a.sum(dim=1), torch.ones(a.shape[0], a.shape[2]))
        pad = torch.arange(7)[None, :] >= lengths[:, None]  # (b, T)
        assert torch.all(a[pad] == 0)


@pytest.mark.parametrize("fc", [(12,), (12, 10)])
def test_fast_and_reference_formulations_agree(fc: tuple[int, ...]) -> None:
    fast, reference = tiny_net("fast", fc).eval(), tiny_net("reference", fc).eval()
    reference.load_state_dict(fast.state_dict())
    tokens, lengths = batch()
    candidates = torch.tensor([[0, 5, 2], [1, 2, 1], [3, 4, 0]])
    with torch.no_grad():
        torch.testing.assert_close(
            fast(tokens, lengths), reference(tokens, lengths), rtol=1e-5, atol=1e-6
        )
        torch.testing.assert_close(
            fast(tokens, lengths, candidates),
            reference(tokens, lengths, candidates),
            rtol=1e-5,
            atol=1e-6,
        )


def test_candidate_subset_equals_full_forward_restricted() -> None:
    net = tiny_net(fc=(12, 10)).eval()
    tokens, lengths = batch()
    candidates = torch.tensor([[5, 0, 3], [2, 2, 4], [1, 0, 5]])
    with torch.no_grad():
        full = net(tokens, lengths)
        torch.testing.assert_close(
            net(tokens, lengths, candidates),
            torch.gather(full, 1, candidates),
            rtol=1e-5,
            atol=1e-6,
        )


def test_swa_average_is_the_mean_of_the_snapshots() -> None:
    net = tiny_net()
    swa, snapshots = WeightAverage(), []
    gen = torch.Generator().manual_seed(3)
    for _ in range(4):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn(p.shape, generator=gen))
        swa.update(net)
        snapshots.append({k: v.clone() for k, v in net.named_parameters()})
    current = {k: v.clone() for k, v in net.named_parameters()}
    with swa.swapped_in(net):
        for name, p in net.named_parameters():
            expected = torch.stack([s[name] for s in snapshots]).mean(dim=0)
            torch.testing.assert_close(p.detach(), expected, rtol=1e-6, atol=1e-6)
    for name, p in net.named_parameters():  # the live weights come back untouched
        assert torch.equal(p, current[name])


def test_adaptive_clipper_follows_recent_norms() -> None:
    p = torch.nn.Parameter(torch.zeros(4))
    clipper = AdaptiveClipper(factor=2.0, window=3, cap=1.0)
    for _ in range(3):  # the window starts at infinity: nothing is clipped until it fills
        p.grad = torch.full((4,), 0.25)  # norm 0.5
        assert clipper([p]) == (pytest.approx(0.5), False)
    assert clipper.threshold == pytest.approx(1.0)  # 2 x 0.5
    p.grad = torch.full((4,), 5.0)  # norm 10 > 1.0
    norm, clipped = clipper([p])
    assert clipped and norm == pytest.approx(10.0)
    assert float(p.grad.norm()) == pytest.approx(1.0, rel=1e-4)
    assert clipper.threshold == pytest.approx(2.0)  # 10 recorded as min(10, 2 x 0.5, cap 1)


def test_bucketed_batches_cover_every_row_once_and_repeat_per_epoch() -> None:
    lengths = np.random.default_rng(0).integers(1, 50, size=103)
    first = bucketed_batches(lengths, 10, seed=4, epoch=2)
    assert sorted(np.concatenate(first).tolist()) == list(range(103))
    again = bucketed_batches(lengths, 10, seed=4, epoch=2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    other = bucketed_batches(lengths, 10, seed=4, epoch=3)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    blocks = list(prediction_blocks(lengths, 16, n_scores=1000, budget=100_000))
    assert sorted(np.concatenate(blocks).tolist()) == list(range(103))
    assert all(len(b) * lengths[b].max() * 1000 <= 100_000 or len(b) == 1 for b in blocks)


def test_ppmi_embeddings_place_cooccurring_words_together() -> None:
    rng = np.random.default_rng(0)
    docs = []
    for i in range(300):  # words 2 and 3 share their contexts (4 _ 5); 6..59 are noise
        doc = rng.integers(6, 60, size=20)
        doc[5:8] = (4, 2 + i % 2, 5)
        docs.append(doc)
    tokens = np.concatenate(docs).astype(np.int32)
    offsets = np.arange(0, 20 * 301, 20, dtype=np.int64)
    split = Split(
        "train",
        tokens,
        offsets,
        sp.csr_matrix((300, 2), dtype=np.float32),
        tuple(f"w{i}" for i in range(60)),
        ("a", "b"),
    )
    emb = ppmi_svd_embeddings(split, dim=8, window=2, max_words=100)
    assert emb.shape == (60, 8) and np.all(emb[0] == 0)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-9)
    sims = unit[2] @ unit[6:].T
    assert unit[2] @ unit[3] > np.max(sims)


def test_params_resolve_presets_and_explicit_values() -> None:
    method = AttentionXML("eurlex-4k", hidden_size=32, seed=3, device="cpu")
    params = method.get_params()
    assert params["preset"] == "eurlex-4k" and params["hidden_size"] == 32
    assert params["epochs"] == 30 and params["batch_size"] == 40 and params["freeze_embedding"]
    assert params["seed"] == 3 and params["device"] == "cpu"
    assert AttentionXML(device="cpu").get_params()["preset"] == "auto"  # the documented default
    assert method.hidden_size == 32 and method.epochs is None  # stored as given
    keywords = set(inspect.signature(AttentionXML.__init__).parameters) - {"self"}
    assert set(FIELDS) <= keywords
    with pytest.raises(ValueError, match="did you mean"):
        AttentionXML("eurlex4k")
    with pytest.raises(ValueError, match="attention_impl"):
        AttentionXML(attention_impl="slow")


def test_listing_the_plugin_does_not_import_torch() -> None:
    code = (
        "import sys, xmcbench_attentionxml.plugin as p; "
        "assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
