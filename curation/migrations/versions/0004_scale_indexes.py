"""indexes and kept counts for a store of a million exchanges

- review_items.exchange_id: each thumbs-up, thumbs-down and correction looks up the items of
  its exchange (decided ones too, which the partial unique index does not hold);
- review_items (state, id) in place of (state): the queue, a state in id order, is read from
  the index on PostgreSQL as it already was on SQLite;
- kept_counts: rows per table and group (exchanges by status, feedback by kind, corrections,
  review items by state, examples by source, split, golden and retired), kept by triggers on
  those tables in the statement that writes the rows (on PostgreSQL one trigger run per
  statement, over its transition tables, so a bulk load moves each count once per
  statement); seeded here with one pass over each table. On PostgreSQL each count is spread
  over SHARDS rows, chosen by transaction id: a count row stays locked until its writer
  commits, so with one row per count concurrent replies take turns on it (50 replies claimed
  and completed at once: 152 ms against 80 without triggers; with 16 shards 93 ms, medians of
  8 on PostgreSQL 15); readers add the shards up. SQLite has one writer at a time and uses
  shard 0;
- example_tallies: "approved since the last training" as one row, kept as examples are added
  and retired (curation.new_examples). Its one row starts invalid: the first read counts.

A batch migration that rebuilds one of the counted tables on SQLite drops its triggers: such a
migration must create them again (`create_count_triggers`); a test checks they exist at head.

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

#: Each counted table, the SQL of its bucket for a row `{r}` (curation.models.tally.BUCKETS),
#: and the columns whose change moves a row between buckets.
COUNTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "exchanges": ("{r}.status", ("status",)),
    "feedback": ("{r}.kind", ("kind",)),
    "corrections": ("''", ()),
    "review_items": ("{r}.state", ("state",)),
    "examples": (
        "{r}.source || '/' || {r}.split"
        " || CASE WHEN {r}.golden THEN '/golden' ELSE '' END"
        " || CASE WHEN {r}.retired_at IS NULL THEN '' ELSE '/retired' END",
        ("source", "split", "golden", "retired_at"),
    ),
}

SHARDS = 16
_ADD = (
    "INSERT INTO kept_counts (counted, bucket, shard, n) {rows} "
    "ON CONFLICT (counted, bucket, shard) DO UPDATE SET n = kept_counts.n + excluded.n"
)


def _sqlite_triggers(table: str, bucket: str, moving: tuple[str, ...]) -> list[str]:
    new, old = bucket.format(r="NEW"), bucket.format(r="OLD")
    add = _ADD.format(rows=f"VALUES ('{table}', {new}, 0, 1)")
    take = _ADD.format(rows=f"VALUES ('{table}', {old}, 0, -1)")
    triggers = [
        f"CREATE TRIGGER kept_counts_{table}_insert AFTER INSERT ON {table} BEGIN {add}; END",
        f"CREATE TRIGGER kept_counts_{table}_delete AFTER DELETE ON {table} BEGIN {take}; END",
    ]
    if moving:
        triggers.append(
            f"CREATE TRIGGER kept_counts_{table}_update AFTER UPDATE OF {', '.join(moving)} "
            f"ON {table} WHEN {old} IS NOT {new} BEGIN {take}; {add}; END"
        )
    return triggers


def _postgresql_triggers(table: str, bucket: str, moving: tuple[str, ...]) -> list[str]:
    """A statement-level function over the transition tables: PL/pgSQL plans a statement when
    it first runs it, so each branch names only the tables its trigger provides. Buckets are
    written in order, so two transactions lock the count rows in the same order; the shard is
    the transaction's, so concurrent transactions mostly write different rows."""
    new, old = bucket.format(r="new_rows"), bucket.format(r="old_rows")
    changes = (
        f"SELECT '{{t}}', b, (txid_current() % {SHARDS})::smallint, SUM(d) "
        "FROM ({parts}) AS changes GROUP BY b HAVING SUM(d) <> 0 ORDER BY b"
    )
    added = f"SELECT {new} AS b, 1 AS d FROM new_rows"
    taken = f"SELECT {old} AS b, -1 AS d FROM old_rows"
    function = f"""
        CREATE FUNCTION kept_counts_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {_ADD.format(rows=changes.format(t=table, parts=added))};
            ELSIF TG_OP = 'DELETE' THEN
                {_ADD.format(rows=changes.format(t=table, parts=taken))};
            ELSE
                {_ADD.format(rows=changes.format(t=table, parts=f"{added} UNION ALL {taken}"))};
            END IF;
            RETURN NULL;
        END
        $$
    """
    run = f"FOR EACH STATEMENT EXECUTE FUNCTION kept_counts_{table}()"
    triggers = [
        function,
        f"CREATE TRIGGER kept_counts_{table}_insert AFTER INSERT ON {table} "
        f"REFERENCING NEW TABLE AS new_rows {run}",
        f"CREATE TRIGGER kept_counts_{table}_delete AFTER DELETE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows {run}",
    ]
    if moving:
        # A trigger with transition tables cannot name columns: it sees every UPDATE, and
        # writes only when a bucket changed (HAVING).
        triggers.append(
            f"CREATE TRIGGER kept_counts_{table}_update AFTER UPDATE ON {table} "
            f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {run}"
        )
    return triggers


def create_count_triggers(table: str) -> None:
    """The triggers that keep `table`'s counts, on the migrated database."""
    bucket, moving = COUNTED[table]
    make = _postgresql_triggers if _postgresql() else _sqlite_triggers
    for statement in make(table, bucket, moving):
        op.execute(statement)


def upgrade() -> None:
    # Plain CREATE/DROP INDEX: SQLite does them in place, so no batch rebuild of a big table.
    op.create_index("ix_review_items_exchange", "review_items", ["exchange_id"])
    op.create_index("ix_review_items_state_id", "review_items", ["state", "id"])
    op.drop_index("ix_review_items_state", table_name="review_items")
    tallies = op.create_table(
        "example_tallies",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("baseline_version_id", sa.Integer(), nullable=True),
        sa.Column("max_example_id", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Integer(), nullable=False),
        sa.Column("sft", sa.Integer(), nullable=False),
        sa.Column("dpo", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_example_tallies_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_example_tallies")),
    )
    op.bulk_insert(
        tallies,
        [{"id": 1, "valid": False, "baseline_version_id": None, "max_example_id": 0, "retired": 0,
          "sft": 0, "dpo": 0}],
    )  # fmt: skip
    op.create_table(
        "kept_counts",
        sa.Column("counted", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("counted", "bucket", "shard", name=op.f("pk_kept_counts")),
    )
    for table, (bucket, _) in COUNTED.items():
        op.execute(
            f"INSERT INTO kept_counts (counted, bucket, shard, n) "
            f"SELECT '{table}', {bucket.format(r='r')}, 0, COUNT(*) FROM {table} AS r GROUP BY 2"
        )
        create_count_triggers(table)


def downgrade() -> None:
    for table, (_, moving) in COUNTED.items():
        for event in ("insert", "delete", "update") if moving else ("insert", "delete"):
            on = f" ON {table}" if _postgresql() else ""
            op.execute(f"DROP TRIGGER kept_counts_{table}_{event}{on}")
        if _postgresql():
            op.execute(f"DROP FUNCTION kept_counts_{table}()")
    op.drop_table("kept_counts")
    op.drop_table("example_tallies")
    op.create_index("ix_review_items_state", "review_items", ["state"])
    op.drop_index("ix_review_items_state_id", table_name="review_items")
    op.drop_index("ix_review_items_exchange", table_name="review_items")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"
