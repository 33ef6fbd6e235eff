"""The claim of a question: duplicates decided by the delivery constraint alone, so that any
other refusal (an id sequence behind the data after a restore) is never taken for a repeat."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from curation.capture import ConversationRef
from curation.models import Correction, Feedback, FeedbackKind
from curation.store import Store
from tests.conftest import REPO_ROOT, SYSTEM, ask

PROMPT = [SYSTEM, {"role": "user", "content": "How do I book leave?"}]


def _ref(ts: str, event_id: str | None = None) -> ConversationRef:
    return ConversationRef("C1", ts, ts, "UASKER", "T1", event_id)


def _postgresql_only(store: Store) -> None:
    if store.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite gives a new row the largest rowid plus one: it cannot lag")


def _set_sequence_behind_the_data(store: Store, table: str) -> None:
    """What a restore that loads rows but not their sequence leaves."""
    with store.db.engine.begin() as conn:
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1, false)"))


def test_a_repeat_with_the_same_event_id_but_no_message_match_is_still_a_repeat(
    store: Store,
) -> None:
    first, created = store.capture.claim_exchange(_ref("1.0001", "Ev1"), PROMPT)
    assert created
    # Slack never sends this (one event id, another message), but the stored row answers it.
    again, created_again = store.capture.claim_exchange(_ref("1.0002", "Ev1"), PROMPT)
    assert (again, created_again) == (first, False)


def test_a_claim_moves_a_lagging_id_sequence_and_succeeds(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    _postgresql_only(store)
    stored = [
        store.capture.claim_exchange(_ref(f"2.{n:04d}", f"Ev{n}"), PROMPT)[0] for n in range(3)
    ]
    _set_sequence_behind_the_data(store, "exchanges")
    with caplog.at_level(logging.WARNING, logger="curation.capture"):
        new_id, created = store.capture.claim_exchange(_ref("2.9999", "EvNew"), PROMPT)
    assert created and new_id > max(stored)
    assert "sequence was behind" in caplog.text
    # Repeats are still repeats, and the next claim needs no repair.
    assert store.capture.claim_exchange(_ref("2.0001", "Ev1"), PROMPT) == (stored[1], False)
    caplog.clear()
    assert store.capture.claim_exchange(_ref("3.0000", "EvNext"), PROMPT)[1]
    assert "sequence" not in caplog.text


def test_feedback_refused_by_another_constraint_is_not_reported_as_a_repeat(
    store: Store,
) -> None:
    _postgresql_only(store)
    exchange_id = ask(store, "How do I book leave?", "Ask HR.")
    store.capture.add_feedback(exchange_id, "UBOB", FeedbackKind.THUMBS_DOWN)
    _set_sequence_behind_the_data(store, Feedback.__tablename__)  # a restore of the feedback
    with pytest.raises(IntegrityError, match="pk_feedback"):
        store.capture.add_feedback(exchange_id, "UCAROL", FeedbackKind.THUMBS_DOWN)
    # The true repeat is still recognised.
    _, _, created = store.capture.add_feedback(exchange_id, "UBOB", FeedbackKind.THUMBS_DOWN)
    assert not created


def test_a_correction_refused_by_another_constraint_is_not_reported_as_a_repeat(
    store: Store,
) -> None:
    _postgresql_only(store)
    exchange_id = ask(store, "How do I book leave?", "Ask HR.")
    store.capture.add_correction(exchange_id, "UBOB", "Use Workday.", idempotency_key="V1")
    _set_sequence_behind_the_data(store, Correction.__tablename__)
    with pytest.raises(IntegrityError, match="pk_corrections"):
        store.capture.add_correction(exchange_id, "UCAROL", "Use the portal.", idempotency_key="V2")


#: Modules whose behaviour must not change under `python -O`, which strips `assert`.
NO_ASSERTS = (
    "curation/capture.py",
    "curation/db.py",
    "curation/examples.py",
    "curation/new_examples.py",
    "curation/review.py",
    "curation/review_queue.py",
    "curation/stats.py",
)


@pytest.mark.parametrize("module", NO_ASSERTS)
def test_no_assert_guards_behaviour(module: str) -> None:
    tree = ast.parse(Path(REPO_ROOT / module).read_text(encoding="utf-8"))
    asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert asserts == [], f"{module}: assert on lines {asserts} (python -O removes them)"
