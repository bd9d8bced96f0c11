"""LazyAdam: rows without a gradient keep every bit, touched rows follow Adam; the model option."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from xmcbench_attentionxml.method import AttentionXML  # noqa: E402
from xmcbench_attentionxml.model import AttentionXMLNet, ModelConfig  # noqa: E402
from xmcbench_attentionxml.params import Hyperparams  # noqa: E402

from xmcbench.deep import distributed  # noqa: E402
from xmcbench.deep.batching import Batch  # noqa: E402
from xmcbench.deep.engine import TrainConfig, Trainer, build_optimizers  # noqa: E402
from xmcbench.deep.optim import LazyAdam  # noqa: E402
from xmcbench.errors import ParamError  # noqa: E402

VOCAB, LABELS = 40, 30


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors gain nothing from threads, and one thread never spin-waits on busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def embedding_step(table: nn.Embedding, opt: torch.optim.Optimizer, ids: list[int]) -> None:
    """One step on the loss sum(w . table[ids]) with fixed per-position weights."""
    opt.zero_grad(set_to_none=True)
    weights = torch.linspace(-1.0, 2.0, len(ids) * table.embedding_dim).view(len(ids), -1)
    (table(torch.tensor(ids)) * weights).sum().backward()
    opt.step()


def test_rows_without_gradient_keep_every_bit_rows_with_one_move() -> None:
    torch.manual_seed(0)
    table = nn.Embedding(10, 4, sparse=True)
    opt = LazyAdam(table.parameters(), lr=0.1)
    start = table.weight.detach().clone()
    embedding_step(table, opt, [1, 2, 3])  # rows 1-3 get a gradient once
    after_first = table.weight.detach().clone()
    moments = opt.state[table.weight]["exp_avg"].clone()
    for _ in range(4):  # then rows 2, 3 are never named again; 0 never at all
        embedding_step(table, opt, [1, 4, 4, 5])
    w = table.weight.detach()
    assert torch.equal(w[[0, 6, 7, 8, 9]], start[[0, 6, 7, 8, 9]])  # never touched
    assert torch.equal(w[[2, 3]], after_first[[2, 3]])  # touched once: not moved on stale moments
    assert torch.equal(opt.state[table.weight]["exp_avg"][[2, 3]], moments[[2, 3]])  # nor decayed
    assert not torch.equal(w[[1, 4, 5]], start[[1, 4, 5]])
    assert not torch.equal(w[1], after_first[1])  # touched every step: keeps moving


def test_adam_moves_rows_on_stale_moments_where_lazy_adam_does_not() -> None:
    """The drift LazyAdam removes: with dense Adam a row trained once keeps moving."""
    torch.manual_seed(0)
    table = nn.Embedding(10, 4)
    opt = torch.optim.Adam(table.parameters(), lr=0.1)
    embedding_step(table, opt, [2])
    after_first = table.weight.detach().clone()
    embedding_step(table, opt, [1])
    assert not torch.equal(table.weight.detach()[2], after_first[2])


def test_rows_touched_every_step_follow_adam() -> None:
    torch.manual_seed(0)
    sparse_table = nn.Embedding(12, 5, sparse=True)
    dense_table = nn.Embedding(12, 5)
    dense_table.load_state_dict(sparse_table.state_dict())
    lazy = LazyAdam(sparse_table.parameters(), lr=0.05, weight_decay=0.01)
    adam = torch.optim.Adam(dense_table.parameters(), lr=0.05, weight_decay=0.01)
    always = [0, 3, 7]
    for step in range(6):
        ids = torch.tensor([*always, 3, 7, 8 + step % 4])  # duplicates are summed
        scale = torch.linspace(0.5, 1.5, 5)  # (dim,)
        for table, opt in ((sparse_table, lazy), (dense_table, adam)):
            opt.zero_grad(set_to_none=True)
            (torch.tanh(table(ids)) * scale - 0.3).pow(2).sum().backward()
            opt.step()
    assert sparse_table.weight.grad.is_sparse
    torch.testing.assert_close(sparse_table.weight[always], dense_table.weight[always])
    assert not torch.equal(sparse_table.weight[always], dense_table.weight[always].add(1))


def test_dense_parameters_follow_adam() -> None:
    torch.manual_seed(0)
    linear, copy = nn.Linear(5, 3), nn.Linear(5, 3)
    copy.load_state_dict(linear.state_dict())
    lazy = LazyAdam(linear.parameters(), lr=0.05, weight_decay=0.01)
    adam = torch.optim.Adam(copy.parameters(), lr=0.05, weight_decay=0.01)
    x = torch.randn(8, 5)
    start = linear.weight.detach().clone()
    for _ in range(6):
        for layer, opt in ((linear, lazy), (copy, adam)):
            opt.zero_grad(set_to_none=True)
            torch.tanh(layer(x)).pow(2).sum().backward()
            opt.step()
    assert not torch.equal(linear.weight, start)
    for mine, theirs in zip(linear.parameters(), copy.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs)


def test_optimizer_state_round_trips_through_a_checkpoint() -> None:
    def fresh() -> tuple[nn.Embedding, nn.Linear, LazyAdam]:
        torch.manual_seed(0)
        table, linear = nn.Embedding(10, 4, sparse=True), nn.Linear(4, 1)
        return table, linear, LazyAdam([*table.parameters(), *linear.parameters()], lr=0.1)

    def step(table: nn.Embedding, linear: nn.Linear, opt: LazyAdam, ids: list[int]) -> None:
        opt.zero_grad(set_to_none=True)
        linear(table(torch.tensor(ids))).pow(2).sum().backward()
        opt.step()

    plan = [[1, 2], [2, 3], [4], [1, 5]]
    table, linear, opt = fresh()
    for ids in plan:
        step(table, linear, opt, ids)
    table2, linear2, opt2 = fresh()
    for ids in plan[:2]:
        step(table2, linear2, opt2, ids)
    buffer = io.BytesIO()
    torch.save({"model": [table2.state_dict(), linear2.state_dict()], "opt": opt2.state_dict()},
               buffer)  # fmt: skip
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # as checkpoint.load reads it
    table3, linear3, opt3 = fresh()
    table3.load_state_dict(saved["model"][0])
    linear3.load_state_dict(saved["model"][1])
    opt3.load_state_dict(saved["opt"])
    for ids in plan[2:]:
        step(table3, linear3, opt3, ids)
    assert torch.equal(table3.weight, table.weight)
    assert torch.equal(linear3.weight, linear.weight)


# ----------------------------------------------------------------------------- in the model


def level_net(optimizer: str) -> AttentionXMLNet:
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=VOCAB, n_labels=LABELS, embedding_dim=8, hidden_size=6, fc_sizes=(8,),
        embedding_dropout=0.0, encoder_dropout=0.0, optimizer=optimizer,
    )  # fmt: skip
    return AttentionXMLNet(config)


def candidate_batch(tokens: list[list[int]], candidates: list[list[int]]) -> Batch:
    cand = torch.tensor(candidates)  # (b, c)
    return Batch(
        torch.tensor(tokens),  # (b, T), no padding
        torch.full((len(tokens),), len(tokens[0])),
        (cand % 3 == 0).float(),  # (b, c)
        cand,
    )


def trained_rows(optimizer: str, tmp_path: Path) -> tuple[dict[str, torch.Tensor], ...]:
    """Attention and embedding weights at the start, after step 1 and after step 2 of a level.

    Step 1 scores candidates 0-5 of documents made of words 2-9, step 2 candidates 10-15 of
    words 10-17: rows 16-29 and words 18-39 get no gradient at all.
    """
    net = level_net(optimizer)
    trainer = Trainer(net, TrainConfig(epochs=1, lr=0.05, progress=False), torch.device("cpu"),
                      tmp_path, "lazy")  # fmt: skip

    def weights() -> dict[str, torch.Tensor]:
        return {
            "attention": net.head.attention.weight.detach().clone(),
            "embedding": net.embedding.weight.detach().clone(),
        }

    snapshots = [weights()]
    trainer.train_step(candidate_batch([[2, 3, 4, 5], [6, 7, 8, 9]], [[0, 1, 2], [3, 4, 5]]))
    snapshots.append(weights())
    trainer.train_step(
        candidate_batch([[10, 11, 12, 13], [14, 15, 16, 17]], [[10, 11, 12], [13, 14, 15]])
    )
    snapshots.append(weights())
    return tuple(snapshots)


def test_a_candidate_level_step_moves_only_its_candidates_and_words(tmp_path: Path) -> None:
    start, first, second = trained_rows("lazy", tmp_path)
    for name, seen1, seen2, never in (
        ("attention", range(0, 6), range(10, 16), range(16, LABELS)),
        ("embedding", range(2, 10), range(10, 18), range(18, VOCAB)),
    ):
        seen1, seen2, never = list(seen1), list(seen2), list(never)
        assert torch.equal(second[name][never], start[name][never]), name
        assert torch.equal(second[name][seen1], first[name][seen1]), name  # no stale moves
        assert not torch.equal(first[name][seen1], start[name][seen1]), name
        assert not torch.equal(second[name][seen2], first[name][seen2]), name


def test_the_dense_option_is_todays_adam(tmp_path: Path) -> None:
    net = level_net("dense")
    assert not net.embedding.sparse and not net.head.attention.sparse
    assert [type(o) for o in build_optimizers(net, 1e-3)] == [torch.optim.Adam]
    _, first, second = trained_rows("dense", tmp_path)
    # rows trained in step 1 keep moving in step 2 on their moments
    assert not torch.equal(second["attention"][:6], first["attention"][:6])
    assert not torch.equal(second["embedding"][2:10], first["embedding"][2:10])


def test_lazy_is_the_default_option_and_typos_are_refused() -> None:
    assert Hyperparams().optimizer == "lazy"
    assert AttentionXML("demo", optimizer="dense").get_params()["optimizer"] == "dense"
    with pytest.raises(ParamError, match="optimizer"):
        AttentionXML("demo", optimizer="sgd")


def test_lazy_models_train_with_dense_gradients_on_nccl(monkeypatch: pytest.MonkeyPatch) -> None:
    """nccl has no sparse all-reduce: the lazy model falls back to dense gradients there."""
    net = level_net("lazy")
    assert [type(o) for o in build_optimizers(net, 1e-3)] == [LazyAdam]
    monkeypatch.setattr(distributed, "active", lambda: True)
    monkeypatch.setattr(distributed.dist, "get_backend", lambda: "nccl")
    build_optimizers(net, 1e-3)
    assert not net.embedding.sparse and not net.head.attention.sparse
