"""AttentionXML data-parallel under torchrun (DDP, gloo, 2 CPU processes).

Two processes with b documents each must train like one process with 2b: the same per-step
losses, gradients and weights; both ranks must hold identical weights, candidates and
predictions, resume an interrupted run, and write one record only. `ddp_worker.py` is one rank.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from ddp_worker import INTERRUPT_AT, PER_PROCESS, first_step, fit_flat, tiny, weights  # noqa: E402

from xmcbench.deep import distributed  # noqa: E402
from xmcbench.deep.batching import Batch, shard_batch  # noqa: E402
from xmcbench.errors import XMCBenchError  # noqa: E402

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One process with the doubled batch (it also prepares the dataset cache the ranks read)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dataset = tiny()
        out = tmp_path_factory.mktemp("one-process")
        step = first_step(dataset, 2 * PER_PROCESS, out / "step")
        sparse_step = first_step(dataset, 2 * PER_PROCESS, out / "step", sparse=True)
        flat = fit_flat(dataset, 2 * PER_PROCESS, out / "flat")
    finally:
        torch.set_num_threads(threads)
    return {
        "step": step,
        "sparse_step": sparse_step,
        "history": flat.history_,
        "weights": weights(flat.model_),
    }


@pytest.fixture(scope="module")
def ranks(reference: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """What each of 2 torchrun processes (free port, gloo) trained, rank order."""
    out = tmp_path_factory.mktemp("two-processes")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
               "2", str(WORKER), str(out)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    results = []
    for rank in range(2):
        with (out / f"rank{rank}.pkl").open("rb") as handle:
            results.append({**pickle.load(handle), "out": out})
    return results


def losses(history: list[dict[str, float]]) -> dict[int, float]:
    return {int(entry["step"]): entry["loss"] for entry in history}


def test_shard_batch_splits_the_global_batch_into_weighted_slices() -> None:
    tokens = torch.arange(10).reshape(5, 2)
    batch = Batch(tokens, torch.full((5,), 2), torch.zeros(5, 3))
    parts = [shard_batch(batch, rank, 2) for rank in range(2)]
    assert torch.equal(torch.cat([part.tokens for part, _ in parts]), tokens)  # rank order
    assert [len(part) for part, _ in parts] == [3, 2]
    assert [weight for _, weight in parts] == [1.2, 0.8]  # mean of the weights: 1
    alone, weight = shard_batch(batch.rows(0, 1), 1, 2)  # fewer documents than ranks
    assert len(alone) == 1 and weight == 0.0  # runs forward/backward but counts for nothing


def test_without_torchrun_everything_is_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.init(torch.device("cpu")) == torch.device("cpu")
    assert not distributed.active() and distributed.world_size() == 1 and distributed.is_main()
    assert distributed.from_main(lambda x: x + 1, 1) == 2
    model = torch.nn.Linear(2, 1)
    assert distributed.wrap(model, torch.device("cpu")) is model


@pytest.mark.parametrize("step", ["step", "sparse_step"])  # dense, then SparseAdam embedding
def test_one_step_averages_to_the_global_batch_gradient(ranks, reference, step: str) -> None:
    assert [r["world_size"] for r in ranks] == [2, 2]
    ref_loss, ref_grads, ref_docs = reference[step]
    assert ref_docs == 2 * PER_PROCESS
    for loss, grads, docs in (r[step] for r in ranks):
        assert docs == PER_PROCESS  # each rank runs its half of the global batch only
        assert loss == pytest.approx(ref_loss, rel=1e-6)
        for name, grad in ref_grads.items():
            np.testing.assert_allclose(grads[name], grad, rtol=1e-4, atol=1e-7, err_msg=name)


def test_sparse_embedding_on_gpus_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distributed, "active", lambda: True)
    monkeypatch.setattr(distributed.dist, "get_backend", lambda: "nccl")
    model = torch.nn.Embedding(4, 2, sparse=True)
    with pytest.raises(XMCBenchError, match="sparse_embedding=false"):
        distributed.wrap(model, torch.device("cuda", 0))


def test_two_processes_follow_the_doubled_batch_loss_trajectory(ranks, reference) -> None:
    one = losses(reference["history"])
    two = losses(ranks[0]["flat"]["history"])
    print(f"\n1 process, batch {2 * PER_PROCESS}: {one}\n2 processes, batch {PER_PROCESS}: {two}")
    assert sorted(two) == sorted(one) == list(range(1, 7))
    np.testing.assert_allclose([two[s] for s in one], list(one.values()), rtol=1e-4)
    assert losses(ranks[1]["flat"]["history"]) == two  # the loss is averaged over the ranks
    for name, value in reference["weights"].items():
        # Adam's first steps magnify rounding in near-zero gradients: close, not equal
        np.testing.assert_allclose(ranks[0]["flat"]["weights"][name], value, atol=5e-3)
        np.testing.assert_array_equal(ranks[1]["flat"]["weights"][name],
                                      ranks[0]["flat"]["weights"][name])  # fmt: skip


def test_an_interrupted_run_resumes_as_if_uninterrupted(ranks) -> None:
    for r in ranks:
        straight = {entry["step"]: entry for entry in r["flat"]["history"]}
        resumed = {entry["step"]: entry for entry in r["resumed"]["history"]}
        # stopped right after step 3, before validating it; every later step exactly as before
        assert sorted(resumed) == [s for s in sorted(straight) if s != INTERRUPT_AT]
        assert resumed == {step: straight[step] for step in resumed}  # loss, P@5, nDCG@5


def test_a_tree_trains_to_the_same_candidates_on_every_rank_and_records_once(ranks) -> None:
    first, second = (r["tree"] for r in ranks)
    assert first["exit"] == second["exit"] == 0
    n_train = 270  # synthetic-tiny comes with its own 30 validation documents
    assert first["parents"].shape == (n_train, 4)
    np.testing.assert_array_equal(first["parents"], second["parents"])
    assert (first["parents"][:, 0] >= 0).all()
    for net_a, net_b in zip(first["nets"], second["nets"], strict=True):
        for name, value in net_a.items():
            np.testing.assert_array_equal(net_b[name], value, err_msg=name)
    np.testing.assert_array_equal(first["predictions"], second["predictions"])
    records = list((ranks[0]["out"] / "results").rglob("*.json"))
    assert len(records) == 1  # rank 0 alone evaluates and writes
    record = json.loads(records[0].read_text())
    assert record["env"]["world_size"] == 2 and record["params"]["batch_size"] == PER_PROCESS
    assert 0.0 <= record["metrics"]["p@1"] <= 1.0


def test_python_m_xmcbench_runs_the_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "xmcbench", "--version"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("xmcbench ")
