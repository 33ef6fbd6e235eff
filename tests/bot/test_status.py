"""The deferred "is thinking..." status: shown only for slow replies, never after the reply."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.conversation.status import DeferredStatus, DelayedCalls


def test_delayed_calls_run_in_due_order_after_their_delay() -> None:
    ran: list[str] = []
    done = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        timers = DelayedCalls(pool)
        started = time.monotonic()
        timers.call_later(0.2, lambda: (ran.append("late"), done.set()))
        timers.call_later(0.05, lambda: ran.append("early"))  # due first: wakes the timer
        assert done.wait(5)
        assert time.monotonic() - started >= 0.2
    assert ran == ["early", "late"]


def test_a_reply_before_the_delay_means_no_status_ever() -> None:
    shown = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        status = DeferredStatus(shown.set, delay_s=0.3, timers=DelayedCalls(pool))
        status.start()
        status.settle()  # the reply is ready
        assert not shown.wait(0.6)


def test_a_reply_waits_for_a_status_call_under_way() -> None:
    calling, release, finished = threading.Event(), threading.Event(), threading.Event()

    def show() -> None:
        calling.set()
        release.wait(5)
        finished.set()

    with ThreadPoolExecutor(1) as pool:
        status = DeferredStatus(show, delay_s=0.01, timers=DelayedCalls(pool))
        status.start()
        assert calling.wait(5)
        settled = threading.Thread(target=status.settle)
        settled.start()
        settled.join(0.1)
        assert settled.is_alive()  # the post may not go before the status call ends
        release.set()
        settled.join(5)
        assert finished.is_set() and not settled.is_alive()
        status.settle()  # settling again returns at once


def test_with_no_delay_the_status_is_shown_before_any_post() -> None:
    shown = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        for _ in range(50):  # the post comes at once; it must still wait for the status
            shown.clear()
            status = DeferredStatus(shown.set, delay_s=0, timers=DelayedCalls(pool))
            status.start()
            status.settle()
            assert shown.is_set()


def test_a_call_due_after_its_executor_stopped_ends_the_timer_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At shutdown a status may fall due after the executor stopped taking work: the timer
    thread ends without a traceback in the log."""
    failures: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    pool = ThreadPoolExecutor(1)
    timers = DelayedCalls(pool)
    pool.shutdown()
    timers.call_later(0.01, lambda: None)
    assert timers._thread is not None
    timers._thread.join(5)
    assert not timers._thread.is_alive()
    assert failures == []
