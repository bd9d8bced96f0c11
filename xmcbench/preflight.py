"""Checks that run before any work: the method's parameters, the device, output folders.

A run that would fail at its end (a --results path that is a file, a models folder that is not
writable, a learning rate of -1) fails here instead, in a second, with one line naming the
value and what is wrong with it. Parameter types and ranges live in `paramspec`.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import XMCBenchError
from .paths import models_dir

if TYPE_CHECKING:
    from .plugins import Plugins
    from .run_setup import RunRequest

__all__ = [
    "DEVICES",
    "check_device",
    "check_output_file",
    "check_outputs",
    "check_writable_dir",
    "preflight",
    "results_to_read",
]


DEVICES = ("auto", "cpu", "cuda")  # what a run accepts (`--device`, `xmcbench.run(device=)`)

# ---------------------------------------------------------------- environment


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA device (torch is imported only to ask)."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def check_device(device: str) -> None:
    """A CUDA device asked for must exist: fail now rather than after loading the data."""
    if not device.startswith("cuda"):
        return
    if importlib.util.find_spec("torch") is None:
        raise XMCBenchError(f"--device {device}: torch is not installed, so there is no CUDA")
    if not cuda_available():
        raise XMCBenchError(
            f"--device {device}: torch sees no CUDA device on this machine "
            "(use --device cpu, or auto to take a GPU when there is one)"
        )


def check_writable_dir(path: Path, what: str) -> None:
    """Prove `path` is a folder a file can be written in, or can be made as one; else one error.

    Nothing is created: a temporary file is made and removed in `path`, or, when `path` does not
    exist yet, in its nearest existing parent folder (so concurrent runs cannot trip each other).
    `what` names the folder in the message, e.g. "--results".
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise XMCBenchError(f"{what} {path}: is a file, not a folder")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise XMCBenchError(f"{what} {path}: cannot be created, {existing} is a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=".xmcbench-write-test.", dir=existing)
    except OSError as exc:
        where = "in it" if existing == path else f"in {existing} to create it"
        raise XMCBenchError(
            f"{what} {path}: cannot write {where} ({exc.strerror or exc})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def results_to_read(value: str | Path) -> Path:
    """The --results folder to read records from: a file there is a mistake, a missing folder
    simply holds no runs."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise XMCBenchError(f"--results {path}: is a file, not a folder of run records")
    return path


def check_output_file(path: Path, what: str) -> None:
    """`path` can be written as a file: not a folder, and its folder is (or can be) writable."""
    path = Path(path)
    if path.is_dir():
        raise XMCBenchError(f"{what} {path}: is a folder, not a file")
    check_writable_dir(path.parent, f"{what} {path}: its folder")


def check_outputs(request: RunRequest) -> None:
    """What a run needs whatever its method: a valid seed, the device, writable output folders."""
    seed = request.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise XMCBenchError(f"--seed must be an integer >= 0, got {seed!r}")
    check_device(request.device)
    check_writable_dir(request.results_dir, "--results")
    check_writable_dir(models_dir(), "models folder ($XMCBENCH_HOME/models)")


def preflight(request: RunRequest, plugins: Plugins) -> Any:
    """Every cheap check of `xmcbench run` before any data is loaded or trained; the method.

    Building the method runs its own parameter validation (construction never touches data);
    a method may add environment checks in an optional ``preflight()`` (AttentionXML checks
    its device and embedding file there). The run trains the method returned.
    """
    from .run_setup import build_method, effective_params

    spec = plugins.methods.get(request.method)
    check_outputs(request)
    method = build_method(spec, request.params, request.seed, request.device)
    try:
        effective_params(method, {**spec.params, **request.params})
        hook = getattr(method, "preflight", None)
        if callable(hook):
            hook()
    except (TypeError, ValueError) as exc:
        raise XMCBenchError(f"method {spec.name!r}: {exc}") from exc
    return method
