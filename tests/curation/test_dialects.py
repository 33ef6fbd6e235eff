"""SQLAlchemy's dialects are loaded only for the database in use: a store in a SQLite file never
imports the PostgreSQL dialect (a cost at every command's start), while partial indexes and
ON CONFLICT writes keep their SQL on both databases."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex

import scheduler.records  # noqa: F401  (its tables are in the metadata too)
from curation.db import upsert_insert
from curation.models import Base
from curation.models.base import PartialIndex
from tests.conftest import REPO_ROOT

#: Uses an up-to-date SQLite store the way the bot and the commands do, writes included (the
#: claim's ON CONFLICT insert, feedback, the health probe's upsert, a deleted question's
#: tombstone), then prints the SQLAlchemy dialects loaded. (Migrating a store loads Alembic,
#: which loads every dialect it knows.)
SQLITE_ONLY = """
import sys
from curation.capture import Answer, ConversationRef
from curation.db import Database
from curation.deletion import forget_question
from curation.health import probe_write
from curation.models import FeedbackKind
from curation.store import Store
import scheduler.records

db = Database.open(f"sqlite:///{sys.argv[1]}")
store = Store.build(db, reviewers=["UREVIEW1"])
ref = ConversationRef("C1", "1.000100", "1.000100", "UASKER", "T1", "Ev1")
exchange_id, _ = store.capture.claim_exchange(ref, [{"role": "user", "content": "Hi?"}])
store.capture.complete_exchange(exchange_id, Answer("Hello.", "gpt-4.1-mini"))
store.capture.add_feedback(exchange_id, "UASKER", FeedbackKind.THUMBS_DOWN)
probe_write(db)
deleted = ConversationRef("C1", "2.000100", "2.000100", "UASKER", "T1")
forget_question(db, deleted, was_question=True)
print(sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects.")))
"""


def test_a_sqlite_store_never_loads_the_postgresql_dialect(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "tuneloop.db"
    shutil.copy(sqlite_template, path)
    done = subprocess.run(
        [sys.executable, "-c", SQLITE_ONLY, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    loaded = done.stdout.strip()
    assert "sqlalchemy.dialects.sqlite" in loaded  # the store was used
    assert "postgresql" not in loaded


def _partial_indexes() -> list[PartialIndex]:
    return [
        index
        for table in Base.metadata.sorted_tables
        for index in table.indexes
        if isinstance(index, PartialIndex)
    ]


def test_partial_indexes_keep_their_condition_on_both_databases() -> None:
    indexes = _partial_indexes()
    # The open review items, pending and unsent claims, the open retraining cycle, the active
    # model, the retired examples.
    assert {index.name for index in indexes} == {
        "ix_examples_retired",
        "uq_review_items_open_exchange",
        "ix_exchanges_pending_claims",
        "ix_exchanges_unsent_claims",
        "uq_retrain_cycles_open",
        "uq_model_versions_active",
    }
    for index in indexes:
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            ddl = str(CreateIndex(index).compile(dialect=dialect))
            assert ddl.endswith(f" WHERE {index.where_sql}"), ddl
        assert set(index.dialect_kwargs) == {"sqlite_where", "postgresql_where"}


def test_a_copied_table_keeps_its_partial_index() -> None:
    table = Base.metadata.tables["model_versions"]
    copy = table.to_metadata(MetaData())
    (index,) = (i for i in copy.indexes if i.name == "uq_model_versions_active")
    ddl = str(CreateIndex(index).compile(dialect=postgresql.dialect()))
    assert ddl.endswith(" WHERE is_active")


def test_upsert_insert_is_each_databases_own() -> None:
    table = Base.metadata.tables["store_health"]
    assert isinstance(upsert_insert("postgresql", table), postgresql.Insert)
    assert isinstance(upsert_insert("sqlite", table), sqlite.Insert)
    with pytest.raises(ValueError, match="'mysql' database"):
        upsert_insert("mysql", table)
