"""Trees of a CPU ensemble trained in separate processes give the sequential run's model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from xmcbench_attentionxml import parallel
from xmcbench_attentionxml.method import AttentionXML

TINY = {
    "embedding_dim": 16, "hidden_size": 8, "fc_sizes": (8,), "embedding_init": "random",
    "swa": False, "eval_every": 50, "lr": 1e-2, "batch_size": 16, "progress": False,
    "device": "cpu", "tree_k": 4, "candidates": 4, "tree_height": 1, "epochs": 1, "trees": 2,
}  # fmt: skip


@pytest.fixture(scope="module")
def dataset():
    from xmcbench.data.resolve import load_dataset
    from xmcbench.plugins import get_plugins

    torch.set_num_threads(1)
    return load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)


def test_trees_train_at_once_on_two_free_cpus_or_when_asked() -> None:
    assert parallel.tree_workers(None, 3, "cpu", cpus=2) == 3  # all at once: each has the budget
    assert parallel.tree_workers(None, 3, "cpu", cpus=1) == 1  # one CPU: in turn
    assert parallel.tree_workers(True, 3, "cpu", cpus=1) == 3  # asked for
    assert parallel.tree_workers(None, 1, "cpu", cpus=8) == 1  # one tree: nothing to share
    assert parallel.tree_workers(True, 3, "cuda", cpus=8) == 1  # a GPU trains trees in turn
    assert parallel.tree_workers(False, 3, "cpu", cpus=8) == 1  # asked for turns
    assert parallel.threads_per_worker(2, cpus=2) == 1
    assert parallel.threads_per_worker(3, cpus=2) == 1
    assert parallel.threads_per_worker(2, cpus=8) == 4


def test_trees_trained_in_processes_equal_trees_trained_in_turn(dataset, tmp_path, capfd) -> None:
    one = AttentionXML("demo", seed=3, parallel_trees=False, **TINY)
    one.fit(dataset.train, dataset.valid, tmp_path / "seq")
    capfd.readouterr()
    two = AttentionXML("demo", seed=3, parallel_trees=True, **{**TINY, "progress": True})
    two.fit(dataset.train, dataset.valid, tmp_path / "par")
    out = capfd.readouterr().err  # the processes' too: they write to the same descriptor
    assert "training 2 trees in 2 processes" in out
    assert "tree 0 level 1/2" in out and "tree 1 level 1/2" not in out  # one log, not two
    assert "already trained" not in out  # the levels just trained are loaded without a word
    assert two.training_summary_["tree_workers"] == 2
    assert "tree_workers" not in one.training_summary_
    # the run's record adds each process's memory to the parent's (which excludes them)
    assert len(two.worker_peak_rss_mb_) == 2 and min(two.worker_peak_rss_mb_) > 50
    assert one.worker_peak_rss_mb_ == []
    assert [lv["tree"] for lv in two.training_summary_["levels"]] == [0, 0, 1, 1]
    a, b = one.predict(dataset.test, 5), two.predict(dataset.test, 5)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-6)


def test_a_failing_tree_process_fails_the_fit_with_its_error(dataset, tmp_path) -> None:
    bad = AttentionXML("demo", seed=3, parallel_trees=True, **{**TINY, "embedding_init": "/x.vec"})
    with pytest.raises(Exception, match=r"/x\.vec"):
        bad.fit(dataset.train, dataset.valid, tmp_path / "bad")


def _mmapped_bytes_holding_a_large_array(tune: bool) -> int:
    """In a fresh process: start as a tree worker, hold 64 MB; the bytes glibc mapped for it."""
    import ctypes

    parallel.start_worker(tune)
    fields = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd")]
    info = type(
        "MallInfo2", (ctypes.Structure,), {"_fields_": [*fields, ("rest", ctypes.c_size_t * 5)]}
    )
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = info
    before = int(libc.mallinfo2().hblkhd)  # blocks mapped while the process started
    block = np.ones(8 << 20)  # 64 MB: above any mmap threshold glibc picks by itself
    mapped = int(libc.mallinfo2().hblkhd) - before
    del block
    return mapped


def test_tree_workers_take_the_parents_malloc_tuning() -> None:
    import ctypes
    import multiprocessing

    from xmcbench import runtime

    if runtime.glibc_mallopt() is None:
        pytest.skip("glibc's malloc")

    try:
        ctypes.CDLL("libc.so.6").mallinfo2  # noqa: B018 (glibc >= 2.33)
    except (OSError, AttributeError):
        pytest.skip("needs glibc's mallinfo2")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        tuned = pool.apply(_mmapped_bytes_holding_a_large_array, (True,))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        untuned = pool.apply(_mmapped_bytes_holding_a_large_array, (False,))
    assert untuned >= 64 << 20  # glibc's default: a fresh mapping, faulted in page by page
    assert tuned == 0  # tuned: from the heap, where the next step reuses it


def test_tree_workers_start_with_malloc_tuned_as_the_parent_was(dataset, tmp_path, monkeypatch):
    from xmcbench import runtime

    started: list[tuple] = []

    class Stop(Exception):
        pass

    class Executor:  # records how the pool would start its processes, then stops the fit
        def __init__(self, **options) -> None:
            started.append((options["initializer"], options["initargs"]))
            raise Stop

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Executor)
    method = AttentionXML("demo", seed=3, parallel_trees=True, **TINY)
    for tuned in (True, False):
        settings = runtime.RuntimeSettings(threads=1, wait_policy="PASSIVE", malloc_tuned=tuned)
        monkeypatch.setattr(runtime, "applied", lambda settings=settings: settings)
        with pytest.raises(Stop):
            parallel.train_in_processes(method, [0, 1], dataset.train, dataset.valid, tmp_path, 2)
    assert started == [(parallel.start_worker, (True,)), (parallel.start_worker, (False,))]
