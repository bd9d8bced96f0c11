"""SIGTERM handled like Ctrl-C, and both held back while a block must not be cut in half.

Schedulers and `timeout` stop a job with SIGTERM, whose default action kills the process on the
spot. Inside `sigterm_as_interrupt` it raises `Terminated` instead, a KeyboardInterrupt, so the
code that saves a checkpoint on Ctrl-C saves one on SIGTERM too; the CLI then exits with
`Terminated.exit_code` (143, the shell's code for SIGTERM) rather than Ctrl-C's 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGINT_EXIT_CODE = 130  # 128 + SIGINT: what a shell reports for a job stopped by Ctrl-C


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM: stop like on Ctrl-C (checkpoint, then exit 143)."""

    exit_code = 128 + signal.SIGTERM


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The exit status for an interrupt: 143 after SIGTERM, 130 after Ctrl-C."""
    return getattr(interrupt, "exit_code", SIGINT_EXIT_CODE)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises `Terminated` (main thread only: signals go there)."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, so an update or a save is never half done.

    A signal received meanwhile is handed to its previous handler when the block ends: Python's
    raises KeyboardInterrupt for Ctrl-C, `sigterm_as_interrupt`'s `Terminated` for SIGTERM; an
    ignored signal stays ignored, one with the default action raises like those two.
    """
    if not _in_main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            first = received[0]
            handler = previous[first]
            if callable(handler):  # Python's Ctrl-C handler raises; an outer `deferred` holds on
                handler(first, None)
            elif handler == signal.SIG_DFL:
                raise Terminated() if first == signal.SIGTERM else KeyboardInterrupt
