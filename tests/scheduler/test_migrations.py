"""Migrations 0002 (the scheduler's tables) and 0003 (training runs' artifact sha256): the
schema matches the models on both databases, each goes down and up again, and a fresh or old
SQLite file upgrades itself to the head."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from curation.db import Database, current_revision, downgrade, head_revision, make_engine, upgrade
from curation.models import Base

SCHEDULER_TABLES = {
    "retrain_cycles",
    "training_runs",
    "eval_runs",
    "eval_items",
    "decisions",
    "model_versions",
    "promotions",
    "scheduler_leases",
}


def test_the_migrations_match_the_models_with_the_scheduler_tables(database_url: str) -> None:
    assert set(Base.metadata.tables) >= SCHEDULER_TABLES
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diffs == []


def test_0002_goes_down_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    downgrade(engine, "0001")
    assert SCHEDULER_TABLES.isdisjoint(inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= SCHEDULER_TABLES
    engine.dispose()


def test_a_fresh_sqlite_file_is_upgraded_to_the_scheduler_head(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert current_revision(db.engine) == head_revision()
    assert set(inspect(db.engine).get_table_names()) >= SCHEDULER_TABLES
    db.dispose()


def test_an_0001_sqlite_file_is_upgraded_on_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    engine.dispose()
    db = Database.open(url)
    assert current_revision(db.engine) == head_revision()
    db.dispose()


def test_0003_goes_down_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    downgrade(engine, "0002")
    assert "artifact_sha256" not in {
        c["name"] for c in inspect(engine).get_columns("training_runs")
    }
    upgrade(engine)
    columns = {c["name"]: c for c in inspect(engine).get_columns("training_runs")}
    assert columns["artifact_sha256"]["nullable"]
    assert current_revision(engine) == head_revision()
    engine.dispose()
