"""AttentionXML training: learning a toy task, save/load, determinism, interrupt and resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from xmcbench_attentionxml.method import AttentionXML  # noqa: E402

from xmcbench.deep.embedding_init import random_embeddings  # noqa: E402
from xmcbench.metrics import precision_at_k  # noqa: E402
from xmcbench.types import Split, TopK  # noqa: E402

N_LABELS, VOCAB = 10, 60
TINY = {
    "embedding_dim": 16,
    "hidden_size": 8,
    "fc_sizes": [16],
    "embedding_init": "random",
    "embedding_dropout": 0.0,
    "encoder_dropout": 0.1,
    "lr": 2e-2,
    "batch_size": 16,
    "eval_every": 10,
    "swa_warmup": 4,
    "patience": 100,
    "valid_size": 40,
    "progress": False,
    "device": "cpu",
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and one thread never spin-waits on busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy_split(n: int, seed: int, name: str) -> Split:
    """Label j is relevant exactly when token j + 2 occurs; other tokens are noise."""
    rng = np.random.default_rng(seed)
    popularity = np.linspace(3.0, 1.0, N_LABELS)
    docs, rows, cols = [], [], []
    for i in range(n):
        labels = rng.choice(
            N_LABELS, size=rng.integers(1, 3), replace=False, p=popularity / popularity.sum()
        )
        doc = rng.integers(N_LABELS + 2, VOCAB, size=rng.integers(4, 12))
        doc[rng.choice(len(doc), size=len(labels), replace=False)] = labels + 2
        docs.append(doc)
        rows += [i] * len(labels)
        cols += labels.tolist()
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=offsets[1:])
    y = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, N_LABELS))
    return Split(
        name,
        np.concatenate(docs).astype(np.int32),
        offsets,
        y,
        ("<pad>", "<unk>", *(f"w{i}" for i in range(2, VOCAB))),
        tuple(f"label{j}" for j in range(N_LABELS)),
    )


@pytest.fixture(scope="module")
def data() -> dict[str, Split]:
    return {"train": toy_split(400, 0, "train"), "test": toy_split(120, 1, "test")}


def same(a: TopK, b: TopK) -> bool:
    return np.array_equal(a.labels, b.labels) and np.array_equal(a.scores, b.scores)


def test_learns_the_toy_task_and_round_trips_through_save(data, tmp_path: Path) -> None:
    method = AttentionXML("demo", epochs=6, **TINY)
    method.fit(data["train"], None, tmp_path / "work")
    top = method.predict(data["test"], 5)
    assert top.labels.shape == (120, 5) and top.labels.dtype == np.int32
    assert top.scores.dtype == np.float32 and np.all(np.diff(top.scores, axis=1) <= 0)
    assert np.all((top.scores > 0) & (top.scores < 1))
    p1 = precision_at_k(top.labels, data["test"].labels, 1)
    popular = int(np.argmax(np.asarray(data["train"].labels.sum(axis=0))))
    baseline = float(data["test"].labels[:, popular].mean())
    assert p1 > baseline + 0.25, (p1, baseline)
    assert len(method.history_) >= 4 and (tmp_path / "work" / "best.pt").exists()

    method.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "params.json").read_text())
    assert saved["params"]["epochs"] == 6 and saved["params"]["preset"] == "demo"
    loaded = AttentionXML.load(tmp_path / "model")
    assert same(loaded.predict(data["test"], 5), top)
    assert loaded.get_params() == method.get_params()
    wide = loaded.predict(data["test"], N_LABELS + 2)  # k beyond L: padded with -1
    assert np.all(wide.labels[:, N_LABELS:] == -1)


def run(data, workdir: Path, callback=None, **params) -> AttentionXML:
    method = AttentionXML("demo", seed=7, **{**TINY, "epochs": 3, "max_steps": 40, **params})
    method.step_callback = callback
    method.fit(data["train"], data["test"], workdir)
    return method


def test_same_seed_gives_identical_predictions(data, tmp_path: Path) -> None:
    first = run(data, tmp_path / "a").predict(data["test"], 5)
    second = run(data, tmp_path / "b").predict(data["test"], 5)
    assert same(first, second)


def test_interrupted_fit_resumes_and_ends_like_an_uninterrupted_one(data, tmp_path, capsys) -> None:
    reference = run(data, tmp_path / "ref").predict(data["test"], 5)

    def interrupt(step: int) -> None:
        if step == 17:
            raise KeyboardInterrupt

    workdir = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        run(data, workdir, interrupt)
    summary = json.loads((workdir / "resume.json").read_text())
    assert summary["step"] == 17 and not summary["finished"]
    capsys.readouterr()

    resumed = run(data, workdir)
    assert "resuming from step 17" in capsys.readouterr().err
    assert same(resumed.predict(data["test"], 5), reference)

    again = run(data, workdir)  # a finished run only reloads its best model
    assert "already finished" in capsys.readouterr().err
    assert same(again.predict(data["test"], 5), reference)


def test_changed_settings_do_not_resume_a_foreign_checkpoint(data, tmp_path, capsys) -> None:
    run(data, tmp_path / "w", max_steps=5)
    capsys.readouterr()
    run(data, tmp_path / "w", max_steps=6)
    out = capsys.readouterr().err
    assert "starting afresh" in out and "resuming" not in out


def test_sparse_embedding_trains_with_sparse_adam(data, tmp_path: Path) -> None:
    method = run(data, tmp_path / "sparse", sparse_embedding=True, max_steps=4, eval_every=4)
    assert method.model_.embedding.sparse and method.history_
    weights = method.model_.embedding.weight.detach()
    initial = torch.from_numpy(random_embeddings(VOCAB, 16, seed=7))
    assert torch.all(weights[0] == 0)  # padding
    assert torch.equal(weights[1], initial[1])  # <unk> never occurs: untouched
    assert not torch.equal(weights[2], initial[2])  # a label token: trained


def test_swa_warmup_may_end_mid_epoch(data, tmp_path: Path, capsys) -> None:
    # 400 docs in batches of 16: 25 steps per epoch, so a warm-up of 0.5 epoch ends at step 12
    run(data, tmp_path / "w", epochs=1, max_steps=None, swa_warmup=0.5, eval_every=5)
    lines = capsys.readouterr().err.splitlines()
    assert "SWA starts at step 12 (epoch 1): warm-up done" in lines
    evals = [line for line in lines if line.startswith("step ")]
    assert [("swa x" in line) for line in evals] == [False, False, True, True, True]
    assert evals[-1].endswith("swa x4")  # snapshots at steps 12, 15, 20 and 25
