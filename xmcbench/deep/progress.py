"""Console feedback while training: a rich progress bar (loss, P@5/nDCG@5, ETA) and log lines.

Both go to stderr (stdout carries results only) and both stay silent while `xmcbench.notes`
is quiet (`--quiet`); the bar is drawn only when stderr is a terminal. Under a time budget
the bar also shows the budget left; its ETA is then the epoch cap's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..notes import quiet


class TrainingProgress:
    """Progress bar over optimizer steps plus one printed line per validation; bar optional."""

    def __init__(
        self, total_steps: int, enabled: bool = True, budget_s: float | None = None
    ) -> None:
        self.console = Console(stderr=True)
        # a bar only where someone watches: not in a log file or pipe, nor while quiet
        self.enabled = enabled and not quiet() and self.console.is_terminal
        self.total = total_steps
        self.budget_s = budget_s
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @contextlib.contextmanager
    def running(self, done: int = 0) -> Iterator[TrainingProgress]:
        """Show the bar (when enabled) for the duration of the block, starting at step `done`."""
        if not self.enabled:
            yield self
            return
        self._progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("P@5 {task.fields[p5]} nDCG@5 {task.fields[n5]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            *([TextColumn("budget left {task.fields[left]}")] if self.budget_s is not None else []),
            console=self.console,
            transient=False,
        )
        self._task = self._progress.add_task(
            "train", total=self.total, completed=done, epoch=0, loss="-", p5="-", n5="-", left="-"
        )
        with self._progress:
            yield self
        self._progress = None

    def step(self, epoch: int, loss: float, left_s: float | None = None) -> None:
        """One more step done; `left_s` is the time budget left (None: no budget)."""
        if self._progress is not None and self._task is not None:
            left = "-" if left_s is None else clock(left_s)
            self._progress.update(
                self._task, advance=1, epoch=epoch + 1, loss=f"{loss:.4f}", left=left
            )

    def evaluated(self, p5: float, n5: float) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, p5=f"{p5:.4f}", n5=f"{n5:.4f}")

    def log(self, message: str) -> None:
        """One line on stderr, above the bar when it is shown; nothing while quiet."""
        if not quiet():
            self.console.print(message, highlight=False, markup=False, soft_wrap=True)


def clock(seconds: float) -> str:
    """`seconds` as h:mm:ss, as the bar's other times are shown."""
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
