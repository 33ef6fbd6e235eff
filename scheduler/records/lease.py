"""SchedulerLease: who leads the scheduler, until when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, UTCDateTime, utcnow


class SchedulerLease(Base):
    """One row per lease name. The holder renews `expires_at`; anyone may take an expired one.
    A row in our own database works the same on SQLite and PostgreSQL and needs no other
    service.

    `token` is the fencing token: it grows by one with every acquisition (never with a
    renewal), and the row is kept when the lease is released (`holder` empty), so a token is
    never handed out twice. A leader's writes check that the token is still theirs.
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    token: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
