"""Checkpoint files in a run's workdir: atomic writes, RNG state capture, config fingerprints.

A checkpoint is resumed only by the code that wrote it: each records `code_version()` (the
versions of xmcbench, torch and the plugin packages, and a hash of their source files). A file
that cannot be read back (truncated, failing its checksums) is moved aside as ``*.damaged``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

import xmcbench
from xmcbench.io import atomic_path, write_json
from xmcbench.workdir import RESUME_MARKER

RESUME_FILE = "resume.pt"  # everything needed to continue training
BEST_FILE = "best.pt"  # weights with the best validation nDCG@5 so far
SUMMARY_FILE = RESUME_MARKER  # fingerprint and step of the resume checkpoint, cheap to read
DAMAGED_SUFFIX = ".damaged"  # a checkpoint that could not be read, kept aside for inspection
PLUGIN = __package__ or "xmcbench.deep"  # the engine's package: its code always counts


def save(obj: Any, path: Path) -> None:
    """torch.save that never leaves a half-written file behind (write beside, then rename)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load(path: Path, device: torch.device | str = "cpu") -> Any:
    """Load a checkpoint written by `save` (tensors, numbers, strings and containers only)."""
    return torch.load(path, map_location=device, weights_only=True)


def load_checked(
    path: Path,
    device: torch.device | str,
    log: Callable[[str], None],
    required: Iterable[str] = (),
    then: str = "starting afresh",
) -> Any | None:
    """The checkpoint at `path`, or None: when absent, or damaged (then moved aside, with a note).

    A checkpoint is damaged when its archive is incomplete or fails its checksums, or when it
    lacks one of the `required` keys.
    """
    path = Path(path)
    if not path.exists():
        return None
    why = damage(path)
    saved = load(path, device) if why is None else None
    if why is None and not (isinstance(saved, dict) and set(required) <= saved.keys()):
        why = "its content is not a checkpoint of this kind"
    if why is None:
        return saved
    set_aside(path, why, log, then)
    return None


def damage(path: Path) -> str | None:
    """What is wrong with the archive of a checkpoint written by `save`, or None if intact."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads every member and checks its CRC
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        return f"cannot be read: {exc}"
    return None if bad is None else f"{bad} fails its checksum"


def set_aside(path: Path, why: str, log: Callable[[str], None], then: str) -> None:
    """Rename a damaged checkpoint to ``*.damaged`` and say so in one line."""
    aside = path.with_name(path.name + DAMAGED_SUFFIX)
    os.replace(path, aside)
    log(f"checkpoint {path} is damaged ({why}); moved it aside to {aside.name}, {then}")


_SOURCE_HASHES: dict[str, str] = {}  # package -> hash, read once per process (see below)


def source_hash(package: str) -> str:
    """sha256 of a package's .py files, names and contents: any edit of its code changes it.

    Read once per process and kept, so an edit made while a run trains (a `pip install -U`,
    a developer's change) does not make the run disown its own checkpoints; the processes of
    a parallel run take their parent's (`adopt_source_hashes`).
    """
    if package not in _SOURCE_HASHES:
        file = getattr(importlib.import_module(package), "__file__", None)
        if not file:  # no source files to read (a namespace package): only its version counts
            _SOURCE_HASHES[package] = "no-source"
        else:
            root, digest = Path(file).parent, hashlib.sha256()
            for path in sorted(root.rglob("*.py")):
                digest.update(
                    path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes()
                )
            _SOURCE_HASHES[package] = digest.hexdigest()
    return _SOURCE_HASHES[package]


def source_hashes() -> dict[str, str]:
    """The source hashes this process has read so far (to hand to its worker processes)."""
    return dict(_SOURCE_HASHES)


def adopt_source_hashes(hashes: dict[str, str]) -> None:
    """Take a parent process's source hashes: its workers write checkpoints it will accept."""
    _SOURCE_HASHES.update(hashes)


def code_version(packages: Iterable[str] = (PLUGIN,)) -> dict[str, Any]:
    """The code that writes a checkpoint: xmcbench, torch and package versions, a source hash."""
    names = sorted({PLUGIN, *packages})
    versions: dict[str, str | None] = {}
    hashes = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:  # a checkpoint's package that is gone: other code for sure
            versions[name] = None
            hashes.append(f"{name}=missing")
            continue
        versions[name] = getattr(module, "__version__", None)
        hashes.append(f"{name}={source_hash(name)}")
    return {
        "xmcbench": xmcbench.__version__,
        "torch": str(torch.__version__),  # a plain str: weights-only loading refuses its class
        "packages": versions,
        "source": hashlib.sha256("\n".join(hashes).encode()).hexdigest()[:16],
    }


def packages_of(model: torch.nn.Module) -> list[str]:
    """The packages whose code trains `model`: the engine's and the network's own."""
    return [PLUGIN, type(model).__module__.split(".")[0]]


def code_change(saved: Any) -> str | None:
    """How the code that wrote a checkpoint (its recorded `code_version`) differs from this one."""
    if not isinstance(saved, dict) or not isinstance(saved.get("packages"), dict):
        return "it records no code version"
    now = code_version(saved["packages"])
    if saved.get("source") != now["source"]:
        return f"source hash {saved.get('source')}, now {now['source']}"
    changes = [
        f"{name} {saved.get(name)}, now {now[name]}"
        for name in ("xmcbench", "torch")
        if saved.get(name) != now[name]
    ]
    changes += [
        f"{name} {version}, now {now['packages'].get(name)}"
        for name, version in saved["packages"].items()
        if version != now["packages"].get(name)
    ]
    return "; ".join(changes) or None


def fingerprint(settings: dict[str, Any]) -> str:
    """Short hash of the settings that must match for a checkpoint to be resumed."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rng_state() -> dict[str, Any]:
    """Torch RNG states (CPU and every CUDA device): dropout masks depend on them."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def write_summary(
    workdir: Path,
    fingerprint_: str,
    step: int,
    epoch: int,
    finished: bool,
    code: dict[str, Any] | None = None,
) -> None:
    """Small JSON beside the resume checkpoint, so callers can check it without loading weights."""
    write_json(
        Path(workdir) / SUMMARY_FILE,
        {
            "fingerprint": fingerprint_,
            "step": step,
            "epoch": epoch,
            "finished": finished,
            "code": code if code is not None else code_version(),
        },
    )


def check_summary(path: Path, log: Callable[[str], None]) -> None:
    """Set a summary aside that a crash left unreadable; the next checkpoint writes it again."""
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        set_aside(path, f"not readable as JSON: {exc}", log, "the resume checkpoint still counts")


def read_summary(workdir: Path) -> dict[str, Any] | None:
    """The summary of a resume checkpoint in `workdir` this code can resume, else None.

    None also when the summary or the checkpoint is unreadable or the code changed: the
    trainer will then start afresh (and say why), so the caller must prepare a fresh start.
    """
    path, resume = Path(workdir) / SUMMARY_FILE, Path(workdir) / RESUME_FILE
    if not (path.exists() and resume.exists()):
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or "fingerprint" not in summary:
        return None
    if code_change(summary.get("code")) is not None:
        return None
    return summary if damage(resume) is None else None
