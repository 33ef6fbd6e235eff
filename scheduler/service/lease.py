"""A lease row in our own database: at most one scheduler process leads at a time.

The leader renews its lease well before it expires; another process takes it over only once it
has expired, so a leader that dies is replaced within one TTL. Acquiring reads the row under a
lock (SQLite's BEGIN IMMEDIATE, PostgreSQL's FOR UPDATE) and a concurrent first insert loses on
the primary key, so two processes can never both believe they lead. Expiry is judged by each
process's own clock: keep hosts' clocks in sync (NTP) and the TTL well above their skew.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, OperationalError

from curation.db import Database
from curation.models.base import utcnow
from scheduler.records import SchedulerLease

log = logging.getLogger(__name__)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead_here(holder: str) -> bool:
    """True if `holder` names a process on this host that no longer runs (killed with -9, so
    it could not release): its lease need not run out before someone else may lead."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease:
    def __init__(
        self,
        db: Database,
        *,
        name: str = "scheduler",
        holder: str | None = None,
        ttl: timedelta = timedelta(seconds=90),
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.name = name
        self.holder = holder or default_holder()
        self.ttl = ttl
        self._now = now

    def acquire(self) -> bool:
        """Take the lease or renew ours; True if we hold it afterwards."""
        try:
            with self.db.session() as session:
                row = session.scalar(
                    select(SchedulerLease).where(SchedulerLease.name == self.name).with_for_update()
                )
                now = self._now()
                if row is None:
                    session.add(
                        SchedulerLease(
                            name=self.name,
                            holder=self.holder,
                            acquired_at=now,
                            renewed_at=now,
                            expires_at=now + self.ttl,
                        )
                    )
                    session.flush()
                    return True
                if row.holder != self.holder and row.expires_at > now:
                    if not holder_is_dead_here(row.holder):
                        return False
                    log.info(
                        "the %s lease holder %s has exited; taking over", self.name, row.holder
                    )
                if row.holder != self.holder:
                    log.info("taking over the %s lease from %s", self.name, row.holder)
                    row.holder = self.holder
                    row.acquired_at = now
                row.renewed_at = now
                row.expires_at = now + self.ttl
                return True
        except IntegrityError:
            return False  # another process inserted the first row at the same moment
        except OperationalError as exc:
            log.warning("could not reach the database for the %s lease: %s", self.name, exc)
            return False

    def release(self) -> None:
        """Give the lease up at once (on a clean shutdown), if we hold it."""
        with self.db.session() as session:
            session.execute(
                delete(SchedulerLease).where(
                    SchedulerLease.name == self.name, SchedulerLease.holder == self.holder
                )
            )

    def current(self) -> SchedulerLease | None:
        with self.db.read_session() as session:
            return session.get(SchedulerLease, self.name)


class LeaseKeeper:
    """Holds a lease for the length of a `with` block, renewing it on a background thread, so a
    long step (an evaluation) never lets it lapse. For one-off commands; the scheduler renews
    through its own job."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> bool:
        held = self.lease.acquire()
        if held:
            self._thread = threading.Thread(target=self._renew, name="lease", daemon=True)
            self._thread.start()
        return held

    def __exit__(self, *_exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.lease.release()

    def _renew(self) -> None:
        interval = max(0.5, self.lease.ttl.total_seconds() / 3)
        while not self._stop.wait(interval):
            if not self.lease.acquire():
                log.warning("lost the %s lease while working", self.lease.name)
