"""examples: indexes for `tuneloop examples list` narrowed to a rare source, or to retired ones

- ix_examples_source_id: (source, id), so a listing of one source newest first walks that
  source's rows only (by id alone it walked the whole table for the 72 seeds among a million
  corrections);
- ix_examples_retired: a partial index over retired examples' ids, the few rows
  `--retired` lists.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETIRED_SQL = "retired_at IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_examples_source_id", "examples", ["source", "id"], unique=False)
    op.create_index(
        "ix_examples_retired",
        "examples",
        ["id"],
        sqlite_where=sa.text(RETIRED_SQL),
        postgresql_where=sa.text(RETIRED_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_examples_retired", table_name="examples")
    op.drop_index("ix_examples_source_id", table_name="examples")
