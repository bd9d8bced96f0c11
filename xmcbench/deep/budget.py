"""Training to a time budget: parse durations, decide when SWA starts, share a budget out.

A budget bounds the wall-clock seconds of training, summed over the processes of an interrupted
and resumed run (the seconds ride in the resume checkpoint with the step count): building the
label trees, each level's set-up (PPMI embeddings, candidate search), its training loop (steps
and validations) and its last validation, which the loop leaves time for. The time finished
levels took counts against the levels still to train.

SWA under a budget cannot wait for a fixed epoch alone: the run may end first. It starts at the
first of: the epoch warm-up, `SWA_PLATEAU` validations in a row without an nDCG@5 gain (the fast
phase is over, which is when averaging helps: averaging early snapshots cost 1.7 points of P@1
in a measured run), or `SWA_BUDGET_FRACTION` of the budget spent. The authors' configurations
start SWA between 13% (Wiki10-31K, 4 of 30 epochs) and 60% (Amazon-670K, 6 of 10) of training;
0.6 is their latest start, and leaves 40% of the budget to collect snapshots.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from xmcbench.errors import ParamError
from xmcbench.paramspec import Param

now = time.monotonic  # the engine's clock (seconds); tests replace it to run without waiting
SWA_PLATEAU = 3  # validations without an nDCG@5 gain that start SWA under a budget
SWA_BUDGET_FRACTION = 0.6  # share of the budget after which SWA starts at the latest
NO_BUDGET = ("none", "off", "unlimited")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m(?:in)?)?(?:(?P<s>\d+(?:\.\d+)?)s)?"
)


def parse_duration(value: Any) -> float | None:
    """Seconds of `value` ("30m", "1h30m", "90s", "2h", 90, "none"), None for no budget.

    Raises ValueError for anything else, zero and negative durations included.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text in NO_BUDGET:
            return None
        seconds = _parse_text(text)
    else:
        raise ValueError(f"not a duration: {value!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"not a positive duration: {value!r}")
    return seconds


def _parse_text(text: str) -> float:
    """Seconds of "1h30m"-style text or of a plain number; ValueError otherwise."""
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(match[unit]) * scale for unit, scale in _UNITS.items() if match[unit])


def format_duration(seconds: float | None) -> str:
    """A duration as `parse_duration` reads it back: "30m", "1h30m", "12.5s"; "none" for None."""
    if seconds is None:
        return "none"
    if not float(seconds).is_integer():
        return f"{seconds:.15g}s"
    whole, parts = int(seconds), []
    for unit, scale in _UNITS.items():
        count, whole = divmod(whole, int(scale))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class DurationParam(Param):
    """A paramspec entry for a time budget: a duration, a number of seconds, or none/off."""

    kind: str = "duration"
    optional: bool = True

    def describe(self) -> str:
        """What a valid value is, for the error message and `xmcbench methods`."""
        return "a duration such as 30m, 1h30m, 90s or 2h, a number of seconds, or none/off"

    def check(self, name: str, value: Any) -> float | None:
        """Seconds (float), None for no budget, or ParamError naming `name` and the value."""
        try:
            return parse_duration(value)
        except ValueError:
            shown = f"{value!r} (text)" if isinstance(value, str) else repr(value)
            raise ParamError(f"{name} must be {self.describe()}, got {shown}") from None


def duration() -> DurationParam:
    """The spec of a `time_budget` hyperparameter."""
    return DurationParam()


def swa_trigger(
    step: int,
    warmup_step: int,
    bad_evals: int,
    validated: bool,
    elapsed_s: float,
    budget_s: float | None,
    plateau: int = SWA_PLATEAU,
    fraction: float = SWA_BUDGET_FRACTION,
) -> str | None:
    """Why SWA starts now (a phrase for the log), or None while it should wait."""
    if step >= warmup_step:
        return "warm-up done"
    if budget_s is None:
        return None
    if validated and bad_evals >= plateau:
        return f"validation flat for {bad_evals} checks"
    if elapsed_s >= fraction * budget_s:
        return f"{fraction:.0%} of the time budget used"
    return None


ENCODER_NODES_PER_WIDTH = 17.0  # the encoder's cost in scored nodes, per unit of e + h


def level_cost(epochs: int, scored: int, embedding_dim: int, hidden_size: int) -> float:
    """Relative training cost of a level: epochs x (encoder + `scored` outputs) per token.

    Per token the BiLSTM does about 16 (e + h) h multiply-adds, the attention and output of one
    scored node about 4 h, so on paper the encoder weighs 4 (e + h) nodes; measured, its
    sequential steps run at a quarter of the attention's speed: 0.133 s a step at 2,048 scored
    nodes and 0.102 s at 256 (e + h = 328, 2 threads, debian-depends) fit 17 (e + h). With
    costs that match the clock, levels given the same epochs get time in proportion to them.
    """
    encoder = ENCODER_NODES_PER_WIDTH * (embedding_dim + hidden_size)
    return float(epochs) * (encoder + float(scored))


class Allowance:
    """A budget shared by units of work trained in turn (the levels of the trees of a job).

    Each unit gets what is left in proportion to its cost among the units still to come, so time
    a unit leaves unused (early stopping) goes to the later ones.
    """

    def __init__(self, total_s: float | None, costs: Sequence[float]) -> None:
        self.total_s, self.costs = total_s, [max(float(c), 1e-9) for c in costs]
        self.spent_s = 0.0
        self.done = 0

    def next_budget(self) -> float | None:
        """Seconds for the next unit (at least one second), None without a budget."""
        if self.total_s is None:
            return None
        left = max(self.total_s - self.spent_s, 0.0)
        rest = self.costs[self.done :] or [1.0]
        return max(left * rest[0] / sum(rest), 1.0)

    def spend(self, seconds: float) -> None:
        """Count a finished unit and the seconds it took."""
        self.spent_s += max(float(seconds), 0.0)
        self.done += 1

    def charge(self, seconds: float) -> None:
        """Count seconds of shared set-up (building a label tree) that no unit owns."""
        self.spent_s += max(float(seconds), 0.0)


def left_after_setup(budget_s: float | None, started: float) -> float | None:
    """What a training loop gets of `budget_s` once the set-up since `started` is paid (at
    least one second); None without a budget."""
    if budget_s is None:
        return None
    return max(1.0, budget_s - (now() - started))


def split_budget(total_s: float, costs: Sequence[float]) -> list[float]:
    """Each unit's share of `total_s` when every unit uses all of its own (proportional)."""
    allowance, shares = Allowance(total_s, costs), []
    for _ in costs:
        share = float(allowance.next_budget() or 0.0)
        shares.append(share)
        allowance.spend(share)
    return shares


def summary(
    time_budget_s: float | None, parts: Sequence[dict[str, Any]], per_level: bool = False
) -> dict[str, Any]:
    """What a record keeps of training: the budget, the seconds trained, what stopped it.

    `parts` are the trained units (one for a flat model, one per level of each tree), each with
    "train_s" and "stopped_by"; a run is "time_budget" if any part ran out of time.
    """
    stopped = [str(part.get("stopped_by", "")) for part in parts] or [""]
    out: dict[str, Any] = {
        "time_budget": format_duration(time_budget_s),
        "time_budget_s": time_budget_s,
        "train_s": round(sum(float(part.get("train_s", 0.0)) for part in parts), 3),
        "stopped_by": "time_budget" if "time_budget" in stopped else stopped[-1],
    }
    if per_level:
        out["levels"] = [dict(part) for part in parts]
    return out
