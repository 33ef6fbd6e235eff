"""scheduler tables: retraining cycles, training and eval runs, decisions, the model
registry with its promotion audit, and the scheduler lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 08:11:23.813749
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    op.create_table(
        "retrain_cycles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("new_examples", sa.Integer(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "export",
                "train",
                "evaluate",
                "decide",
                "promote",
                "done",
                name="cyclestage",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "promoted",
                "rejected",
                "insufficient_evidence",
                "stale",
                "training_failed",
                "unavailable",
                "over_budget",
                "nothing_to_train",
                "cancelled",
                name="cycleoutcome",
                native_enum=False,
            ),
            nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dataset_version_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_retrain_cycles_dataset_version_id_dataset_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_cycles")),
    )
    with op.batch_alter_table("retrain_cycles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_retrain_cycles_dataset_version_id"), ["dataset_version_id"], unique=False
        )
        batch_op.create_index(
            "uq_retrain_cycles_open",
            ["is_open"],
            unique=True,
            sqlite_where=sa.text("is_open"),
            postgresql_where=sa.text("is_open"),
        )

    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.Column("trainer", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("base_model", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("suffix", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column(
            "hyperparameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("train_file", sa.Text(), nullable=False),
        sa.Column("train_sha256", sa.String(length=64), nullable=False),
        sa.Column("training_examples", sa.Integer(), nullable=False),
        sa.Column("training_tokens", sa.Integer(), nullable=False),
        sa.Column("estimated_cost_usd", sa.Float(), nullable=False),
        sa.Column("train_file_id", sa.String(length=128), nullable=True),
        sa.Column("eval_file_id", sa.String(length=128), nullable=True),
        sa.Column("job_id", sa.String(length=128), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "preparing",
                "validating_files",
                "queued",
                "running",
                "loading",
                "ready",
                "failed",
                "cancelled",
                name="trainingstatus",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("fine_tuned_model", sa.String(length=200), nullable=True),
        sa.Column("trained_tokens", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["retrain_cycles.id"],
            name=op.f("fk_training_runs_cycle_id_retrain_cycles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_training_runs_dataset_version_id_dataset_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_runs")),
        sa.UniqueConstraint("cycle_id", name=op.f("uq_training_runs_cycle_id")),
        sa.UniqueConstraint("dataset_version_id", name=op.f("uq_training_runs_dataset_version_id")),
        sa.UniqueConstraint("job_id", name=op.f("uq_training_runs_job_id")),
    )
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("training_run_id", sa.Integer(), nullable=True),
        sa.Column("dataset_version_id", sa.Integer(), nullable=True),
        sa.Column("candidate", sa.String(length=200), nullable=False),
        sa.Column("incumbent", sa.String(length=200), nullable=False),
        sa.Column("grader", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum("running", "complete", "failed", name="evalstatus", native_enum=False),
            nullable=False,
        ),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["retrain_cycles.id"],
            name=op.f("fk_eval_runs_cycle_id_retrain_cycles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_eval_runs_dataset_version_id_dataset_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
            name=op.f("fk_eval_runs_training_run_id_training_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_runs")),
        sa.UniqueConstraint("cycle_id", name=op.f("uq_eval_runs_cycle_id")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("base_model", sa.String(length=200), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("training_run_id", sa.Integer(), nullable=True),
        sa.Column("dataset_version_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "candidate",
                "active",
                "retired",
                "rejected",
                "rolled_back",
                name="modelstate",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("shutdown_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_model_versions_dataset_version_id_dataset_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
            name=op.f("fk_model_versions_training_run_id_training_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("model", name=op.f("uq_model_versions_model")),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_model_versions_active",
            ["is_active"],
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("eval_run_id", sa.Integer(), nullable=False),
        sa.Column("candidate", sa.String(length=200), nullable=False),
        sa.Column("incumbent", sa.String(length=200), nullable=False),
        sa.Column(
            "verdict",
            sa.Enum(
                "promote", "reject", "insufficient_evidence", name="verdict", native_enum=False
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "numbers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "thresholds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["retrain_cycles.id"],
            name=op.f("fk_decisions_cycle_id_retrain_cycles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["eval_run_id"],
            ["eval_runs.id"],
            name=op.f("fk_decisions_eval_run_id_eval_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("cycle_id", name=op.f("uq_decisions_cycle_id")),
        sa.UniqueConstraint("eval_run_id", name=op.f("uq_decisions_eval_run_id")),
    )
    op.create_table(
        "eval_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("eval_run_id", sa.Integer(), nullable=False),
        sa.Column("example_id", sa.Integer(), nullable=True),
        sa.Column("golden", sa.Boolean(), nullable=False),
        sa.Column("thread_key", sa.String(length=200), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("candidate_answer", sa.Text(), nullable=True),
        sa.Column("incumbent_answer", sa.Text(), nullable=True),
        sa.Column("candidate_error", sa.Text(), nullable=True),
        sa.Column("incumbent_error", sa.Text(), nullable=True),
        sa.Column("candidate_latency_ms", sa.Integer(), nullable=True),
        sa.Column("incumbent_latency_ms", sa.Integer(), nullable=True),
        sa.Column("candidate_score", sa.Float(), nullable=True),
        sa.Column("incumbent_score", sa.Float(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum("win", "loss", "tie", "error", name="itemoutcome", native_enum=False),
            nullable=False,
        ),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["eval_run_id"],
            ["eval_runs.id"],
            name=op.f("fk_eval_items_eval_run_id_eval_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["example_id"],
            ["examples.id"],
            name=op.f("fk_eval_items_example_id_examples"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_items")),
        sa.UniqueConstraint(
            "eval_run_id", "example_id", name=op.f("uq_eval_items_eval_run_id_example_id")
        ),
    )
    with op.batch_alter_table("eval_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eval_items_eval_run_id"), ["eval_run_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_eval_items_example_id"), ["example_id"], unique=False)

    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column(
            "action",
            sa.Enum("bootstrap", "promote", "rollback", name="promotionaction", native_enum=False),
            nullable=False,
        ),
        sa.Column("from_model", sa.String(length=200), nullable=True),
        sa.Column("to_model", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("eval_run_id", sa.Integer(), nullable=True),
        sa.Column("dataset_version_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_promotions_dataset_version_id_dataset_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_promotions_decision_id_decisions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["eval_run_id"],
            ["eval_runs.id"],
            name=op.f("fk_promotions_eval_run_id_eval_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_promotions_decision_id")),
    )
    with op.batch_alter_table("promotions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promotions_to_model"), ["to_model"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("promotions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promotions_to_model"))

    op.drop_table("promotions")
    with op.batch_alter_table("eval_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_items_example_id"))
        batch_op.drop_index(batch_op.f("ix_eval_items_eval_run_id"))

    op.drop_table("eval_items")
    op.drop_table("decisions")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_model_versions_active",
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )

    op.drop_table("model_versions")
    op.drop_table("eval_runs")
    op.drop_table("training_runs")
    with op.batch_alter_table("retrain_cycles", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_retrain_cycles_open",
            sqlite_where=sa.text("is_open"),
            postgresql_where=sa.text("is_open"),
        )
        batch_op.drop_index(batch_op.f("ix_retrain_cycles_dataset_version_id"))

    op.drop_table("retrain_cycles")
    op.drop_table("scheduler_leases")
