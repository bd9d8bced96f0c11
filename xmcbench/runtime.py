"""Process-wide settings applied before torch loads: OpenMP threads and glibc malloc reuse.

`xmcbench` calls `configure()` first thing. Python code that trains through the API should call
it too, before `import torch`: OpenMP and MKL read their environment once, when loaded.

- Threads: a user's `OMP_NUM_THREADS` wins; otherwise it defaults to the CPUs this process may
  really use (its affinity mask, capped by a cgroup CPU quota), not every core of the host.
- `OMP_WAIT_POLICY=PASSIVE` (unless set): idle OpenMP threads sleep instead of spinning, which
  on a machine shared with other busy processes slows the LSTM by an order of magnitude.
  (PASSIVE also sets Intel OpenMP's block time to 0, so `KMP_BLOCKTIME` needs no default.)
- malloc: glibc returns freed blocks above its mmap threshold to the kernel, so every training
  step maps, faults in (zeroed pages) and unmaps its large activations again. `tune_malloc`
  keeps freed memory in the heap for reuse. `XMCBENCH_MALLOC=system` leaves malloc as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import resource
import sys
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

MALLOC_ENV = "XMCBENCH_MALLOC"  # "system" opts out of `tune_malloc`

# glibc <malloc.h> parameter numbers, and the values set (see `tune_malloc`)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4
MALLOC_SETTINGS: tuple[tuple[int, int], ...] = (
    (M_MMAP_MAX, 0),  # large blocks come from the heap, where a free makes them reusable
    (M_TRIM_THRESHOLD, -1),  # never give the heap's free top back to the kernel
    (M_TOP_PAD, 64 << 20),  # grow the heap 64 MiB beyond each need: fewer brk calls
)


@dataclass(frozen=True)
class RuntimeSettings:
    """What `configure` decided: thread count, wait policy, and whether malloc was tuned."""

    threads: int
    wait_policy: str
    malloc_tuned: bool


_applied: RuntimeSettings | None = None


def configure(environ: MutableMapping[str, str] | None = None) -> RuntimeSettings:
    """Set thread and wait-policy defaults and tune malloc, once per process; user values win."""
    global _applied
    if _applied is not None and environ is None:
        return _applied
    env = os.environ if environ is None else environ
    threads_given = env.get("OMP_NUM_THREADS", "").strip() != ""
    threads = thread_count(env)
    if not threads_given:
        env["OMP_NUM_THREADS"] = str(threads)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch = sys.modules.get("torch")
    # loaded already: its default follows the affinity mask but not a quota; never raise it
    if torch is not None and not threads_given and threads < torch.get_num_threads():
        torch.set_num_threads(threads)
    settings = RuntimeSettings(threads, env["OMP_WAIT_POLICY"], tune_malloc(env))
    if environ is None:
        _applied = settings
    return settings


def applied() -> RuntimeSettings | None:
    """What `configure` set in this process, or None if it was not called."""
    return _applied


def thread_count(environ: Mapping[str, str] | None = None) -> int:
    """`OMP_NUM_THREADS` when it is a positive integer, else the CPUs this process may use."""
    env = os.environ if environ is None else environ
    given = env.get("OMP_NUM_THREADS", "").split(",")[0].strip()  # "4,2" = nested levels
    if given.isdigit() and int(given) > 0:
        return int(given)
    return available_cpus()


def available_cpus() -> int:
    """CPUs usable by this process: its affinity mask, capped by a cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cpus, quota) if quota is not None else cpus)


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Whole CPUs allowed by a cgroup v2 `cpu.max` or v1 CFS quota, rounded up; None if none."""
    try:
        quota, _, period = (root / "cpu.max").read_text().partition(" ")
        if quota.strip() == "max":
            return None
        return math.ceil(int(quota) / int(period))
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return math.ceil(quota_us / period_us) if quota_us > 0 and period_us > 0 else None


def tune_malloc(
    environ: Mapping[str, str] | None = None, mallopt: Callable[[int, int], int] | None = None
) -> bool:
    """On glibc, keep freed large blocks for reuse (`MALLOC_SETTINGS`); True if applied.

    Without this, each freed block above the mmap threshold (at most 32 MiB) is unmapped and the
    next step's is mapped and faulted in page by page: a measured CPU run spent a third of its
    CPU time in the kernel. With mmap off for large blocks and no trimming, the heap settles at
    the training loop's peak and is reused; the memory stays with the process until it exits.
    Skipped, silently, with `XMCBENCH_MALLOC=system` or on another C library or OS.
    """
    env = os.environ if environ is None else environ
    if env.get(MALLOC_ENV, "").strip().lower() == "system":
        return False
    if mallopt is None:
        mallopt = glibc_mallopt()
        if mallopt is None:
            return False
    return all([mallopt(param, value) == 1 for param, value in MALLOC_SETTINGS])


def glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's `mallopt`, or None on other platforms and C libraries (musl has no effect)."""
    try:
        glibc = sys.platform == "linux" and os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):  # the name is unknown where the C library is not glibc
        glibc = False
    if not glibc:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.mallopt
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int)
    function.restype = ctypes.c_int
    return function


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (not its children's: workers report theirs)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024
