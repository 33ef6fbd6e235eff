"""Migration 0004's indexes and tally, the queries that use them, and upgrades that cost nothing
when there is nothing to migrate."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, inspect, text

from curation.capture import Answer, Capture, ConversationRef
from curation.db import (
    HEAD_REVISION,
    Database,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)
from curation.examples import list_examples, retire_example
from curation.models import ExampleSource, ExchangeStatus, FeedbackKind, ReviewState
from curation.stats import store_stats
from curation.store import Store
from tests.conftest import REPO_ROOT, REVIEWERS, ask

NEW_INDEXES = {"review_items": {"ix_review_items_exchange", "ix_review_items_state_id"}}
NEW_TABLES = {"example_tallies", "kept_counts"}
#: The counted tables, and whether an UPDATE can move their rows between buckets.
COUNTED = {
    "exchanges": True,
    "feedback": True,
    "corrections": False,
    "review_items": True,
    "examples": True,
}
TRIGGERS = {
    f"kept_counts_{table}_{event}"
    for table, moves in COUNTED.items()
    for event in (("insert", "delete", "update") if moves else ("insert", "delete"))
}


def _indexes(engine: Engine, table: str) -> set[str]:
    return {index["name"] for index in inspect(engine).get_indexes(table)}


def test_head_revision_constant_is_the_head_of_the_migration_scripts() -> None:
    assert head_revision() == HEAD_REVISION


def test_0004_goes_down_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    downgrade(engine, "0003")
    for table, names in NEW_INDEXES.items():
        assert not names & _indexes(engine, table)
    assert "ix_review_items_state" in _indexes(engine, "review_items")
    assert not NEW_TABLES & set(inspect(engine).get_table_names())
    assert _triggers(engine) == set()
    upgrade(engine)
    for table, names in NEW_INDEXES.items():
        assert names <= _indexes(engine, table)
    assert "ix_review_items_state" not in _indexes(engine, "review_items")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, valid FROM example_tallies")).all()
    assert [(row.id, bool(row.valid)) for row in rows] == [(1, False)]
    assert _triggers(engine) == TRIGGERS
    assert current_revision(engine) == head_revision()
    engine.dispose()


def _triggers(engine: Engine) -> set[str]:
    """The triggers in the database (at head: those that keep kept_counts)."""
    query = (
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
        "AND tgrelid::regclass::text IN ('exchanges', 'feedback', 'corrections', "
        "'review_items', 'examples')"
        if engine.dialect.name == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    )
    with engine.connect() as conn:
        return set(conn.execute(text(query)).scalars())


def _recounted(conn: Any) -> dict[str, dict[str, int]]:
    """Every counted table counted row by row, bucketed as curation.models.tally.BUCKETS says."""
    counts: dict[str, dict[str, int]] = {}
    for table, column in (("exchanges", "status"), ("feedback", "kind"), ("review_items", "state")):
        query = f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column}"
        counts[table] = {value: n for value, n in conn.execute(text(query))}
    corrections = conn.execute(text("SELECT COUNT(*) FROM corrections")).scalar()
    counts["corrections"] = {"": corrections} if corrections else {}
    examples: dict[str, int] = {}
    for source, split, golden, retired_at in conn.execute(
        text("SELECT source, split, golden, retired_at FROM examples")
    ):
        bucket = (
            f"{source}/{split}"
            + ("/golden" if golden else "")
            + ("/retired" if retired_at is not None else "")
        )
        examples[bucket] = examples.get(bucket, 0) + 1
    counts["examples"] = examples
    return {table: buckets for table, buckets in counts.items() if buckets}


def _kept(engine: Engine) -> dict[str, dict[str, int]]:
    """The kept counts, checked equal to a recount."""
    with engine.connect() as conn:
        kept: dict[str, dict[str, int]] = {}
        for counted, bucket, n in conn.execute(
            text("SELECT counted, bucket, SUM(n) FROM kept_counts GROUP BY counted, bucket")
        ):
            if n:
                kept.setdefault(counted, {})[bucket] = int(n)
        recounted = _recounted(conn)
    assert kept == recounted
    return kept


def test_0004_counts_the_rows_already_stored(database_url: str) -> None:
    engine = make_engine(database_url)
    capture = Capture(Database(engine))
    for n in range(5):
        exchange_id, _ = capture.claim_exchange(
            ConversationRef("C1", f"1.{n}", f"1.{n}", "U1", "T1"),
            [{"role": "user", "content": "?"}],
        )
        if n < 3:
            capture.complete_exchange(exchange_id, Answer("Yes.", "m"))
            capture.add_feedback(exchange_id, "UBOB", FeedbackKind.THUMBS_DOWN)
    capture.add_correction(exchange_id, "UBOB", "No.")
    # Stored by today's code, then taken back to before 0004, whose upgrade must count them.
    downgrade(engine, "0003")
    upgrade(engine)
    kept = _kept(engine)
    assert kept["exchanges"] == {"answered": 3, "pending": 2}
    assert kept["review_items"] == {"pending": 4} and kept["corrections"] == {"": 1}
    engine.dispose()


def test_the_triggers_keep_every_count(store: Store) -> None:
    capture, engine = store.capture, store.db.engine
    ids = [
        capture.claim_exchange(
            ConversationRef("C1", f"2.{n}", f"2.{n}", "U1", "T1", f"Ev{n}"),
            [{"role": "user", "content": f"Question {n}?"}],
        )[0]
        for n in range(6)
    ]
    capture.claim_exchange(
        ConversationRef("C1", "2.0", "2.0", "U1", "T1", "Ev0"), [{"role": "user", "content": "?"}]
    )  # a repeat: no row, no count
    assert _kept(engine)["exchanges"] == {"pending": 6}
    for exchange_id in ids[:4]:
        capture.complete_exchange(exchange_id, Answer(f"Reply {exchange_id}.", "m"))
    capture.fail_exchange(ids[4], error="timeout", model="m")
    capture.set_reply_ts(ids[0], "2.9")  # no status change
    capture.add_feedback(ids[0], "UBOB", FeedbackKind.THUMBS_UP)
    capture.add_feedback(ids[1], "UBOB", FeedbackKind.THUMBS_DOWN)
    _, item, _ = capture.add_correction(ids[2], "UBOB", "A better reply.")
    assert item is not None
    approval = store.review.approve(item.id, REVIEWERS[0])
    store.review.reject(item.id + 1 if item.id == 1 else 1, REVIEWERS[0], reason="no")
    with store.db.session() as session:
        retire_example(session, approval.example_id, reason="poisoned")
    kept = _kept(engine)
    assert kept["exchanges"] == {"answered": 4, "failed": 1, "pending": 1}
    assert sum(kept["review_items"].values()) == 3 and kept["corrections"] == {"": 1}
    with engine.begin() as conn:  # behind the store's back, several rows per statement
        conn.execute(text("UPDATE exchanges SET status = 'failed' WHERE status <> 'failed'"))
        conn.execute(text("DELETE FROM exchanges WHERE id IN (:a, :b)"), {"a": ids[0], "b": ids[2]})
    assert _kept(engine)["exchanges"] == {"failed": 4}


def test_concurrent_replies_and_clicks_keep_the_counts_exact(store: Store) -> None:
    """Writers at once, each a transaction of its own (PostgreSQL spreads them over shards;
    SQLite takes them in turn): no lost count, no deadlock."""
    errors: list[BaseException] = []
    together = threading.Barrier(8, timeout=30)

    def reply_and_click(worker: int) -> None:
        try:
            for n in range(5):
                together.wait()
                exchange_id, _ = store.capture.claim_exchange(
                    ConversationRef("C9", f"9.{worker}{n}", f"9.{worker}{n}", "U1", "T1"),
                    [{"role": "user", "content": f"Question {worker} {n}?"}],
                )
                store.capture.complete_exchange(exchange_id, Answer("Yes.", "m"))
                store.capture.add_feedback(exchange_id, f"U{worker}", FeedbackKind.THUMBS_DOWN)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=reply_and_click, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    kept = _kept(store.db.engine)
    assert kept["exchanges"] == {"answered": 40} and kept["review_items"] == {"pending": 40}


@contextmanager
def _sqlite_statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement SQLite runs on connections opened meanwhile, the raw ones included
    (the migrations run PRAGMAs on the DBAPI connection, past SQLAlchemy's events)."""
    seen: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    event.listen(engine, "connect", trace)
    try:
        yield seen
    finally:
        event.remove(engine, "connect", trace)


def test_an_upgrade_with_nothing_to_do_does_not_check_every_foreign_key(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine, "0003")
    engine.dispose()
    with _sqlite_statements(engine) as seen:
        upgrade(engine)
    assert any("foreign_key_check" in statement for statement in seen)
    engine.dispose()
    with _sqlite_statements(engine) as seen:
        upgrade(engine)
    assert seen, "the trace saw nothing"
    assert not any("foreign_key_check" in statement for statement in seen)
    engine.dispose()


def test_opening_an_up_to_date_store_loads_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    probe = (
        "import sys; from curation.db import Database; Database.open(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, url],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": ""},
    )
    assert done.stdout.strip() == "[]"


# --- query plans -----------------------------------------------------------------------------
@contextmanager
def _executed(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The statements (SQL and parameters) the code sends while the block runs."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _plans(db: Database, seen: list[tuple[str, Any]], table: str) -> list[str]:
    """SQLite's plan for each SELECT on `table` among `seen`."""
    plans = []
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, parameters in seen:
            if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
                rows = raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
                plans.append(" / ".join(str(row[-1]) for row in rows))
    return plans


def _sqlite_store(tmp_path: Path) -> Store:
    return Store.build(Database.open(f"sqlite:///{tmp_path / 'store.db'}"), reviewers=["UREV"])


def test_a_click_finds_the_exchange_items_through_indexes(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path)
    first = ask(store, "How do I book leave?", "Ask HR.")
    store.capture.add_feedback(first, "UBOB", FeedbackKind.THUMBS_DOWN)
    with _executed(store.db) as seen:
        store.capture.add_feedback(first, "UCAROL", FeedbackKind.THUMBS_DOWN)  # joins the item
        store.capture.add_feedback(ask(store, "Where?", "Here."), "UBOB", FeedbackKind.THUMBS_UP)
    plans = _plans(store.db, seen, "review_items")
    assert plans, "no review item lookups were seen"
    assert any("uq_review_items_open_exchange" in plan for plan in plans), plans
    for plan in plans:
        assert "SCAN review_items" not in plan, plan
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    store.db.dispose()


def test_the_queue_reads_an_index_and_the_counts_read_no_table(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path)
    store.capture.add_feedback(ask(store, "Why?", "Because."), "UBOB", FeedbackKind.THUMBS_DOWN)
    with _executed(store.db) as seen:
        store.review.list(ReviewState.PENDING, 10)
        store_stats(store.db)
    items = " ".join(_plans(store.db, seen, "review_items"))
    assert "ix_review_items_state_id" in items, items
    for table in ("exchanges", "feedback", "corrections", "examples"):
        assert _plans(store.db, seen, table) == [], f"{table} was counted row by row"
    store.db.dispose()


def test_postgresql_can_use_the_partial_index_for_the_open_item(db: Database) -> None:
    """With sequential scans priced out, the planner picks the partial unique index for the
    open-item lookup: its condition matches the index's (on a tiny table it would rightly
    prefer a scan, so this shows the index is usable, not that it is chosen)."""
    if db.engine.dialect.name != "postgresql":
        return
    store = Store.build(db, reviewers=["UREV"])
    exchange_id = ask(store, "How do I book leave?", "Ask HR.")
    with _executed(db) as seen:
        store.capture.add_feedback(exchange_id, "UBOB", FeedbackKind.THUMBS_DOWN)
        store.capture.add_feedback(exchange_id, "UCAROL", FeedbackKind.THUMBS_DOWN)
    lookups = [
        (statement, parameters)
        for statement, parameters in seen
        if statement.lstrip().startswith("SELECT") and "pending" in statement
    ]
    assert lookups
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        cursor = conn.connection.driver_connection.cursor()
        for statement, parameters in lookups:
            cursor.execute(f"EXPLAIN {statement}", parameters)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "uq_review_items_open_exchange" in plan, plan
        conn.rollback()


def test_the_sweeps_for_dead_replicas_read_their_partial_indexes(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path)
    ask(store, "How do I book leave?", "Ask HR.")  # answered: neither sweep wants it
    with _executed(store.db) as seen:
        store.capture.claims.abandoned(status=ExchangeStatus.PENDING)
        store.capture.claims.abandoned(status=ExchangeStatus.UNSENT)
    pending, unsent = _plans(store.db, seen, "exchanges")
    assert "ix_exchanges_pending_claims" in pending, pending
    assert "ix_exchanges_unsent_claims" in unsent, unsent
    store.db.dispose()


def test_listing_examples_of_one_source_or_retired_reads_only_those(tmp_path: Path) -> None:
    """`tuneloop examples list --source S` and `--retired` walk their own rows newest first:
    a listing of the 72 seeds among a million corrections must not walk the million."""
    store = _sqlite_store(tmp_path)
    ask(store, "How do I book leave?", "Ask HR.")
    with _executed(store.db) as seen, store.db.read_session() as session:
        list_examples(session, source=ExampleSource.SEED)
        list_examples(session, retired=True)
        list_examples(session, retired=True, source=ExampleSource.CORRECTION)
    by_source, retired, retired_by_source = _plans(store.db, seen, "examples")
    assert "ix_examples_source_id" in by_source, by_source
    assert "ix_examples_retired" in retired, retired
    assert "ix_examples_retired" in retired_by_source or "ix_examples_source_id" in (
        retired_by_source
    ), retired_by_source
    for plan in (by_source, retired, retired_by_source):
        assert "TEMP B-TREE" not in plan, plan  # newest first straight from the index
    store.db.dispose()
