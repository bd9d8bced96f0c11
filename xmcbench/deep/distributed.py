"""Data-parallel training under `torchrun`: the process group, this process's rank, collectives.

`init` joins the process group when the environment says torchrun started us (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``): gloo on CPU, nccl on CUDA with one GPU per process
(``cuda:LOCAL_RANK``). Without torchrun (and without a group the caller set up) every helper here
is a no-op that returns what a single process would have, so that path is unchanged.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
from torch import distributed as dist
from torch import nn

from xmcbench.errors import XMCBenchError

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")  # set by torchrun for every worker
# rank 0 alone builds a label tree or reads a checkpoint while the others wait in a collective:
# on the largest datasets that takes longer than torch's default timeouts (10 or 30 minutes)
TIMEOUT = timedelta(hours=2)
T = TypeVar("T")


def launched() -> bool:
    """Whether torchrun (or a launcher like it) started this process as one of a group."""
    return all(name in os.environ for name in LAUNCH_VARIABLES)


def active() -> bool:
    """Whether this process belongs to an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Processes training together (1 without a process group)."""
    return dist.get_world_size() if active() else 1


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Whether this process reads and writes files, logs and evaluates (rank 0)."""
    return rank() == 0


def local_rank() -> int:
    """This process's index on its machine: the GPU it uses."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def resolve_device(device: str) -> torch.device:
    """ "auto" picks CUDA when available, else CPU; "cuda" without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device")
    return torch.device(device)


def init(device: torch.device) -> torch.device:
    """Join the torchrun process group once (a no-op otherwise); returns this process's device."""
    if not active():
        if not launched():
            return device
        if not dist.is_available():
            raise XMCBenchError("launched by torchrun, but this torch has no torch.distributed")
        if device.type == "cuda":
            torch.cuda.set_device(local_rank())
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
        atexit.register(shutdown)
    if device.type == "cuda":
        return torch.device("cuda", local_rank())
    return device


def shutdown() -> None:
    """Leave the process group (registered at exit by `init`)."""
    if active():
        dist.destroy_process_group()


def run_settings() -> dict[str, Any]:
    """What a checkpoint fingerprint must add under data parallelism: the world size."""
    return {"world_size": world_size()} if active() else {}


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """`model` inside DistributedDataParallel (gradients averaged over ranks), or as it is."""
    if not active():
        return model
    sparse = any(isinstance(m, nn.Embedding) and m.sparse for m in model.modules())
    if sparse and dist.get_backend() == "nccl":
        raise XMCBenchError(
            "sparse_embedding=true cannot train data-parallel on GPUs: the nccl backend has no "
            "sparse all-reduce; set sparse_embedding=false"
        )
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def fork_rng() -> None:
    """Give every rank its own torch random stream (dropout masks), drawn from the shared one."""
    if active():
        base = int(torch.randint(0, 2**62, (1,)))
        torch.manual_seed(base + rank())


def from_main(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args)` computed on rank 0 and broadcast to every rank (a rank 0 error fails all)."""
    if not active():
        return fn(*args, **kwargs)
    box: list[Any] = [None]
    error: BaseException | None = None
    if is_main():
        try:
            box[0] = ("ok", fn(*args, **kwargs))
        except Exception as exc:  # re-raised below, once the other ranks know
            error, box[0] = exc, ("error", f"{type(exc).__name__}: {exc}")
    dist.broadcast_object_list(box, src=0)
    if error is not None:
        raise error
    status, value = box[0]
    if status == "error":
        raise RuntimeError(f"rank 0 failed: {value}")
    return value


def gather_objects(obj: T) -> list[T]:
    """Every rank's `obj`, in rank order, on every rank."""
    if not active():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def average(value: torch.Tensor) -> float:
    """The mean of a scalar over the ranks (what DDP does to gradients), on every rank."""
    if not active():
        return float(value)
    total = value.detach().float().reshape(1).clone()
    dist.all_reduce(total)
    return float(total) / world_size()


@torch.no_grad()
def broadcast_module(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers into every rank's `module`, in place."""
    if active():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def shard_rows(n: int) -> np.ndarray:
    """This rank's rows of `n` (near-equal contiguous shards, rank order)."""
    return np.array_split(np.arange(n, dtype=np.int64), world_size())[rank()]


def gather_rows(local: np.ndarray, n: int) -> np.ndarray:
    """Concatenate every rank's `shard_rows(n)` part of an (n, ...) integer array, on every rank."""
    if not active():
        return local
    sizes = [len(part) for part in np.array_split(np.arange(n), world_size())]
    device = torch.device("cuda", local_rank()) if dist.get_backend() == "nccl" else None
    padded = np.zeros((max(sizes), *local.shape[1:]), dtype=np.int64)
    padded[: len(local)] = local
    mine = torch.from_numpy(padded).to(device)
    parts = [torch.empty_like(mine) for _ in sizes]
    dist.all_gather(parts, mine)
    return np.concatenate([p.cpu().numpy()[:size] for p, size in zip(parts, sizes, strict=True)])
