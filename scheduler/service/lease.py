"""A lease row in our own database: at most one scheduler process leads at a time, and a
leader that lost the lease cannot write.

The leader renews its lease well before it expires; another process takes it over only once it
has expired (or was released), so a leader that dies is replaced within one TTL. Acquiring
reads the row under a lock (SQLite's BEGIN IMMEDIATE, PostgreSQL's FOR UPDATE) and a
concurrent first insert loses on the primary key, so two processes never both acquire.

Expiry alone cannot stop a leader that was paused (a stopped container, a long GC, a laptop
lid) and wakes up believing it still leads. So every acquisition takes the next fencing token
(`SchedulerLease.token`), and the cycle's writes run under `fence()`: in the transaction that
writes, the lease row must still carry this process's token, else the write is refused with
`LeaseLost` (the fencing token scheme of Kleppmann's "How to do distributed locking").
Expiry is judged by each process's own clock: keep hosts' clocks in sync (NTP) and the TTL
well above their skew; fencing holds whatever the clocks say.

A process id is never trusted on its own: two containers with one host name have separate PID
namespaces, where the same pid names different processes. A holder names its PID namespace
too, and only a holder in this very namespace whose pid is gone counts as dead before its
lease expires (a quicker hand-over after `kill -9`, and fencing makes even that safe).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from curation.db import Database
from curation.models.base import utcnow
from scheduler.errors import LeaseLost
from scheduler.records import SchedulerLease

log = logging.getLogger(__name__)

#: `SchedulerLease.holder` of a released lease: nobody leads, the token is kept.
RELEASED = ""


def pid_namespace() -> str:
    """This process's PID namespace (the inode of /proc/self/ns/pid, as `lsns` shows it), or
    "" where there is no such file (not Linux): then no pid is ever judged here."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def default_holder() -> str:
    """`host:pid:nonce:pid-namespace`: unique per process even across containers that share a
    host name and a pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{pid_namespace()}"


def holder_is_dead_here(holder: str) -> bool:
    """True only if `holder` names a process of this host *and this PID namespace* that no
    longer runs (killed with -9, so it could not release): its lease need not run out before
    another process may lead. Any doubt (another host or namespace, an older holder format, a
    pid that exists, even reused) answers False, and the lease is left to expire."""
    parts = holder.split(":")
    if len(parts) != 4:
        return False
    host, pid_text, _nonce, namespace = parts
    here = pid_namespace()
    if host != socket.gethostname() or not here or namespace != here or not pid_text.isdigit():
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


@dataclass(frozen=True)
class Fence:
    """The fencing token of one acquisition. `check` runs inside a write transaction and
    raises `LeaseLost` unless the lease row still carries this holder and token; on
    PostgreSQL it holds a share lock on the row until the transaction ends, so no acquisition
    can slip in between the check and the write (SQLite has one writer at a time anyway)."""

    name: str
    holder: str
    token: int

    def check(self, session: Session) -> None:
        row = session.scalar(
            select(SchedulerLease)
            .where(SchedulerLease.name == self.name)
            .with_for_update(read=True)
        )
        if row is None or row.holder != self.holder or row.token != self.token:
            now_held = (
                f"{row.holder} holds it with token {row.token}"
                if row is not None and row.holder != RELEASED
                else "it was released"
            )
            raise LeaseLost(
                f"the {self.name} lease is no longer this process's (token {self.token}): "
                f"{now_held}; the write was refused"
            )

    def guard(self, db: Database) -> Database:
        """`db` with every write transaction checked against this token."""
        return db.guarded(self.check)


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
        #: The token of our current acquisition (None while we do not hold the lease).
        self.token: int | None = None

    def acquire(self) -> bool:
        """Take the lease or renew ours; True if we hold it afterwards. Taking it (first, or
        over from an expired, released or dead holder) takes the next fencing token;
        renewing keeps ours."""
        try:
            with self.db.session() as session:
                row = session.scalar(
                    select(SchedulerLease).where(SchedulerLease.name == self.name).with_for_update()
                )
                now = self._now()
                if row is None:
                    row = SchedulerLease(
                        name=self.name,
                        holder=self.holder,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + self.ttl,
                        token=1,
                    )
                    session.add(row)
                    session.flush()
                    self.token = row.token
                    return True
                if row.holder != self.holder:
                    if not self._may_take_over(row, now):
                        self.token = None
                        return False
                    row.holder = self.holder
                    row.acquired_at = now
                    row.token += 1
                row.renewed_at = now
                row.expires_at = now + self.ttl
                self.token = row.token
                return True
        except IntegrityError:
            self.token = None
            return False  # another process inserted the first row at the same moment
        except OperationalError as exc:
            log.warning("could not reach the database for the %s lease: %s", self.name, exc)
            return False

    def _may_take_over(self, row: SchedulerLease, now: datetime) -> bool:
        if row.holder == RELEASED:
            log.info("taking the released %s lease (token %d)", self.name, row.token + 1)
            return True
        if row.expires_at <= now:
            log.info(
                "taking over the %s lease from %s, expired (token %d)",
                self.name,
                row.holder,
                row.token + 1,
            )
            return True
        if holder_is_dead_here(row.holder):
            log.info("the %s lease holder %s has exited; taking over", self.name, row.holder)
            return True
        return False

    def fence(self) -> Fence:
        """The fencing token of the current acquisition; raises `LeaseLost` if we hold none."""
        if self.token is None:
            raise LeaseLost(f"this process does not hold the {self.name} lease")
        return Fence(self.name, self.holder, self.token)

    def release(self) -> None:
        """Give the lease up at once (on a clean shutdown), if we hold it. The row stays, with
        no holder, so the next acquisition still takes a newer token."""
        with self.db.session() as session:
            row = session.scalar(
                select(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .with_for_update()
            )
            if row is not None:
                row.holder = RELEASED
                row.expires_at = self._now()
        self.token = None

    def current(self) -> SchedulerLease | None:
        """The lease row while someone holds it (None when released or never taken)."""
        with self.db.read_session() as session:
            row = session.get(SchedulerLease, self.name)
        return row if row is not None and row.holder != RELEASED else None


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
