"""Checkpoint files in a run's workdir: atomic writes, RNG state capture, config fingerprints."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from xmcbench.io import atomic_path, write_json

RESUME_FILE = "resume.pt"  # everything needed to continue training
BEST_FILE = "best.pt"  # weights with the best validation nDCG@5 so far
SUMMARY_FILE = "resume.json"  # fingerprint and step of the resume checkpoint, cheap to read


def save(obj: Any, path: Path) -> None:
    """torch.save that never leaves a half-written file behind (write beside, then rename)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load(path: Path, device: torch.device | str = "cpu") -> Any:
    """Load a checkpoint written by `save` (tensors, numbers, strings and containers only)."""
    return torch.load(path, map_location=device, weights_only=True)


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


def write_summary(workdir: Path, fingerprint_: str, step: int, epoch: int, finished: bool) -> None:
    """Small JSON beside the resume checkpoint, so callers can check it without loading weights."""
    write_json(
        Path(workdir) / SUMMARY_FILE,
        {"fingerprint": fingerprint_, "step": step, "epoch": epoch, "finished": finished},
    )


def read_summary(workdir: Path) -> dict[str, Any] | None:
    """The summary of the resume checkpoint in `workdir`, or None when there is none."""
    path = Path(workdir) / SUMMARY_FILE
    if not (path.exists() and (Path(workdir) / RESUME_FILE).exists()):
        return None
    return json.loads(path.read_text(encoding="utf-8"))
