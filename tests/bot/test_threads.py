"""Thread pools started up front: a burst of work never waits for a thread to start."""

from __future__ import annotations

import threading

from bot.threads import started_pool


def running(prefix: str) -> int:
    """Threads alive whose name starts with `prefix`."""
    return sum(1 for thread in threading.enumerate() if thread.name.startswith(prefix))


def test_every_thread_runs_before_the_first_task() -> None:
    pool = started_pool(12, "test-started-pool")
    try:
        assert running("test-started-pool_") == 12
        assert sorted(pool.map(lambda n: n * n, range(20))) == [n * n for n in range(20)]
        assert running("test-started-pool_") == 12  # no thread was added for the work
    finally:
        pool.shutdown()
    assert running("test-started-pool_") == 0
