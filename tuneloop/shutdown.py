"""Stopping `tuneloop serve` without losing a question: SIGTERM (systemd, Docker, Kubernetes)
and SIGINT (Ctrl+C) alike ask the process to stop; it takes no new events, finishes the ones it
accepted within the grace period, and exits 0.

A second Ctrl+C stops at once (exit 130), for a person who does not want to wait.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("tuneloop.serve")

HANDLED = (signal.SIGTERM, signal.SIGINT)


class Stopper:
    """Turns SIGTERM/SIGINT into a stop request that `wait()` returns on; `on_stop` callbacks
    get the signal's name and run in the signal handler (keep them to setting flags)."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.requested = threading.Event()
        self.signal_name: str | None = None
        self._at: float | None = None
        self._on_stop: list[Callable[[str], None]] = []

    def install(self, *on_stop: Callable[[str], None]) -> Stopper:
        """Take over SIGTERM and SIGINT (main thread only)."""
        self._on_stop.extend(on_stop)
        for sig in HANDLED:
            signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested.is_set():
            if signum == signal.SIGINT:
                sys.stderr.write("second interrupt: stopping now, answers in flight are cut\n")
                sys.stderr.flush()
                os._exit(130)
            return
        self.request(name)

    def request(self, why: str) -> None:
        """Ask to stop (what a signal does; tests and embedders may call it)."""
        if self.requested.is_set():
            return
        self.signal_name = why
        self._at = time.monotonic()
        log.info(
            "%s: taking no new events; finishing those accepted (grace %.0f s)", why, self.grace_s
        )
        for callback in self._on_stop:
            callback(why)
        self.requested.set()

    def wait(self) -> None:
        """Block until a stop is requested (short waits, so signal handlers run promptly)."""
        while not self.requested.wait(0.5):
            pass

    def grace_left(self) -> float:
        """Seconds of the grace period still left since the stop was requested."""
        if self._at is None:
            return self.grace_s
        return max(0.0, self.grace_s - (time.monotonic() - self._at))
