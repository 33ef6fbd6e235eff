"""One leader, even in containers: no pid is trusted across PID namespaces, and a leader that
was paused past its lease cannot write (fencing tokens), so only one process advances a cycle."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

import scheduler.service.lease as lease_module
from curation.db import Database
from scheduler.cycle import CycleReport
from scheduler.cycle import runner as cycle_runner
from scheduler.errors import LeaseLost
from scheduler.records import CycleStage, Promotion, PromotionAction, RetrainCycle
from scheduler.service import Lease, RetrainScheduler, ScheduleConfig, retrain_by_hand
from tests.scheduler.conftest import Harness
from tests.scheduler.test_cycle import seed
from tests.scheduler.test_resume import assert_one_clean_cycle

T0 = datetime(2026, 11, 21, 3, tzinfo=UTC)
TTL = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


def test_every_acquisition_takes_a_newer_token_and_a_renewal_keeps_it(db: Database) -> None:
    clock = Clock()
    a = Lease(db, holder="a", ttl=TTL, now=clock)
    b = Lease(db, holder="b", ttl=TTL, now=clock)
    assert a.acquire() and a.token == 1
    clock.at += timedelta(seconds=10)
    assert a.acquire() and a.token == 1  # renewed, same token
    a.release()
    assert a.token is None and a.current() is None
    assert b.acquire() and b.token == 2  # the released row kept its count
    clock.at += TTL * 2  # b stopped renewing
    assert a.acquire() and a.token == 3
    assert not b.acquire() and b.token is None
    with pytest.raises(LeaseLost):
        b.fence()


def test_two_schedulers_with_one_host_name_in_separate_pid_namespaces_never_flip(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both containers are called `box` and both schedulers run as pid 1. Seen from one
    namespace, the other's pid 1 does not exist (or is someone else): it must not count."""
    clock = Clock()
    monkeypatch.setattr(socket, "gethostname", lambda: "box")
    a = Lease(db, holder="box:1:aaaaaaaa:4026531836", ttl=TTL, now=clock)
    b = Lease(db, holder="box:1:bbbbbbbb:4026532999", ttl=TTL, now=clock)

    def no_such_process(pid: int, signal: int) -> None:
        raise ProcessLookupError(pid)

    monkeypatch.setattr(os, "kill", no_such_process)
    namespace = {"now": "4026531836"}
    monkeypatch.setattr(lease_module, "pid_namespace", lambda: namespace["now"])
    leaders = []
    for _ in range(50):  # 50 s, each renewing and contending once a second
        clock.at += timedelta(seconds=1)
        namespace["now"] = "4026531836"
        a_leads = a.acquire()
        namespace["now"] = "4026532999"
        b_leads = b.acquire()
        assert not (a_leads and b_leads)
        leaders.append("a" if a_leads else "b" if b_leads else None)
    assert set(leaders) == {"a"} and a.token == 1  # no flip, no new token


def test_a_holder_gone_from_this_very_namespace_is_taken_over_at_once(db: Database) -> None:
    here = lease_module.pid_namespace()
    if not here:
        pytest.skip("no /proc/self/ns/pid here: pids are never judged, leases expire instead")
    clock = Clock()
    dead = Lease(db, holder=f"{socket.gethostname()}:999999999:dead:{here}", ttl=TTL, now=clock)
    assert dead.acquire() and dead.token == 1
    heir = Lease(db, holder="heir", ttl=TTL, now=clock)
    assert heir.acquire() and heir.token == 2  # before expiry: the pid is gone here
    older = Lease(db, holder=f"{socket.gethostname()}:999999999:old-format", ttl=TTL, now=clock)
    heir.release()
    assert older.acquire()
    assert not heir.acquire()  # a holder without its namespace is never judged by pid


def _pause_before(
    monkeypatch: pytest.MonkeyPatch, stage: CycleStage, clock: Clock, heir: Lease
) -> None:
    """The leader stops (SIGSTOP, a long pause) just before `stage` writes; meanwhile its
    lease expires and `heir` takes it."""
    original = cycle_runner.STAGES[stage]

    def paused_then_resumed(ctx, cycle):
        clock.at += TTL * 2
        assert heir.acquire()
        return original(ctx, cycle)

    monkeypatch.setitem(cycle_runner.STAGES, stage, paused_then_resumed)


@pytest.mark.parametrize("stage", [CycleStage.TRAIN, CycleStage.DECIDE, CycleStage.PROMOTE])
def test_a_paused_leader_cannot_advance_the_cycle(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, stage: CycleStage
) -> None:
    seed(harness.db)
    clock = Clock()
    old = Lease(harness.db, holder="old", ttl=TTL, now=clock)
    heir = Lease(harness.db, holder="heir", ttl=TTL, now=clock)
    assert old.acquire()
    _pause_before(monkeypatch, stage, clock, heir)
    with pytest.raises(LeaseLost, match="heir holds it with token 2"):
        harness.runner().tick(force=True, fence=old.fence().check)
    monkeypatch.undo()
    with harness.db.read_session() as s:
        cycle = s.scalars(select(RetrainCycle)).one()
        promotions = list(s.scalars(select(Promotion.action)))
    assert cycle.is_open and cycle.stage is stage  # the refused write left nothing behind
    assert PromotionAction.PROMOTE not in promotions
    report = harness.runner().poll(fence=heir.fence().check)
    assert report is not None and report.outcome == "promoted"
    assert_one_clean_cycle(harness)


def test_a_retrain_by_hand_that_loses_the_lease_follows_the_new_leader(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(harness.db)
    clock = Clock()
    heir = Lease(harness.db, holder="heir", ttl=TTL, now=clock)
    _pause_before(monkeypatch, CycleStage.EVALUATE, clock, heir)
    runner = harness.runner()

    def heir_finishes(_seconds: float) -> None:
        monkeypatch.undo()
        harness.runner().poll(fence=heir.fence().check)

    report = retrain_by_hand(
        runner,
        Lease(harness.db, holder="cli", ttl=TTL, now=clock),
        force=True,
        wait=True,
        trigger="manual",
        requested_by="test",
        sleep=heir_finishes,
    )
    assert report.outcome == "promoted"
    assert_one_clean_cycle(harness)


class LosingRunner:
    """A cycle whose write meets another leader's token (this process was paused mid-tick)."""

    def __init__(self, db: Database, clock: Clock, heir: Lease) -> None:
        self.db, self.clock, self.heir = db, clock, heir
        self.ticks = 0

    def tick(self, *, fence=None, **_: object) -> CycleReport:
        self.ticks += 1
        self.clock.at += TTL * 2
        assert self.heir.acquire()
        with self.db.guarded(fence).session():
            raise AssertionError("the fence let a stale leader write")

    def poll(self, *, fence=None) -> CycleReport | None:
        return None

    def open_cycle(self) -> object | None:
        return None


def test_a_scheduler_whose_write_is_fenced_off_stands_by(db: Database) -> None:
    clock = Clock()
    heir = Lease(db, holder="heir", ttl=TTL, now=clock)
    heard: list[bool] = []
    runner = LosingRunner(db, clock, heir)
    service = RetrainScheduler(
        runner,
        Lease(db, holder="old", ttl=TTL, now=clock),
        ScheduleConfig(),
        scheduler=BackgroundScheduler(timezone=UTC),
        on_leadership=heard.append,
    )
    service.start(paused=True)
    try:
        assert service.is_leader
        assert service.run_cycle() is None and runner.ticks == 1
        assert not service.is_leader and heard == [True, False]
        assert not service.renew_lease()  # the heir holds a live lease
    finally:
        service.shutdown(wait=False)
