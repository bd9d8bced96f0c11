"""A saved deep model's files: weights written safely, params.json read back with clear errors.

Layout of a flat model: ``weights.pt`` (the network's state dict, tensors only) and
``params.json`` (method, plugin version, resolved hyperparameters, the network's config).
"""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch import nn

from xmcbench.errors import XMCBenchError, naming_path

from . import checkpoint

WEIGHTS_FILE, PARAMS_FILE = "weights.pt", "params.json"
# what torch.load raises on a file that is not a checkpoint: a foreign pickle (refused by
# weights_only), text (KeyError), a truncated archive (RuntimeError)
NOT_A_CHECKPOINT = (pickle.UnpicklingError, EOFError, KeyError, RuntimeError, ValueError)


def save_weights(model: nn.Module, path: Path) -> None:
    """The network's weights (on CPU) as `path`; a failed write is one line naming the file."""
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    try:
        with naming_path(path):
            checkpoint.save(weights, path)
    except RuntimeError as exc:  # torch reports a failed write (disk full) as RuntimeError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "write failed"
        raise XMCBenchError(f"{path}: cannot write ({reason})") from exc


def load_weights(model: nn.Module, weights_file: Path) -> nn.Module:
    """`model` with the weights of `weights_file`; a foreign or mismatched file is one line."""
    try:
        with no_pickle_warnings():
            weights = checkpoint.load(weights_file, "cpu")
    except NOT_A_CHECKPOINT as exc:
        raise XMCBenchError(f"{weights_file}: not a model written by xmcbench") from exc
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as exc:  # missing or foreign weights
        detail = " ".join(str(exc).split()) or type(exc).__name__
        detail = detail if len(detail) <= 160 else detail[:159] + "…"
        raise XMCBenchError(
            f"{weights_file}: does not fit the network in {PARAMS_FILE} ({detail})"
        ) from exc
    return model


def read_params(params_file: Path) -> tuple[str | None, int, dict[str, Any], dict[str, Any]]:
    """(preset, seed, hyperparameters, whole file) of a saved params.json; errors name it."""
    try:
        saved = json.loads(params_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise XMCBenchError(f"{params_file}: not valid JSON ({exc})") from None
    params = saved.get("params") if isinstance(saved, dict) else None
    if not isinstance(params, dict) or "preset" not in params or "seed" not in params:
        raise XMCBenchError(f"{params_file}: not a model written by xmcbench (no 'params')")
    params = dict(params)
    preset, seed = params.pop("preset"), params.pop("seed")
    params.pop("device", None)
    return preset, seed, params, saved


def foreign_file(folder: Path) -> Path:
    """The first weights file under `folder` that torch cannot load safely (else the folder)."""
    for candidate in sorted(folder.rglob("*.pt")):
        try:
            with no_pickle_warnings():
                checkpoint.load(candidate, "cpu")
        except NOT_A_CHECKPOINT:
            return candidate
    return folder


@contextmanager
def no_pickle_warnings() -> Iterator[None]:
    """Silence torch's warning about a foreign pickle's protocol: the error will say it all."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        yield
