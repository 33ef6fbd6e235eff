"""claims that outlive their process, and a fencing token for the scheduler lease

- bot_replicas: one row per running bot process, heartbeated; exchanges.claimed_by and
  claimed_at name the replica answering a pending exchange, so a claim whose process died
  (`kill -9`, a lost host) is found and taken over by another replica or the next start;
- ix_exchanges_pending_claims: a partial index over pending exchanges, the only rows the
  sweep for abandoned claims reads (a handful at any time, whatever the size of the store);
- scheduler_leases.token: the fencing token, one more with each acquisition; the cycle's
  writes check it, so a paused old leader cannot advance a cycle another process now leads.

Columns are added with ALTER TABLE on both databases (no batch rebuild on SQLite, which would
drop the kept-count triggers on `exchanges`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_SQL = "status = 'pending'"


def upgrade() -> None:
    op.create_table(
        "bot_replicas",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_replicas")),
    )
    op.add_column("exchanges", sa.Column("claimed_by", sa.String(length=128), nullable=True))
    op.add_column("exchanges", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_exchanges_pending_claims",
        "exchanges",
        ["claimed_by"],
        sqlite_where=sa.text(PENDING_SQL),
        postgresql_where=sa.text(PENDING_SQL),
    )
    op.add_column(
        "scheduler_leases",
        sa.Column("token", sa.BigInteger(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("scheduler_leases", "token")
    op.drop_index("ix_exchanges_pending_claims", table_name="exchanges")
    op.drop_column("exchanges", "claimed_at")
    op.drop_column("exchanges", "claimed_by")
    op.drop_table("bot_replicas")
