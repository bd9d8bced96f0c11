"""The `Trainer`'s resume and best-weight checkpoints (a mixin): save, read, check, restore."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoint, distributed
from .clipping import AdaptiveClipper
from .swa import WeightAverage
from .train_state import TrainState

RESUME_KEYS = ("fingerprint", "state", "model", "optimizers", "swa", "clipper", "scaler", "rng")


class CheckpointMixin:
    """`Trainer`'s checkpoint methods; they use the attributes `Trainer.__init__` sets."""

    model: nn.Module
    workdir: Path
    fingerprint: str
    device: torch.device
    optimizers: list[torch.optim.Optimizer]
    clipper: AdaptiveClipper
    swa: WeightAverage
    scaler: torch.amp.GradScaler
    parallel: bool
    world: int
    main: bool
    code: dict[str, Any]
    _map_location: torch.device
    _boundary_rng: Any

    def _save_resume(self, state: TrainState, every_rank: bool = True) -> None:
        """Rank 0 writes the resume checkpoint; with every rank's RNG state if all call this."""
        rng_ranks = None
        if self.parallel and every_rank:
            rng_ranks = distributed.gather_objects(self._boundary_rng)
        if not self.main:
            return
        saved = {
            "fingerprint": self.fingerprint,
            "code": self.code,
            "state": dataclasses.asdict(state),
            "model": self.model.state_dict(),
            "optimizers": [opt.state_dict() for opt in self.optimizers],
            "swa": self.swa.state_dict(),
            "clipper": self.clipper.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": self._boundary_rng,
        }
        if rng_ranks is not None:
            saved["rng_ranks"] = rng_ranks
        checkpoint.save(saved, self.workdir / checkpoint.RESUME_FILE)
        checkpoint.write_summary(
            self.workdir, self.fingerprint, state.step, state.epoch, state.finished, self.code
        )

    def _read_resume(self, log: Callable[[str], None]) -> dict[str, Any] | None:
        """The resume checkpoint if this code can resume it for these settings, else None.

        Every reason to start afresh (missing, damaged, other code, other settings) gets one
        line. "best" is (score, step) from the best file, or None when that is missing.
        """
        saved = self._resumable(log)
        best_path = self.workdir / checkpoint.BEST_FILE
        if saved is None:  # a fresh start: the best weights of the run given up go too
            best_path.unlink(missing_ok=True)
            return None
        again = "choosing the best weights again from the next validation on"
        best = checkpoint.load_checked(best_path, "cpu", log, ("score", "step", "model"), again)
        saved["best"] = None if best is None else (float(best["score"]), int(best["step"]))
        if best is None and not best_path.exists() and saved["state"].get("best_step", -1) >= 0:
            log(f"checkpoint {best_path} is missing; {again}")
        return saved

    def _resumable(self, log: Callable[[str], None]) -> dict[str, Any] | None:
        """The resume checkpoint, or None with a line saying why it cannot be resumed."""
        path = self.workdir / checkpoint.RESUME_FILE
        summary = self.workdir / checkpoint.SUMMARY_FILE
        checkpoint.check_summary(summary, log)
        if not path.exists():
            if summary.exists():
                log(f"checkpoint {path} is missing (only {summary.name} is left); starting afresh")
            return None
        saved = checkpoint.load_checked(path, self._map_location, log, RESUME_KEYS)
        if saved is None:
            return None
        why = checkpoint.code_change(saved.get("code"))
        if why is not None:
            log(f"checkpoint {path} was written by other code ({why}); starting afresh")
            return None
        if saved["fingerprint"] != self.fingerprint:
            log(f"checkpoint {path} was written for other settings or data; starting afresh")
            return None
        return saved

    def _restore(self, log: Callable[[str], None]) -> TrainState:
        saved = distributed.from_main(self._read_resume, log)  # rank 0 reads, every rank gets it
        if saved is None:
            return TrainState()
        self.model.load_state_dict(saved["model"])
        for opt, opt_state in zip(self.optimizers, saved["optimizers"], strict=True):
            opt.load_state_dict(opt_state)
        self.swa.load_state_dict(saved["swa"], self.device)
        self.clipper.load_state_dict(saved["clipper"])
        self.scaler.load_state_dict(saved["scaler"])
        rng_ranks = saved.get("rng_ranks")
        if self.parallel and rng_ranks is not None and len(rng_ranks) == self.world:
            checkpoint.set_rng_state(rng_ranks[distributed.rank()])
        else:
            checkpoint.set_rng_state(saved["rng"])
            distributed.fork_rng()  # saved on an interrupt: rank 0's state only
        self._boundary_rng = checkpoint.rng_state()
        state = TrainState(**saved["state"])
        if saved["best"] is not None:  # trust the best file: maybe newer than the resume one
            state.best_score, state.best_step = saved["best"]
        elif state.best_step >= 0:  # the best weights are lost: validate the current ones
            state.best_score, state.best_step, state.last_eval_step = -math.inf, -1, -1
        return state

    def _load_best(self, log: Callable[[str], None]) -> None:
        """Every rank's model takes the weights of the best file (read by rank 0)."""
        path = self.workdir / checkpoint.BEST_FILE

        def load() -> None:
            keep = "keeping the last weights"
            best = checkpoint.load_checked(path, self.device, log, ("model",), keep)
            if best is not None:
                self.model.load_state_dict(best["model"])
            elif not path.exists():
                log(f"checkpoint {path} is missing; {keep}")

        distributed.from_main(load)  # in one process: just load()
        distributed.broadcast_module(self.model)  # tensor by tensor, no pickling
