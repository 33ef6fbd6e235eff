"""StoreHealth: the one row /healthz writes to prove the store still takes writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, UTCDateTime

#: The one row of `store_health`.
HEALTH_ROW_ID = 1


class StoreHealth(Base):
    """One row (id 1), upserted by every write probe (see `curation.health`): a full disk, a
    read-only file or a read-only PostgreSQL transaction makes that commit fail."""

    __tablename__ = "store_health"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_by: Mapped[str] = mapped_column(String(200))
