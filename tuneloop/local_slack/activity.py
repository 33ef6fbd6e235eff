"""Knowing when an app has finished reacting, without sleeping.

Slack acknowledges an event before the app acts on it, so "the bot did not answer twice" can
only be checked once the app is idle. Give the app `TrackingExecutor`s (for Bolt's listeners
and for its reply workers) sharing one `Activity`: a listener submits its follow-up work
before it finishes, so the shared count only reaches zero when everything is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Activity:
    def __init__(self) -> None:
        self._pending = 0
        self._idle = threading.Condition()

    def started(self) -> None:
        with self._idle:
            self._pending += 1

    def finished(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def wait_idle(self, timeout: float = 30.0) -> None:
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout):
                raise TimeoutError(f"the app was still busy after {timeout:.0f}s")


class TrackingExecutor(Executor):
    """A thread pool whose queued and running tasks count in an `Activity`."""

    def __init__(self, max_workers: int, activity: Activity, *, name: str = "tracked") -> None:
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix=name)
        self._activity = activity

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        self._activity.started()

        def run() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                self._activity.finished()

        try:
            return self._pool.submit(run)
        except BaseException:
            self._activity.finished()
            raise

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
