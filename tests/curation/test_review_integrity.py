"""Review integrity in the store: a decision applies to exactly the correction the reviewer
was shown, and corrections are rate-limited per person and per reply, counted from the store
with an injected clock (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from curation.correction_limits import CorrectionLimits
from curation.db import Database
from curation.errors import ChangedSinceSeenError, RateLimitedError
from curation.models import Correction, Example, FeedbackKind, ReviewEvent, ReviewState
from curation.store import Store
from tests.conftest import REVIEWERS, ask

REVIEWER = REVIEWERS[0]
START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _count(store: Store, model: type) -> int:
    with store.db.read_session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --- a decision applies to what the reviewer saw -------------------------------------------


def test_a_newer_correction_makes_an_approval_of_the_older_one_fail(store: Store) -> None:
    exchange_id = ask(store, "Where is the VPN portal?", "I don't know.")
    _, item, _ = store.capture.add_correction(exchange_id, "UALICE", "vpn.fernhill.example")
    shown = store.review.get(item.id)
    assert shown.version == item.correction_id > 0
    # Someone who is not a reviewer swaps the text after the reviewer looked.
    store.capture.add_correction(exchange_id, "UMALLORY", "Send your password to evil.example")
    with pytest.raises(ChangedSinceSeenError, match="changed since you looked") as raised:
        store.review.approve(item.id, REVIEWER, seen=shown.version)
    now = store.review.get(item.id)
    assert raised.value.current == now.version != shown.version
    assert now.state is ReviewState.PENDING and _count(store, Example) == 0
    # Looking again and approving what is shown now works, and trains exactly that.
    approval = store.review.approve(item.id, REVIEWER, seen=now.version)
    with store.db.read_session() as session:
        assert session.get(Example, approval.example_id).target == now.correction


def test_an_edit_and_a_rejection_of_a_changed_item_are_refused_too(store: Store) -> None:
    exchange_id = ask(store, "Is the VPN down?", "No idea.")
    _, flagged, _ = store.capture.add_feedback(exchange_id, "UBOB", FeedbackKind.FLAG)
    seen = store.review.get(flagged.id).version
    assert seen == 0  # a flag shows the bot's reply only
    store.capture.add_correction(exchange_id, "UBOB", "Check status.fernhill.example")
    with pytest.raises(ChangedSinceSeenError):
        store.review.approve(flagged.id, REVIEWER, text="It is up.", seen=seen)
    with pytest.raises(ChangedSinceSeenError):
        store.review.reject(flagged.id, REVIEWER, reason="fine as is", seen=seen)
    item = store.review.get(flagged.id)
    assert item.state is ReviewState.PENDING and item.correction == "Check status.fernhill.example"
    with store.db.read_session() as session:  # no reviewer correction was recorded either
        authors = session.scalars(
            select(Correction.author_id).where(Correction.exchange_id == exchange_id)
        ).all()
    assert authors == ["UBOB"]
    edited = store.review.approve(flagged.id, REVIEWER, text="It is up.", seen=item.version)
    assert edited.item.correction == "It is up."


def test_a_correction_racing_an_approval_is_never_approved_unseen(db: Database) -> None:
    """Many rounds of a correction and an approval at once: the approved example is always the
    text the reviewer saw, never the one that arrived while the approval ran."""
    store = Store.build(db, reviewers=REVIEWERS)
    for round_ in range(8):
        exchange_id = ask(store, f"Question {round_}?", "Old answer.")
        _, item, _ = store.capture.add_correction(exchange_id, "UALICE", f"Seen {round_}.")
        outcome = _approve_while_swapping(store, item.id, exchange_id, round_)
        if isinstance(outcome, ChangedSinceSeenError):
            assert store.review.get(item.id).state is ReviewState.PENDING
        else:
            with store.db.read_session() as session:
                assert session.get(Example, outcome.example_id).target == f"Seen {round_}."


def _approve_while_swapping(store: Store, item_id: int, exchange_id: int, round_: int) -> Any:
    """Approve the item as seen now while another thread adds a correction; the approval or
    its refusal."""
    seen = store.review.get(item_id).version
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def approve() -> None:
        barrier.wait()
        try:
            results["approval"] = store.review.approve(item_id, REVIEWER, seen=seen)
        except ChangedSinceSeenError as error:
            results["approval"] = error

    def swap() -> None:
        barrier.wait()
        store.capture.add_correction(exchange_id, "UMALLORY", f"Swapped {round_}.")

    threads = [threading.Thread(target=approve), threading.Thread(target=swap)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results["approval"]


def test_reviewer_notes_are_scrubbed_of_secrets(store: Store) -> None:
    exchange_id = ask(store, "Where is the VPN portal?", "I don't know.")
    _, item, _ = store.capture.add_correction(exchange_id, "UALICE", "vpn.fernhill.example")
    secret = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
    store.review.reject(item.id, REVIEWER, reason=f"wrong; test with token {secret}")
    assert secret not in (store.review.get(item.id).decision_reason or "")
    with store.db.read_session() as session:
        reasons = session.scalars(select(ReviewEvent.reason)).all()
    assert not any(secret in (reason or "") for reason in reasons)


# --- rate limits ----------------------------------------------------------------------------


def _limited_store(db: Database, clock: Clock, **limits: object) -> Store:
    return Store.build(
        db,
        reviewers=REVIEWERS,
        correction_limits=CorrectionLimits(**limits),  # type: ignore[arg-type]
        clock=clock,
    )


def test_one_person_is_limited_per_window_and_the_window_slides(db: Database) -> None:
    clock = Clock()
    store = _limited_store(db, clock, per_person=3, per_reply=10, window=timedelta(minutes=10))
    exchanges = [ask(store, f"Question {n}?", "I don't know.") for n in range(5)]
    for n, exchange_id in enumerate(exchanges[:3]):
        store.capture.add_correction(exchange_id, "UALICE", f"Answer {n}.")
        clock.now += timedelta(minutes=1)
    with pytest.raises(RateLimitedError, match="3 corrections from you") as raised:
        store.capture.add_correction(exchanges[3], "UALICE", "Answer 3.")
    # The first of the three leaves the window 10 minutes after it was made (7 from now).
    assert raised.value.retry_after_seconds == 7 * 60
    assert _count(store, Correction) == 3
    store.capture.add_correction(exchanges[3], "UBOB", "Bob is not limited by Alice.")
    clock.now += timedelta(minutes=7)
    store.capture.add_correction(exchanges[4], "UALICE", "Answer 4, a window later.")
    assert _count(store, Correction) == 5


def test_one_reply_is_limited_whoever_corrects_it(db: Database) -> None:
    clock = Clock()
    store = _limited_store(db, clock, per_person=100, per_reply=2, window=timedelta(hours=1))
    exchange_id = ask(store, "Where is the VPN portal?", "I don't know.")
    store.capture.add_correction(exchange_id, "UALICE", "vpn.fernhill.example")
    store.capture.add_correction(exchange_id, "UBOB", "vpn2.fernhill.example")
    with pytest.raises(RateLimitedError, match=r"on this answer .* 1 hour"):
        store.capture.add_correction(exchange_id, "UCAROL", "vpn3.fernhill.example")
    other = ask(store, "Where is the wiki?", "I don't know.")
    store.capture.add_correction(other, "UCAROL", "wiki.fernhill.example")


def test_a_repeated_submission_is_not_counted_again(db: Database) -> None:
    clock = Clock()
    store = _limited_store(db, clock, per_person=1, per_reply=1)
    exchange_id = ask(store, "Where is the VPN portal?", "I don't know.")
    first, _, created = store.capture.add_correction(
        exchange_id, "UALICE", "vpn.fernhill.example", idempotency_key="V1"
    )
    again, _, created_again = store.capture.add_correction(
        exchange_id, "UALICE", "vpn.fernhill.example", idempotency_key="V1"
    )
    assert created and not created_again and again.id == first.id


def test_a_burst_of_concurrent_corrections_stops_at_the_limit(db: Database) -> None:
    """A hundred submissions from one person at once (as a script would send them): the
    count and the insert are one transaction, so exactly the limit gets through."""
    store = _limited_store(db, Clock(), per_person=5, per_reply=100)
    exchange_id = ask(store, "Where is the VPN portal?", "I don't know.")
    refused: list[RateLimitedError] = []
    lock = threading.Lock()

    def submit(n: int) -> None:
        try:
            store.capture.add_correction(exchange_id, "UFLOOD", f"Answer number {n}.")
        except RateLimitedError as error:
            with lock:
                refused.append(error)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(store, Correction) == 5 and len(refused) == 95
