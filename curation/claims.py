"""Claims that outlive their process: who answers a pending exchange, and when that process
counts as dead.

Every bot process is a *replica* with an id of its own (`new_replica_id`). It claims the
exchanges it answers (`Exchange.claimed_by`, `claimed_at`) and heartbeats a row of
`bot_replicas` while it runs (`Replicas`). A pending exchange is abandoned when its replica
is dead:

- its row exists and has not heartbeated for `ClaimRules.timeout` (killed, host lost), or
- it has no row (it stopped, or never registered: a command line import) and the claim itself
  is older than the timeout.

A pending exchange may hold its reply already: its replica died while showing it (see
`Capture.complete_exchange`). The same rule finds unsent exchanges (answered, but Slack would
not take the reply) whose replica died before delivering them, so that another replica, or
the next start, delivers them (`Claims.abandoned(status=ExchangeStatus.UNSENT)`).

A replica's own claims are never abandoned in its own eyes. Everything is judged in the
database, so replicas on several hosts agree on SQLite and PostgreSQL alike; each judges by
its own clock, so keep hosts in sync (NTP) and the timeout well above their skew. Taking a
claim over is a compare-and-set on the old owner: of two replicas racing for one abandoned
claim, exactly one wins.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, text, update

from curation.db import Database
from curation.models import BotReplica, Exchange, ExchangeStatus
from curation.models.base import utcnow
from curation.models.exchange import PENDING_SQL, UNSENT_SQL

#: The statuses whose claims can be abandoned, as their partial indexes' own conditions:
#: SQLite uses a partial index only for a query holding the same literal condition
#: (https://www.sqlite.org/partialindex.html, "Queries Using Partial Indexes").
_CLAIMED_SQL = {
    ExchangeStatus.PENDING: f"exchanges.{PENDING_SQL}",
    ExchangeStatus.UNSENT: f"exchanges.{UNSENT_SQL}",
}


def new_replica_id() -> str:
    """`host:pid:nonce`: unique per process, even for two containers with one host name and
    one pid (the nonce differs); nothing is ever judged from the pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ClaimRules:
    """Who claims (`replica_id`), after how long silence a replica is dead (`timeout`), and
    the clock (aware UTC)."""

    replica_id: str = field(default_factory=new_replica_id)
    timeout: timedelta = timedelta(seconds=60)
    now: Callable[[], datetime] = utcnow

    def dead_before(self) -> datetime:
        return self.now() - self.timeout


def abandoned(
    rules: ClaimRules, status: ExchangeStatus = ExchangeStatus.PENDING
) -> ColumnElement[bool]:
    """SQL: the exchange has `status` (pending or unsent) and its claim belongs to a dead
    replica (see the module). Raises ValueError for another status."""
    if status not in _CLAIMED_SQL:
        raise ValueError(f"claims of {status.value} exchanges are never taken over")
    dead_before = rules.dead_before()
    replica = BotReplica.__table__.c
    registered = exists().where(replica.id == Exchange.claimed_by)
    alive = exists().where(replica.id == Exchange.claimed_by, replica.heartbeat_at >= dead_before)
    claimed_at = func.coalesce(Exchange.claimed_at, Exchange.created_at)
    return and_(
        text(_CLAIMED_SQL[status]),
        or_(Exchange.claimed_by.is_(None), Exchange.claimed_by != rules.replica_id),
        ~alive,
        or_(registered, claimed_at < dead_before),
    )


@dataclass(frozen=True)
class AbandonedClaim:
    exchange_id: int
    claimed_by: str | None
    created_at: datetime


class Claims:
    """Finding and taking over abandoned claims."""

    def __init__(self, db: Database, rules: ClaimRules) -> None:
        self._db = db
        self.rules = rules

    def abandoned(
        self, limit: int = 100, *, status: ExchangeStatus = ExchangeStatus.PENDING
    ) -> list[AbandonedClaim]:
        """Exchanges with `status` (pending: unanswered; unsent: answered, not delivered)
        whose replica is dead, oldest first (a partial index per status keeps this cheap at
        any size of the store)."""
        with self._db.read_session() as session:
            rows = session.execute(
                select(Exchange.id, Exchange.claimed_by, Exchange.created_at)
                .where(abandoned(self.rules, status))
                # Not by id alone: SQLite would walk the whole table in rowid order rather
                # than read the partial index and sort its few rows.
                .order_by(Exchange.created_at, Exchange.id)
                .limit(limit)
            )
            return [AbandonedClaim(*row) for row in rows]

    def owner(self, exchange_id: int) -> str | None:
        """The replica holding `exchange_id`'s claim now."""
        with self._db.read_session() as session:
            return session.scalar(select(Exchange.claimed_by).where(Exchange.id == exchange_id))

    def take_over(
        self,
        exchange_id: int,
        previous_owner: str | None,
        *,
        values: dict[str, object] | None = None,
        status: ExchangeStatus = ExchangeStatus.PENDING,
    ) -> bool:
        """Claim `exchange_id` for this replica if `previous_owner` still holds it and its
        claim (of a `status` exchange) is abandoned; True if this replica now holds it. One
        statement, and a compare-and-set on the owner (which PostgreSQL checks again on the
        locked row, where it may not re-run the subqueries): of replicas racing for it
        exactly one wins."""
        with self._db.statements() as connection:
            result = connection.execute(
                update(Exchange)
                .where(
                    Exchange.id == exchange_id,
                    Exchange.claimed_by.is_not_distinct_from(previous_owner),
                    abandoned(self.rules, status),
                )
                .values(
                    claimed_by=self.rules.replica_id, claimed_at=self.rules.now(), **(values or {})
                )
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1


class Replicas:
    """This process's row in `bot_replicas`: registered at start, heartbeated while it runs,
    removed when it stops cleanly."""

    def __init__(self, db: Database, rules: ClaimRules) -> None:
        self._db = db
        self._rules = rules

    @property
    def replica_id(self) -> str:
        return self._rules.replica_id

    def heartbeat(self) -> None:
        """Say this replica is alive (registers it on the first call)."""
        now = self._rules.now()
        with self._db.session() as session:
            row = session.get(BotReplica, self.replica_id)
            if row is None:
                session.add(BotReplica(id=self.replica_id, started_at=now, heartbeat_at=now))
            else:
                row.heartbeat_at = now

    def retire(self) -> None:
        """Remove this replica's row: its claims left pending (none, after a clean drain) are
        taken over once they are older than the timeout."""
        with self._db.session() as session:
            session.execute(delete(BotReplica).where(BotReplica.id == self.replica_id))

    def forget_dead(self, older_than: timedelta) -> int:
        """Delete the rows of replicas silent for `older_than` (long dead; their claims are
        judged by age from then on). Returns how many went."""
        cutoff = self._rules.now() - older_than
        with self._db.session() as session:
            result = session.execute(delete(BotReplica).where(BotReplica.heartbeat_at < cutoff))
            return int(result.rowcount or 0)
