"""`retrain` by hand next to a scheduler process: it never advances a cycle the leader runs,
follows it instead, and finishes the work itself when the leader goes away."""

from __future__ import annotations

import socket

from scheduler.records import CycleOutcome
from scheduler.service import Lease, retrain_by_hand
from scheduler.service.lease import pid_namespace
from tests.scheduler.conftest import Harness
from tests.scheduler.test_cycle import seed


def _retrain(harness: Harness, lease: Lease, **options):
    options.setdefault("force", True)
    options.setdefault("wait", True)
    return retrain_by_hand(
        harness.runner(),
        lease,
        trigger="manual",
        requested_by="cli:test",
        poll_seconds=0,
        **options,
    )


def test_without_a_scheduler_it_does_the_work_and_hands_the_lease_back(harness: Harness) -> None:
    seed(harness.db)
    lease = Lease(harness.db, holder="cli")
    report = _retrain(harness, lease)
    assert report.outcome == CycleOutcome.PROMOTED
    assert lease.current() is None


def test_with_a_live_scheduler_it_opens_the_cycle_and_follows(harness: Harness) -> None:
    seed(harness.db)
    leader = Lease(harness.db, holder="otherhost:4242:abcd")
    assert leader.acquire()
    followed: list[str] = []
    report = _retrain(
        harness, Lease(harness.db, holder="cli"), wait=False, on_follow=followed.append
    )
    assert report.started and report.stage == "export" and report.outcome is None
    assert followed == ["otherhost:4242:abcd"] and harness.jobs() == []


def test_it_finishes_the_cycle_when_the_leader_goes_away(harness: Harness) -> None:
    seed(harness.db)
    leader = Lease(harness.db, holder="otherhost:4242:abcd")
    assert leader.acquire()
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        leader.release()  # the scheduler stopped while we were following it

    report = _retrain(harness, Lease(harness.db, holder="cli"), sleep=nap)
    assert report.outcome == CycleOutcome.PROMOTED and naps == [0]
    assert len(harness.jobs()) == 1


def test_a_lease_left_by_a_killed_local_process_is_taken_at_once(harness: Harness) -> None:
    here = f"{socket.gethostname()}:999999999:dead:{pid_namespace()}"
    dead = Lease(harness.db, holder=here)
    assert dead.acquire()
    assert Lease(harness.db, holder="cli").acquire()


def test_waiting_reports_progress_until_the_decision(harness: Harness) -> None:
    seed(harness.db)
    leader = Lease(harness.db, holder="otherhost:4242:abcd")
    assert leader.acquire()
    heard: list[tuple[str | None, str]] = []

    def nap(seconds: float) -> None:
        leader.release()  # the scheduler stops; this process finishes the cycle

    report = _retrain(
        harness,
        Lease(harness.db, holder="cli"),
        sleep=nap,
        on_progress=lambda r: heard.append((r.outcome, r.stage or "")),
    )
    assert report.outcome == CycleOutcome.PROMOTED
    assert heard and all(outcome is None for outcome, _ in heard)  # only while undecided
    assert heard[0][1] == "export"
