"""Train the trees of an ensemble side by side on CPU: one process per tree, threads split.

A small LSTM step does not keep two cores busy (its matrices are too small to split well), so
on a CPU the trees of an ensemble train faster in separate processes with a thread or two each
than one after the other with every thread. Each process is the `tree_id=i` job the estimator
already knows (same seed, same fingerprint, the same files in ``tree-<i>/``), given the whole
time budget; afterwards the ordinary loop finds every level finished and loads it, so resuming,
the training summary and the saved model are those of a sequential run.

Ctrl-C reaches every process of the terminal's group; SIGTERM, which is sent to this process
alone, is passed on. Each process saves its checkpoint as on its own, and the same command
resumes them all.
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import os
import signal
import sys
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from xmcbench import interrupts, notes, runtime
from xmcbench.deep import checkpoint
from xmcbench.types import Split

if TYPE_CHECKING:
    from .method import AttentionXML


def tree_workers(wanted: bool | None, trees: int, device: str, cpus: int | None = None) -> int:
    """Processes to train `trees` trees with: one per tree, or 1 to train them in turn.

    In turn on a GPU, for a single tree, when `wanted` is False, and by default (None) when
    fewer than two CPUs are free; each process of a parallel run gets the whole time budget,
    so all of them run at once whatever the CPU count (threads split, at least one each).
    """
    if trees <= 1 or not str(device).startswith("cpu") or wanted is False:
        return 1
    free = cpus if cpus is not None else runtime.thread_count()
    return trees if wanted or free >= 2 else 1


def threads_per_worker(workers: int, cpus: int | None = None) -> int:
    """Threads for each of `workers` processes sharing this process's CPUs (at least one)."""
    total = cpus if cpus is not None else runtime.thread_count()
    return max(1, total // max(1, workers))


def train_in_processes(
    method: AttentionXML,
    ids: list[int],
    train: Split,
    valid: Split,
    workdir: Path,
    workers: int,
) -> list[float]:
    """Train trees `ids` of `method` in `workers` processes; their levels land in `workdir`.
    Returns each process's peak resident memory in MB, in the order of `ids`.

    Raises the first worker's exception (a one-line `XMCBenchError` stays one line), or
    RuntimeError naming the tree when a process dies (for example killed for memory).
    """
    threads = threads_per_worker(workers)
    checkpoint.code_version([type(method).__module__.split(".")[0]])  # read the code hashes now
    sources = checkpoint.source_hashes()  # the workers' checkpoints carry the parent's
    context = multiprocessing.get_context("spawn")  # fork would copy a busy OpenMP pool
    settings = runtime.applied()
    tune = settings is not None and settings.malloc_tuned
    with interrupts.sigterm_as_interrupt():
        executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=start_worker, initargs=(tune,)
        )
        try:
            futures = {
                executor.submit(
                    _train_tree, _single_tree(method, i, show=(n == 0)), train, valid,
                    str(workdir), threads, n == 0, sources,
                ): i
                for n, i in enumerate(ids)
            }  # fmt: skip
            return _wait_all(futures)
        except KeyboardInterrupt as stop:
            if isinstance(stop, interrupts.Terminated):  # Ctrl-C reached the whole group
                _pass_on(executor, signal.SIGTERM)
            executor.shutdown(wait=True, cancel_futures=True)  # let them save checkpoints
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)


def start_worker(tune_malloc: bool) -> None:
    """First thing in a fresh (spawned) worker: malloc as in the parent, where `configure`
    tuned it. Threads and wait policy come with the inherited environment; mallopt does not,
    and without it level 1 of debian-depends' tree stepped 1.5x slower (its (batch, tokens,
    nodes) activations exceed glibc's largest mmap threshold, so every step faults them in)."""
    if tune_malloc:
        runtime.tune_malloc()


def _wait_all(futures: dict[Future[float], int]) -> list[float]:
    """Wait for every tree; raise the first failure, naming the tree when its process died.
    Returns the futures' results in submission order."""
    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
    for future in done:
        try:
            future.result()
        except BrokenProcessPool:
            raise RuntimeError(
                f"the process training tree {futures[future]} died (killed for memory?); "
                "run the same command again to resume, or set parallel_trees=false"
            ) from None
    # after a failure, the others: cancelled or finished
    return [future.result() for future in futures]


def _pass_on(executor: ProcessPoolExecutor, signum: int) -> None:
    """Send `signum` to the executor's live processes (they checkpoint and stop)."""
    processes = getattr(executor, "_processes", None) or {}
    for pid in list(processes):
        with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already
            os.kill(pid, signum)


def _single_tree(method: AttentionXML, tree_id: int, show: bool) -> AttentionXML:
    """A copy of `method` that trains tree `tree_id` only, in one process, with the budget."""
    single = copy.copy(method)
    single.tree_id = tree_id
    single.parallel_trees = False
    single.progress = method.progress and show
    single.step_callback = None
    return single


def _train_tree(
    method: AttentionXML,
    train: Split,
    valid: Split,
    workdir: str,
    threads: int,
    shown: bool,
    sources: dict[str, str],
) -> float:
    """Worker: train one tree of `method` into `workdir` with `threads` threads; only the
    `shown` one writes its log (to stderr; errors still reach the parent). `sources`: the
    parent's code hashes, so that the parent accepts the levels this process writes.
    Returns this process's peak resident memory in MB."""
    import torch

    from .tree_method import fit_trees

    checkpoint.adopt_source_hashes(sources)
    torch.set_num_threads(threads)
    with (
        interrupts.sigterm_as_interrupt(),  # also before the loop: stop cleanly, not killed
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sys.stdout if shown else sink),
        notes.silenced(not shown),  # the others' notes and bars: nothing
    ):
        fit_trees(method, train, valid, Path(workdir))
    return runtime.peak_rss_mb()


def workers_note(workers: int, trees: int, cpus: int | None = None, flat: bool = False) -> str:
    """The log line that says how the trees (`flat`: the flat models) are trained."""
    threads = threads_per_worker(workers, cpus)
    each = f"{threads} thread{'s' if threads > 1 else ''} each"
    what, first = ("models", "model 0") if flat else ("trees", "tree 0")
    return f"training {trees} {what} in {workers} processes, {each} ({first}'s progress shown)"
