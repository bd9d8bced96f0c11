"""Training loop for any deep XMC model: Adam, adaptive clipping, SWA, early stopping, resume.

The model maps a padded batch to logits: ``model(tokens (b, T), lengths (b,))`` for every label,
or ``model(tokens, lengths, candidates (b, c))`` for a candidate subset; the loss is binary
cross-entropy against the batch's targets of the same shape. Validation is a callable returning
at least "p@5" and "ndcg@5"; the best weights (by nDCG@5) and a resume checkpoint go to `workdir`.

Under torchrun (see `distributed`) the model trains data-parallel: every step takes one global
batch of the source, each rank its own slice, gradients averaged by DistributedDataParallel.
Rank 0 validates, logs and writes the files; every decision is broadcast, so all ranks agree.

With a `time_budget` (seconds) training stops after the last step that leaves time for one
more step and a validation (the mean step, the latest validation), counting the seconds of
earlier processes of a resumed run (kept in the resume checkpoint); the stopped run still
validates, keeps SWA's average and ends with the best weights. See `budget` for when SWA
starts under a budget.

The config and state types are `train_state`'s, the checkpoint methods `trainer_checkpoints`'s
(a mixin); both are importable from here too.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from xmcbench import interrupts

from . import budget, checkpoint, distributed
from .batching import Batch, shard_batch
from .clipping import AdaptiveClipper
from .optim import LazyAdam, dense_gradients, sparse_gradient_modules
from .progress import TrainingProgress
from .swa import WeightAverage
from .train_state import BatchSource, Evaluator, TrainConfig, TrainState
from .trainer_checkpoints import RESUME_KEYS, CheckpointMixin

__all__ = [
    "RESUME_KEYS",
    "BatchSource",
    "Evaluator",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "autocast",
    "build_optimizers",
]


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """Mixed-precision context for the forward pass: bf16 on CPU or GPU, fp16 on GPU only."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision 'fp16' needs a CUDA device; use 'bf16' on CPU")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def build_optimizers(model: nn.Module, lr: float) -> list[torch.optim.Optimizer]:
    """LazyAdam (rows without a gradient stay put) when some weights get sparse gradients, else
    Adam; one optimizer for all parameters either way.

    nccl has no sparse all-reduce: under it a model built with optimizer="lazy" is switched to
    dense gradients (LazyAdam then updates like Adam); with optimizer="dense",
    sparse_embedding=true is still refused there (distributed.wrap).
    """
    lazy = getattr(getattr(model, "config", None), "optimizer", "dense") == "lazy"
    if lazy and distributed.active() and distributed.dist.get_backend() == "nccl":
        dense_gradients(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if sparse_gradient_modules(model):
        return [LazyAdam(params, lr=lr)]
    return [torch.optim.Adam(params, lr=lr)]


class Trainer(CheckpointMixin):
    """Trains `model` in place; after `fit` it holds the best (possibly averaged) weights.

    Under torchrun the data source's batches are global ones (build it with the per-process
    batch size x `distributed.world_size()`); each rank trains on its slice of each.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        device: torch.device,
        workdir: Path,
        fingerprint: str,
        on_step: Callable[[int], None] | None = None,
    ) -> None:
        self.model, self.config, self.device = model, config, device
        self.workdir, self.fingerprint, self.on_step = Path(workdir), fingerprint, on_step
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizers = build_optimizers(model, config.lr)
        self.clipper = AdaptiveClipper(config.clip_factor, config.clip_window)
        self.swa = WeightAverage()
        use_scaler = config.precision == "fp16" and device.type == "cuda"
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
        # data parallel: the DDP wrapper for training steps; validation uses the bare model
        self.parallel, self.world = distributed.active(), distributed.world_size()
        self.main = distributed.is_main()
        self.net = distributed.wrap(model, device)
        distributed.fork_rng()  # own dropout masks per rank (no-op in one process)
        self._map_location = torch.device("cpu") if self.parallel else device
        self._boundary_rng = checkpoint.rng_state()  # RNG state after the last completed step
        self.code = checkpoint.code_version(checkpoint.packages_of(model))  # checked on resume
        self.resumed_elapsed_s = 0.0  # seconds trained by earlier processes (set by `fit`)
        self.validation_s = 0.0  # how long the latest validation took
        self.validations_s = 0.0  # all validations of this process's loop, for the step time

    # ------------------------------------------------------------------ one step, one validation
    def train_step(self, batch: Batch) -> float:
        """One optimizer step: forward, BCE loss, backward, clipping, update; returns the loss."""
        self.net.train()
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        weight = 1.0
        if self.parallel:  # this rank's slice of the global batch
            batch, weight = shard_batch(batch, distributed.rank(), self.world)
        batch = batch.to(self.device)
        args = (batch.tokens, batch.lengths) + (
            () if batch.candidates is None else (batch.candidates,)
        )
        with autocast(self.device, self.config.precision):
            logits = self.net(*args)
        loss = F.binary_cross_entropy_with_logits(logits.float(), batch.targets)
        if self.parallel:  # DDP averages the gradients of the weighted losses over the ranks
            loss = loss * weight
        self.scaler.scale(loss).backward()
        for opt in self.optimizers:
            self.scaler.unscale_(opt)
        self.clipper(self.params)
        with interrupts.deferred():
            for opt in self.optimizers:
                self.scaler.step(opt)
            self.scaler.update()
        return distributed.average(loss.detach()) if self.parallel else float(loss.detach())

    def _validate(
        self, state: TrainState, evaluate: Evaluator, loss: float, progress: TrainingProgress
    ) -> None:
        """SWA snapshot, validation with the averaged weights, best/resume checkpoints."""
        started = budget.now()
        with interrupts.deferred():
            if self.swa.started:
                self.swa.update(self.model)
            with self.swa.swapped_in(self.model):
                metrics = distributed.from_main(evaluate, self.model)  # rank 0's, on every rank
                score = float(metrics["ndcg@5"])
                if score > state.best_score:
                    state.best_score, state.best_step, state.bad_evals = score, state.step, 0
                    if self.main:
                        checkpoint.save(
                            {"step": state.step, "score": score, "model": self.model.state_dict()},
                            self.workdir / checkpoint.BEST_FILE,
                        )
                else:
                    state.bad_evals += 1
            state.last_eval_step = state.step
            epoch = min(state.epoch, self.config.epochs - 1) + 1  # 1-based, for people
            state.history.append(
                {
                    "step": state.step,
                    "epoch": epoch,
                    "loss": loss,
                    "p@5": float(metrics["p@5"]),
                    "ndcg@5": score,
                }
            )
            self._save_resume(state)
        seconds = budget.now() - started  # the budget keeps this much for the last validation
        if self.parallel:  # every rank must reach the same stop decision
            seconds = distributed.average(torch.tensor(seconds, device=self.device))
        self.validation_s = seconds
        self.validations_s += seconds
        progress.evaluated(float(metrics["p@5"]), score)
        swa_note = f" swa x{self.swa.count}" if self.swa.started else ""
        self._log(progress)(
            f"step {state.step} epoch {epoch}: loss {loss:.4f} P@5 {metrics['p@5']:.4f} "
            f"nDCG@5 {score:.4f} best {state.best_score:.4f}@{state.best_step} "
            f"patience {state.bad_evals}/{self.config.patience}{swa_note}"
        )

    # ------------------------------------------------------------------ the loop
    def fit(self, data: BatchSource, evaluate: Evaluator) -> TrainState:
        """Train (or resume) until the epochs, `max_steps`, the patience or the budget run out.

        Ctrl-C or SIGTERM (sent by schedulers and `timeout`) saves a resume checkpoint, then
        raises KeyboardInterrupt (`xmcbench.interrupts.Terminated` for SIGTERM).
        """
        cfg = self.config
        self.workdir.mkdir(parents=True, exist_ok=True)
        total = cfg.epochs * data.n_batches
        total = min(total, cfg.max_steps) if cfg.max_steps else total
        eval_every = max(1, min(cfg.eval_every, data.n_batches))  # at least once per epoch
        swa_start = round(cfg.swa_warmup * data.n_batches)  # warm-up may end mid-epoch (0.5)
        progress = TrainingProgress(
            total, enabled=cfg.progress and self.main, budget_s=cfg.time_budget
        )
        log = self._log(progress)
        state = self._restore(log)
        self.resumed_elapsed_s = state.elapsed_s  # seconds the earlier processes trained
        saved_finished = state.finished
        if state.step > 0:
            log(
                f"resuming from step {state.step} (epoch {state.epoch + 1})"
                + (" - already finished" if state.finished else "")
            )
        loss = math.nan
        try:
            with interrupts.sigterm_as_interrupt(), progress.running(done=state.step):
                before, started, steps_from = state.elapsed_s, budget.now(), state.step
                while not state.finished and state.epoch < cfg.epochs:
                    for batch in data.batches(state.epoch, skip=state.batch_in_epoch):
                        self._start_swa_if_due(state, swa_start, log)
                        with interrupts.deferred():  # the update and its count go together
                            loss = self.train_step(batch)
                            state.step += 1
                            state.batch_in_epoch += 1
                            self._boundary_rng = checkpoint.rng_state()
                        progress.step(state.epoch, loss, self._time_left(state))
                        if self.on_step is not None:
                            self.on_step(state.step)
                        if state.step % eval_every == 0:
                            self._validate(state, evaluate, loss, progress)
                            if state.bad_evals >= cfg.patience:
                                state.finished, state.stopped_by = True, "patience"
                        if cfg.max_steps and state.step >= cfg.max_steps and not state.finished:
                            state.finished, state.stopped_by = True, "max_steps"
                        state.elapsed_s = self._elapsed(before, started)  # once per step
                        if not state.finished and self._budget_spent(state, before, steps_from):
                            state.finished, state.stopped_by = True, "time_budget"
                            log(
                                f"time budget used up at step {state.step} "
                                f"(epoch {state.epoch + 1}, {state.elapsed_s:.0f} s of training): "
                                "stopping; a last validation and the best weights follow"
                            )
                        if state.finished:
                            break
                    else:
                        state.epoch, state.batch_in_epoch = state.epoch + 1, 0
                if state.last_eval_step != state.step:
                    self._validate(state, evaluate, loss, progress)
                if not saved_finished:
                    state.elapsed_s = self._elapsed(before, started)
                    state.finished, state.stopped_by = True, state.stopped_by or "epochs"
                    self._save_resume(state)
        except KeyboardInterrupt as stop:
            with interrupts.deferred():  # a second signal waits for the checkpoint
                self._save_resume(state, every_rank=False)  # no collective: ranks out of step
            terminated = isinstance(stop, interrupts.Terminated)
            what = "stopped by SIGTERM" if terminated else "interrupted"
            log(f"{what} at step {state.step}; checkpoint saved in {self.workdir}")
            raise
        self._load_best(log)
        return state

    def _start_swa_if_due(
        self, state: TrainState, swa_start: int, log: Callable[[str], None]
    ) -> None:
        """Take SWA's first snapshot once its warm-up, or under a budget a plateau, is reached."""
        cfg = self.config
        if not cfg.swa or self.swa.started:
            return
        why = budget.swa_trigger(
            state.step, swa_start, state.bad_evals, state.best_step >= 0, state.elapsed_s,
            cfg.time_budget, cfg.swa_plateau, cfg.swa_budget_fraction,
        )  # fmt: skip
        if why is not None:
            self.swa.update(self.model)  # first snapshot: SWA starts here
            log(f"SWA starts at step {state.step} (epoch {state.epoch + 1}): {why}")

    def _elapsed(self, before: float, started: float) -> float:
        """Seconds trained so far in this run; under a budget every rank gets the same value."""
        seconds = before + budget.now() - started
        if self.parallel and self.config.time_budget is not None:  # ranks must stop together
            seconds = distributed.average(torch.tensor(seconds, device=self.device))
        return seconds

    def _budget_spent(self, state: TrainState, before: float, steps_from: int) -> bool:
        """Whether one more step and a validation after it would overrun the budget.

        The step's time is the mean of this process's steps (validations taken out); both it
        and the validation time are the same on every rank, so all ranks stop together.
        """
        left = self._time_left(state)
        if left is None:
            return False
        steps = max(1, state.step - steps_from)
        step_s = max(0.0, state.elapsed_s - before - self.validations_s) / steps
        return left < step_s + self.validation_s

    def _time_left(self, state: TrainState) -> float | None:
        """Seconds of the budget left (0.0 when used up), None without a budget."""
        if self.config.time_budget is None:
            return None
        return max(0.0, self.config.time_budget - state.elapsed_s)

    def _log(self, progress: TrainingProgress) -> Callable[[str], None]:
        """Log lines go to the console on rank 0 only."""
        return progress.log if self.main else (lambda text: None)
