"""Progress bars for byte transfers: a rich display on stderr, or nothing when off."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class _Bar:
    """A rich progress bar for one file, or nothing when progress is off."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self._progress, self._task = progress, task

    def start(self, total: int | None, completed: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total, completed=completed)

    def advance(self, amount: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=amount)


def bytes_progress() -> Any:
    """A rich progress display on stderr for byte counts: size, speed and time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=Console(stderr=True))


@contextlib.contextmanager
def _progress_bar(enabled: bool, label: str) -> Iterator[_Bar]:
    if not enabled:
        yield _Bar()
        return
    with bytes_progress() as progress:
        yield _Bar(progress, progress.add_task(label, total=None))
