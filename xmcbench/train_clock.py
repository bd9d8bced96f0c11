"""Training time across resumes: the seconds every process spent training in one work folder.

A run interrupted and resumed trains in several processes; its record should say how long the
training took in all, not only the last part. `ELAPSED_FILE` in the work folder holds the seconds
the earlier processes trained, how many processes started training there and the code they
ran; it is rewritten when this process stops training, whether it finished, failed or was
interrupted. (A process killed outright, e.g. by SIGKILL, cannot add its seconds.) Seconds
trained by other code are not counted: the methods start afresh when the code that wrote their
checkpoints changed, and a record's time is the time of the code it names.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .io import write_json

ELAPSED_FILE = "elapsed.json"


class TrainClock:
    """Times this process's training and adds it to the earlier processes' in the folder.

    `code` names the code that trains (e.g. its git commit and package versions): the seconds of
    earlier processes count only when they ran the same.
    """

    def __init__(self, folder: Path, code: str = "") -> None:
        self.path = Path(folder) / ELAPSED_FILE
        self.code = code
        self.before_s, self.sessions = _read(self.path, code)
        self._started: float | None = None
        self.this_process_s = 0.0

    def start(self) -> None:
        """Count this process as one more session and start its clock."""
        self.sessions += 1
        write_json(self.path, self._state(self.before_s))
        self._started = time.perf_counter()

    def stop(self) -> None:
        """Stop the clock and write the total so far (the next resume adds to it)."""
        if self._started is None:
            return
        self.this_process_s = time.perf_counter() - self._started
        self._started = None
        write_json(self.path, self._state(self.total_s))

    def _state(self, seconds: float) -> dict[str, object]:
        return {"train_s": seconds, "sessions": self.sessions, "code": self.code}

    @property
    def total_s(self) -> float:
        """Seconds trained by every process so far, this one included."""
        return self.before_s + self.this_process_s

    @property
    def resumes(self) -> int:
        """How many times the training was taken up again from a checkpoint."""
        return max(0, self.sessions - 1)


def _read(path: Path, code: str) -> tuple[float, int]:
    """Seconds and sessions recorded in `path` by `code`; (0, 0) when absent, unreadable or
    written by other code."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("code", "") != code:
            return 0.0, 0
        return float(saved["train_s"]), int(saved["sessions"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0, 0
