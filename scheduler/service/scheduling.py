"""The APScheduler 3 jobs: the cycle on a cron expression or an interval, a poll job every
minute while a cycle is open, and the lease renewal.

Every job first makes sure this process holds the lease, so in a fleet of processes only the
leader works, and advances the cycle under the lease's fencing token: a leader that was paused
past its lease and woke up finds its writes refused (`LeaseLost`) and stands by. Jobs run with
`max_instances=1` and coalescing (a backlog of missed runs becomes one run), within a misfire
grace time; inside the process a lock keeps the cycle job and the
poll job from advancing the same cycle at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.cycle import CycleReport
from scheduler.cycle.runner import WriteFence
from scheduler.errors import LeaseLost
from scheduler.service.lease import Lease

log = logging.getLogger(__name__)

CYCLE_JOB = "retrain-cycle"
POLL_JOB = "retrain-poll"
LEASE_JOB = "scheduler-lease"


class Cycle(Protocol):
    """What the scheduler needs of the cycle runner."""

    def tick(
        self,
        *,
        force: bool = False,
        trigger: str = "schedule",
        requested_by: str | None = None,
        fence: WriteFence | None = None,
    ) -> CycleReport: ...

    def poll(self, *, fence: WriteFence | None = None) -> CycleReport | None: ...

    def open_cycle(self) -> object | None: ...


@dataclass(frozen=True)
class ScheduleConfig:
    #: A crontab expression (UTC), used unless `interval_minutes` is set.
    cron: str = "0 3 * * *"
    interval_minutes: int | None = None
    poll_seconds: int = 60
    misfire_grace_s: int = 3600

    def trigger(self) -> BaseTrigger:
        if self.interval_minutes:
            return IntervalTrigger(minutes=self.interval_minutes, timezone=UTC)
        return CronTrigger.from_crontab(self.cron, timezone=UTC)


class RetrainScheduler:
    def __init__(
        self,
        runner: Cycle,
        lease: Lease,
        config: ScheduleConfig | None = None,
        *,
        scheduler: BaseScheduler | None = None,
        on_leadership: Callable[[bool], None] | None = None,
    ) -> None:
        self.runner = runner
        self._on_leadership = on_leadership
        self.lease = lease
        self.config = config or ScheduleConfig()
        self.scheduler = scheduler or BackgroundScheduler(timezone=UTC)
        self._work = threading.Lock()
        # APScheduler's shutdown(wait=True) holds its job-store lock while it waits for running
        # jobs, so a job that adds or removes a job then would deadlock it. Jobs change jobs
        # only under this lock and never once stopping is set; shutdown sets it first.
        self._jobs_lock = threading.Lock()
        self._stopping = False
        self._leading = False

    @property
    def is_leader(self) -> bool:
        return self._leading

    def start(self, *, paused: bool = False) -> None:
        job_options = {
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": self.config.misfire_grace_s,
            "replace_existing": True,
        }
        self.scheduler.add_job(
            self.run_cycle, self.config.trigger(), id=CYCLE_JOB, name="retrain cycle", **job_options
        )
        renew_every = max(1.0, self.lease.ttl.total_seconds() / 3)
        self.scheduler.add_job(
            self.renew_lease,
            IntervalTrigger(seconds=renew_every, timezone=UTC),
            id=LEASE_JOB,
            name="scheduler lease",
            **job_options,
        )
        self.scheduler.start(paused=paused)
        self.renew_lease()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop scheduling, let a running step finish (every step is resumable), and hand
        the lease over at once."""
        with self._jobs_lock:
            self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        self.lease.release()
        self._leading = False

    # --- jobs -------------------------------------------------------------------------------
    def renew_lease(self) -> bool:
        """Renew (or try to take) the lease. The leader also starts polling a cycle that is
        open without its poll job: left by a previous leader, or opened by `retrain --now`."""
        if self._stopping:
            return False
        leading = self.lease.acquire()
        if leading:
            if not self._leading:
                log.info("this process (%s) leads the scheduler", self.lease.holder)
            if self.runner.open_cycle() is not None:
                self._poll_while_open(True)
        elif self._leading:
            log.warning("lost the scheduler lease; standing by")
        changed = leading != self._leading
        self._leading = leading
        if changed and self._on_leadership is not None:
            self._on_leadership(leading)
        return leading

    def run_cycle(self) -> CycleReport | None:
        if not self.renew_lease():
            return None
        with self._work:
            try:
                report = self.runner.tick(trigger="schedule", fence=self.lease.fence().check)
            except LeaseLost as exc:
                return self._lost(exc)
        log.info("scheduled retraining: %s", report.note)
        self._poll_while_open(report.cycle_id is not None and not report.decided)
        return report

    def poll(self) -> CycleReport | None:
        if not self.renew_lease():
            return None
        if not self._work.acquire(blocking=False):
            return None  # the cycle job is advancing it right now
        try:
            report = self.runner.poll(fence=self.lease.fence().check)
        except LeaseLost as exc:
            return self._lost(exc)
        finally:
            self._work.release()
        self._poll_while_open(report is not None and not report.decided)
        return report

    def _lost(self, exc: LeaseLost) -> None:
        """Another process leads now (this one was paused past its lease): its write was
        refused, and the new leader resumes the cycle from the last record."""
        log.warning("stopped advancing the cycle: %s", exc)
        self._leading = False
        if self._on_leadership is not None:
            self._on_leadership(False)
        self._poll_while_open(False)
        return None

    def _poll_while_open(self, is_open: bool) -> None:
        with self._jobs_lock:
            if not self._stopping:
                self._set_poll_job(is_open)

    def _set_poll_job(self, is_open: bool) -> None:
        job = self.scheduler.get_job(POLL_JOB)
        if is_open and job is None:
            self.scheduler.add_job(
                self.poll,
                IntervalTrigger(seconds=self.config.poll_seconds, timezone=UTC),
                id=POLL_JOB,
                name="retrain poll",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=self.config.poll_seconds,
                replace_existing=True,
            )
        elif not is_open and job is not None:
            self.scheduler.remove_job(POLL_JOB)
