"""store_health: the row /healthz writes to prove the store takes writes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_health",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_store_health_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_health")),
    )


def downgrade() -> None:
    op.drop_table("store_health")
