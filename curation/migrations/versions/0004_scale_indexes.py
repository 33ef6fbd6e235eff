"""indexes and kept counts for a store of a million exchanges

- review_items.exchange_id: each thumbs-up, thumbs-down and correction looks up the items of
  its exchange (decided ones too, which the partial unique index does not hold);
- review_items (state, id) in place of (state): the queue, a state in id order, is read from
  the index on PostgreSQL as it already was on SQLite;
- feedback.kind and examples (source, split, golden, retired_at): `tuneloop stats` counts
  them from the indexes alone;
- exchange_counts: exchanges by status, kept by triggers on `exchanges` (on PostgreSQL one
  per statement, over its transition tables, so a bulk load updates each count once per
  statement); seeded here with one pass over the table;
- example_tallies: "approved since the last training" as one row, kept as examples are added
  and retired (curation.new_examples). Its one row starts invalid: the first read counts.

A batch migration that rebuilds `exchanges` on SQLite drops its triggers: such a migration
must create them again (`create_exchange_count_triggers`); a test checks they exist at head.

On PostgreSQL, CREATE INDEX blocks writes to the table while it builds (seconds per million
exchanges); run `tuneloop db upgrade` while the bot is stopped or quiet.

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

STATUSES = ("pending", "answered", "failed")

_SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER exchange_counts_insert AFTER INSERT ON exchanges
    BEGIN
        INSERT INTO exchange_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
    END
    """,
    """
    CREATE TRIGGER exchange_counts_update AFTER UPDATE OF status ON exchanges
    WHEN OLD.status IS NOT NEW.status
    BEGIN
        UPDATE exchange_counts SET n = n - 1 WHERE status = OLD.status;
        INSERT INTO exchange_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
    END
    """,
    """
    CREATE TRIGGER exchange_counts_delete AFTER DELETE ON exchanges
    BEGIN
        UPDATE exchange_counts SET n = n - 1 WHERE status = OLD.status;
    END
    """,
)

# PostgreSQL: statement-level triggers over transition tables (a trigger with transition
# tables cannot name columns, so the update trigger sees every UPDATE and writes only when a
# status changed). https://www.postgresql.org/docs/current/sql-createtrigger.html
_POSTGRESQL_FUNCTION = """
CREATE FUNCTION exchange_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- PL/pgSQL plans a statement when it first runs it: each branch names only the
    -- transition tables its trigger provides.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO exchange_counts (status, n)
        SELECT status, COUNT(*) FROM new_rows GROUP BY status
        ON CONFLICT (status) DO UPDATE SET n = exchange_counts.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE exchange_counts SET n = exchange_counts.n - gone.n
        FROM (SELECT status, COUNT(*) AS n FROM old_rows GROUP BY status) AS gone
        WHERE exchange_counts.status = gone.status;
    ELSE
        INSERT INTO exchange_counts (status, n)
        SELECT status, SUM(delta) FROM (
            SELECT status, 1 AS delta FROM new_rows
            UNION ALL
            SELECT status, -1 AS delta FROM old_rows
        ) AS changes
        GROUP BY status HAVING SUM(delta) <> 0
        ON CONFLICT (status) DO UPDATE SET n = exchange_counts.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$
"""
_POSTGRESQL_TRIGGERS = (
    """
    CREATE TRIGGER exchange_counts_insert AFTER INSERT ON exchanges
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION exchange_counts_follow()
    """,
    """
    CREATE TRIGGER exchange_counts_update AFTER UPDATE ON exchanges
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION exchange_counts_follow()
    """,
    """
    CREATE TRIGGER exchange_counts_delete AFTER DELETE ON exchanges
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION exchange_counts_follow()
    """,
)
TRIGGERS = ("exchange_counts_insert", "exchange_counts_update", "exchange_counts_delete")


def create_exchange_count_triggers() -> None:
    """The triggers that keep exchange_counts, on the current connection's database."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRESQL_FUNCTION)
        for statement in _POSTGRESQL_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    # Plain CREATE/DROP INDEX: SQLite does them in place, so no batch rebuild of a big table.
    op.create_index("ix_review_items_exchange", "review_items", ["exchange_id"])
    op.create_index("ix_review_items_state_id", "review_items", ["state", "id"])
    op.drop_index("ix_review_items_state", table_name="review_items")
    op.create_index("ix_feedback_kind", "feedback", ["kind"])
    op.create_index("ix_examples_stats", "examples", ["source", "split", "golden", "retired_at"])
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
    op.create_table(
        "exchange_counts",
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="exchangestatus", native_enum=False),
            nullable=False,
        ),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("status", name=op.f("pk_exchange_counts")),
    )
    op.execute(
        "INSERT INTO exchange_counts (status, n) "
        "SELECT status, COUNT(*) FROM exchanges GROUP BY status"
    )
    create_exchange_count_triggers()


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}" + (" ON exchanges" if _postgresql() else ""))
    if _postgresql():
        op.execute("DROP FUNCTION exchange_counts_follow()")
    op.drop_table("exchange_counts")
    op.drop_table("example_tallies")
    op.drop_index("ix_examples_stats", table_name="examples")
    op.drop_index("ix_feedback_kind", table_name="feedback")
    op.create_index("ix_review_items_state", "review_items", ["state"])
    op.drop_index("ix_review_items_state_id", table_name="review_items")
    op.drop_index("ix_review_items_exchange", table_name="review_items")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"
