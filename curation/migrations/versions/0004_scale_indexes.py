"""indexes for a store of a million exchanges, and the tally of examples new since a dataset
version

- exchanges.status: `tuneloop stats` counts by status from the index, not from every row;
- review_items.exchange_id: each thumbs-up, thumbs-down and correction looks up the items of
  its exchange (decided ones too, which the partial unique index does not hold);
- review_items (state, id) in place of (state): the queue, a state in id order, is read from
  the index on PostgreSQL as it already was on SQLite;
- example_tallies: "approved since the last training" as one row, kept as examples are added
  and retired (curation.new_examples). Its one row starts invalid: the first read counts.

On PostgreSQL, CREATE INDEX blocks writes to the table while it builds (about a second per
million exchanges); run `tuneloop db upgrade` while the bot is stopped or quiet.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE/DROP INDEX: SQLite does them in place, so no batch rebuild of a big table.
    op.create_index("ix_exchanges_status", "exchanges", ["status"])
    op.create_index("ix_review_items_exchange", "review_items", ["exchange_id"])
    op.create_index("ix_review_items_state_id", "review_items", ["state", "id"])
    op.drop_index("ix_review_items_state", table_name="review_items")
    tallies = op.create_table(
        "example_tallies",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("baseline_version_id", sa.Integer(), nullable=True),
        sa.Column("max_example_id", sa.Integer(), nullable=False),
        sa.Column("sft", sa.Integer(), nullable=False),
        sa.Column("dpo", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_example_tallies_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_example_tallies")),
    )
    op.bulk_insert(
        tallies,
        [
            {
                "id": 1,
                "valid": False,
                "baseline_version_id": None,
                "max_example_id": 0,
                "sft": 0,
                "dpo": 0,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("example_tallies")
    op.create_index("ix_review_items_state", "review_items", ["state"])
    op.drop_index("ix_review_items_state_id", table_name="review_items")
    op.drop_index("ix_review_items_exchange", table_name="review_items")
    op.drop_index("ix_exchanges_status", table_name="exchanges")
