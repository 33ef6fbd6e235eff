"""Can the store still be written? A cheap probe for health checks.

Reading is not enough: a SQLite file that turned read-only, a full disk, or a PostgreSQL
server that only allows read-only transactions (a standby, `default_transaction_read_only`)
all answer reads while every question's record fails. The probe commits one upsert of a
one-row table (`store_health`), through the same transaction path as every other write
(SQLite's BEGIN IMMEDIATE), so what would stop a real write stops it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import datetime

from curation.db import Database, upsert_insert
from curation.models.base import utcnow
from curation.models.health import HEALTH_ROW_ID, StoreHealth


def probe_write(db: Database, *, now: Callable[[], datetime] = utcnow) -> None:
    """Commit one tiny write; raises whatever the database raises when it cannot (SQLAlchemy's
    `OperationalError` for a read-only file, a full disk or an outage; `InternalError` for a
    read-only PostgreSQL transaction). Each call is idempotent: it overwrites the one row."""
    values = {"id": HEALTH_ROW_ID, "checked_at": now(), "checked_by": socket.gethostname()[:200]}
    statement = upsert_insert(db.engine.dialect.name, StoreHealth).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[StoreHealth.id],
        set_={
            "checked_at": statement.excluded.checked_at,
            "checked_by": statement.excluded.checked_by,
        },
    )
    with db.session() as session:
        session.execute(statement)
