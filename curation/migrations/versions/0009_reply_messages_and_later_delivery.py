"""every message of a reply, and replies kept for a later delivery

- exchanges.reply_message_ts: the ts of every Slack message of a reply that took more than
  one (oldest first), so a deleted question takes all of them back, not only the last;
- exchanges.notice_ts: the "I'll post it here shortly" notice left while a reply is unsent,
  so whichever replica delivers it later (after a restart, say) can take the notice away;
- exchanges.delivery_attempts: later deliveries tried, counted in the store so the bound
  holds across restarts and replicas;
- ix_exchanges_unsent_claims: a partial index over unsent exchanges, the only rows the
  sweep for undelivered replies reads.

Columns are added with ALTER TABLE on both databases (no batch rebuild on SQLite, which would
drop the kept-count triggers on `exchanges`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT_SQL = "status = 'unsent'"


def upgrade() -> None:
    op.add_column(
        "exchanges",
        sa.Column(
            "reply_message_ts",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
    )
    op.add_column("exchanges", sa.Column("notice_ts", sa.String(length=32), nullable=True))
    op.add_column(
        "exchanges",
        sa.Column("delivery_attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_index(
        "ix_exchanges_unsent_claims",
        "exchanges",
        ["claimed_by"],
        sqlite_where=sa.text(UNSENT_SQL),
        postgresql_where=sa.text(UNSENT_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_exchanges_unsent_claims", table_name="exchanges")
    op.drop_column("exchanges", "delivery_attempts")
    op.drop_column("exchanges", "notice_ts")
    op.drop_column("exchanges", "reply_message_ts")
