"""One leader across processes, and the APScheduler jobs that only the leader runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from curation.db import Database
from scheduler.cycle import CycleReport
from scheduler.service import Lease, RetrainScheduler, ScheduleConfig
from scheduler.service.scheduling import CYCLE_JOB, LEASE_JOB, POLL_JOB

T0 = datetime(2026, 11, 21, 3, tzinfo=UTC)


def test_one_holder_at_a_time_and_takeover_after_expiry(db: Database) -> None:
    clock = [T0]
    a = Lease(db, holder="a", ttl=timedelta(seconds=60), now=lambda: clock[0])
    b = Lease(db, holder="b", ttl=timedelta(seconds=60), now=lambda: clock[0])
    assert a.acquire() and not b.acquire()
    clock[0] += timedelta(seconds=59)
    assert a.acquire()  # renewed: good for another 60 s
    clock[0] += timedelta(seconds=59)
    assert not b.acquire()
    clock[0] += timedelta(seconds=2)  # a stopped renewing (died): the lease expired
    assert b.acquire() and not a.acquire()
    assert b.current().holder == "b"


def test_release_hands_over_at_once(db: Database) -> None:
    a, b = Lease(db, holder="a"), Lease(db, holder="b")
    assert a.acquire() and not b.acquire()
    b.release()  # not ours: changes nothing
    assert not b.acquire()
    a.release()
    assert b.acquire()


def test_racing_processes_elect_exactly_one_leader(db: Database) -> None:
    leases = [Lease(db, holder=f"p{i}") for i in range(6)]
    barrier = threading.Barrier(len(leases))
    won: list[str] = []

    def contend(lease: Lease) -> None:
        barrier.wait()
        if lease.acquire():
            won.append(lease.holder)

    threads = [threading.Thread(target=contend, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


class FakeRunner:
    def __init__(self, *, open_after_tick: bool) -> None:
        self.open_after_tick = open_after_tick
        self.ticks = 0
        self.polls = 0
        self.open = False

    def tick(
        self, *, force=False, trigger="schedule", requested_by=None, fence=None
    ) -> CycleReport:
        self.ticks += 1
        self.open = self.open_after_tick
        return CycleReport(1, True, "train", None if self.open else "promoted", "note")

    def poll(self, *, fence=None) -> CycleReport | None:
        self.polls += 1
        self.open = False
        return CycleReport(1, False, "done", "promoted", "decided")

    def open_cycle(self):
        return object() if self.open else None


def _scheduler(db: Database, runner: FakeRunner, holder: str) -> RetrainScheduler:
    service = RetrainScheduler(
        runner,
        Lease(db, holder=holder),
        ScheduleConfig(cron="0 3 * * *", poll_seconds=60, misfire_grace_s=600),
        scheduler=BackgroundScheduler(timezone=UTC),
    )
    service.start(paused=True)  # jobs registered, none fired by time: the test calls them
    return service


def test_only_the_leader_runs_the_cycle(db: Database) -> None:
    runner_a, runner_b = FakeRunner(open_after_tick=False), FakeRunner(open_after_tick=False)
    a = _scheduler(db, runner_a, "a")
    b = _scheduler(db, runner_b, "b")
    try:
        assert a.is_leader and not b.is_leader
        assert a.run_cycle() is not None and b.run_cycle() is None
        assert (runner_a.ticks, runner_b.ticks) == (1, 0)
        a.shutdown()  # SIGTERM path: the lease is handed over at once
        assert b.renew_lease() and b.run_cycle() is not None and runner_b.ticks == 1
    finally:
        a.shutdown(wait=False)
        b.shutdown(wait=False)


def test_jobs_coalesce_run_one_at_a_time_and_poll_only_while_open(db: Database) -> None:
    runner = FakeRunner(open_after_tick=True)
    service = _scheduler(db, runner, "solo")
    try:
        job = service.scheduler.get_job(CYCLE_JOB)
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 600)
        assert str(job.trigger).startswith("cron[") and service.scheduler.get_job(LEASE_JOB)
        assert service.scheduler.get_job(POLL_JOB) is None
        service.run_cycle()  # the cycle is now waiting on a fine-tuning job
        poll = service.scheduler.get_job(POLL_JOB)
        assert poll is not None and poll.trigger.interval == timedelta(seconds=60)
        service.poll()  # decided: polling stops
        assert service.scheduler.get_job(POLL_JOB) is None and runner.polls == 1
    finally:
        service.shutdown(wait=False)


def test_a_new_leader_resumes_polling_an_open_cycle(db: Database) -> None:
    runner = FakeRunner(open_after_tick=True)
    runner.open = True  # left open by a leader that died
    service = _scheduler(db, runner, "heir")
    try:
        assert service.scheduler.get_job(POLL_JOB) is not None
    finally:
        service.shutdown(wait=False)


def test_an_interval_can_replace_the_cron_expression() -> None:
    trigger = ScheduleConfig(interval_minutes=90).trigger()
    assert trigger.interval == timedelta(minutes=90)
