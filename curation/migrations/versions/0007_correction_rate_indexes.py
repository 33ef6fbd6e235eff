"""corrections: indexes for the correction rate limits (one person's, and one reply's,
corrections within a window)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_corrections_author_created", "corrections", ["author_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_corrections_exchange_created",
        "corrections",
        ["exchange_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_corrections_exchange_created", table_name="corrections")
    op.drop_index("ix_corrections_author_created", table_name="corrections")
