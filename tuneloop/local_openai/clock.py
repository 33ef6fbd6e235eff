"""The time that fine-tuning jobs follow, supplied by the caller.

Jobs advance lazily, whenever someone looks at them, by comparing the clock with the moments
their stages are due. A test holds a `ManualClock` and moves it (or uses `stage_seconds=0` so
every stage is due at once); the demo uses a `RealClock` with a few seconds per stage.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

#: 2026-01-01T00:00:00Z: where manual clocks start, so timestamps in tests are stable.
DEFAULT_MANUAL_START = 1_767_225_600.0


@runtime_checkable
class Clock(Protocol):
    """Unix time in seconds, and how long each asynchronous stage takes."""

    @property
    def stage_seconds(self) -> float: ...

    def now(self) -> float: ...


class RealClock:
    """Wall-clock time; each stage (file processing, validation, queue, training) lasts
    `stage_seconds`."""

    def __init__(self, stage_seconds: float = 3.0) -> None:
        if stage_seconds < 0:
            raise ValueError("stage_seconds must be >= 0")
        self._stage_seconds = float(stage_seconds)

    @property
    def stage_seconds(self) -> float:
        return self._stage_seconds

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to, for tests that watch a job step by step.

    With `stage_seconds=0` (see `instant_clock`) every stage is due as soon as it starts, so a
    job reads `validating_files` when created and `succeeded` on the next read.
    """

    def __init__(self, start: float = DEFAULT_MANUAL_START, *, stage_seconds: float = 1.0) -> None:
        if stage_seconds < 0:
            raise ValueError("stage_seconds must be >= 0")
        self._now = float(start)
        self._stage_seconds = float(stage_seconds)
        self._lock = threading.Lock()

    @property
    def stage_seconds(self) -> float:
        return self._stage_seconds

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward (never back) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        with self._lock:
            self._now += seconds
            return self._now

    def advance_stages(self, stages: float = 1.0) -> float:
        """Move time forward by a number of stages."""
        return self.advance(stages * self._stage_seconds)


def instant_clock(start: float = DEFAULT_MANUAL_START) -> ManualClock:
    """A manual clock whose stages take no time: jobs finish on their first read."""
    return ManualClock(start, stage_seconds=0.0)
