"""Thread pools whose threads are all running before the first task arrives.

`ThreadPoolExecutor` starts a thread when a task finds none idle, and starts it while holding
a lock that every executor in the process shares (`concurrent.futures.thread`'s
`_global_shutdown_lock`), waiting for the new thread to get going. In a burst (200 questions
at once) each new thread waits its turn for the GIL, and meanwhile every `submit` in the
process, to any pool, queues behind that lock: Bolt's listeners, the reply workers and the
status calls alike. Started up front, a pool never starts a thread under load.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

#: How long starting a pool may take before it is reported broken (seconds).
START_TIMEOUT_S = 60.0


def started_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A `ThreadPoolExecutor` of `workers` threads named `name`_N, all of them started.

    Raises threading.BrokenBarrierError if the threads are not all running within
    START_TIMEOUT_S (the process is out of threads, say)."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    # Each task holds its thread until all of them (and this caller) have arrived, so every
    # submit finds no idle thread and starts one.
    everyone = threading.Barrier(workers + 1)
    for _ in range(workers):
        pool.submit(everyone.wait, START_TIMEOUT_S)
    try:
        everyone.wait(START_TIMEOUT_S)
    except threading.BrokenBarrierError:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool
