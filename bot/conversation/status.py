"""The thread's "is thinking..." status, shown only when a reply keeps people waiting.

People need a sign of life when an answer takes a while, not when it arrives at once: a status
set and cleared within a few milliseconds is a flicker and one Web API call (and rate-limit
budget) for nothing. So the status is set once `delay_s` has passed without a reply; a reply
that comes sooner cancels it. Slack clears a thread's status when the app replies, so a status
must never land after the reply: the first post waits for a status call already under way,
and a status that has not started by then never starts.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor


class DelayedCalls:
    """Runs callables on `executor` once their delay has passed, from one timer thread.

    Scheduling costs a heap push and, only when the new entry is due before every other, a
    wake-up of the timer thread. Cancelling is the caller's business: `DeferredStatus._due`
    does nothing once its reply has settled.
    """

    def __init__(self, executor: Executor, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._executor = executor
        self._clock = clock
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, delay_s: float, call: Callable[[], None]) -> None:
        if delay_s <= 0:
            self._executor.submit(call)
            return
        entry = (self._clock() + delay_s, next(self._order), call)
        with self._changed:
            heapq.heappush(self._due, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tuneloop-status-timer", daemon=True
                )
                self._thread.start()
            elif self._due[0] is entry:
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > self._clock():
                    self._changed.wait(self._due[0][0] - self._clock() if self._due else None)
                _, _, call = heapq.heappop(self._due)
            try:
                self._executor.submit(call)
            except RuntimeError:  # the executor (or the interpreter) is shutting down
                return


class DeferredStatus:
    """One reply's status: `start()` schedules it, `settle()` (before every post) cancels it
    or waits for a call under way. `show` makes the Web API call and must not raise."""

    _SCHEDULED, _SHOWING, _DONE = "scheduled", "showing", "settled"

    def __init__(self, show: Callable[[], None], *, delay_s: float, timers: DelayedCalls) -> None:
        self._show = show
        self._delay_s = delay_s
        self._timers = timers
        self._lock = threading.Lock()
        self._state: str | None = None
        self._shown = threading.Event()

    def start(self) -> None:
        if self._delay_s <= 0:  # at once: shown before any post, whatever the reply does
            with self._lock:
                self._state = self._SHOWING
            self._timers.call_later(0, self._show_now)
            return
        with self._lock:
            self._state = self._SCHEDULED
        self._timers.call_later(self._delay_s, self._due)

    def settle(self) -> None:
        with self._lock:
            if self._state != self._SHOWING:
                self._state = self._DONE  # the reply came first: no status from now on
                return
        self._shown.wait()

    def _due(self) -> None:
        with self._lock:
            if self._state != self._SCHEDULED:
                return
            self._state = self._SHOWING
        self._show_now()

    def _show_now(self) -> None:
        try:
            self._show()
        finally:
            self._shown.set()
