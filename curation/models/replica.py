"""BotReplica: a running bot process that answers questions, and when it last said so."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, UTCDateTime, utcnow


class BotReplica(Base):
    """One row per running bot process, heartbeated while it runs and deleted when it stops.

    An exchange's claim names its replica (`Exchange.claimed_by`): a claim whose replica has
    not heartbeated within the timeout, or whose replica is gone, belongs to a dead process and
    is taken over (see `curation.claims`). Kept in the database, so replicas on several hosts
    judge each other the same way on SQLite and PostgreSQL alike.
    """

    __tablename__ = "bot_replicas"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
