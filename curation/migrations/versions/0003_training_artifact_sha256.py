"""training runs record the sha256 of what they produced (a self-hosted LoRA adapter), so a
promoted model can be checked against the files the serving side loads

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column added at the end: SQLite's ALTER TABLE ADD COLUMN does this in place,
    # so no batch rebuild (and no risk to the children of training_runs).
    op.add_column("training_runs", sa.Column("artifact_sha256", sa.String(length=64)))


def downgrade() -> None:
    with op.batch_alter_table("training_runs") as batch_op:
        batch_op.drop_column("artifact_sha256")
