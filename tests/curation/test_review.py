"""The review state machine: who may decide, which moves are allowed, and the approval race."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from curation.db import Database
from curation.errors import InvalidTransitionError, PermissionDeniedError, ValidationError
from curation.models import Example, ExampleSource, FeedbackKind, ReviewKind, ReviewState
from curation.store import Store
from tests.conftest import REVIEWERS, ask

REVIEWER = REVIEWERS[0]


def _corrected(store: Store, question: str = "Where is the VPN portal?") -> int:
    exchange_id = ask(store, question, "I don't know.")
    _, item, _ = store.capture.add_correction(exchange_id, "UFIXER", "Go to vpn.fernhill.example.")
    return item.id


def _examples(store: Store) -> int:
    with store.db.read_session() as s:
        return s.scalar(select(func.count(Example.id)))


def test_approving_a_correction_makes_a_preference_example(store) -> None:
    item_id = _corrected(store)
    approval = store.review.approve(item_id, REVIEWER, reason="matches policy")
    assert approval.example_created and approval.item.state is ReviewState.APPROVED
    assert (approval.item.decided_by, approval.item.decision_reason) == (REVIEWER, "matches policy")
    with store.db.read_session() as s:
        example = s.get(Example, approval.example_id)
    assert example.source is ExampleSource.CORRECTION
    assert example.target == "Go to vpn.fernhill.example."
    assert example.rejected == "I don't know."
    assert example.messages[-1] == {"role": "user", "content": "Where is the VPN portal?"}
    assert example.approved_by == REVIEWER


def test_approving_an_upvote_keeps_the_bot_reply_as_target(store) -> None:
    exchange_id = ask(store, "When is payday?", "The 25th of each month.")
    _, item, _ = store.capture.add_feedback(exchange_id, "U2", FeedbackKind.THUMBS_UP)
    approval = store.review.approve(item.id, REVIEWER)
    with store.db.read_session() as s:
        example = s.get(Example, approval.example_id)
    assert (example.source, example.target, example.rejected) == (
        ExampleSource.UPVOTE,
        "The 25th of each month.",
        None,
    )


def test_only_reviewers_decide(store) -> None:
    item_id = _corrected(store)
    for action in (
        lambda: store.review.approve(item_id, "UOUTSIDER"),
        lambda: store.review.reject(item_id, "UOUTSIDER", reason="no"),
        lambda: store.review.request_edit(item_id, "UOUTSIDER", reason="no"),
        lambda: store.review.approve(item_id, ""),
    ):
        with pytest.raises(PermissionDeniedError):
            action()
    assert store.review.get(item_id).state is ReviewState.PENDING
    assert _examples(store) == 0


def test_a_flag_without_correction_cannot_be_approved_but_can_be_edited(store) -> None:
    exchange_id = ask(store, "How many days of leave?", "Ten.")
    _, item, _ = store.capture.add_feedback(exchange_id, "U2", FeedbackKind.FLAG)
    with pytest.raises(ValidationError, match="without a correction"):
        store.review.approve(item.id, REVIEWER)
    assert store.review.get(item.id).state is ReviewState.PENDING  # nothing half-done
    approval = store.review.approve(item.id, REVIEWER, text="25 days plus bank holidays.")
    assert approval.item.correction == "25 days plus bank holidays."
    assert approval.item.correction_by == REVIEWER


def test_needs_edit_returns_to_pending_with_a_new_correction(store) -> None:
    item_id = _corrected(store)
    view = store.review.request_edit(item_id, REVIEWER, reason="give the full URL")
    assert view.state is ReviewState.NEEDS_EDIT
    with pytest.raises(InvalidTransitionError):
        store.review.approve(item_id, REVIEWER)
    exchange_id = view.exchange_id
    _, item, _ = store.capture.add_correction(exchange_id, "UFIXER", "https://vpn.fernhill.example")
    assert item.id == item_id and item.state is ReviewState.PENDING
    assert store.review.approve(item_id, REVIEWER).item.correction == "https://vpn.fernhill.example"
    actions = [e.action for e in store.review.history(item_id)]
    assert actions == ["opened_correction", "needs_edit", "signal_correction", "approved"]


def test_reject_needs_a_reason_and_decided_items_stay_decided(store) -> None:
    item_id = _corrected(store)
    with pytest.raises(ValidationError):
        store.review.reject(item_id, REVIEWER, reason="  ")
    store.review.reject(item_id, REVIEWER, reason="wrong policy")
    with pytest.raises(InvalidTransitionError, match=f"rejected by {REVIEWER}"):
        store.review.approve(item_id, REVIEWERS[1])
    assert _examples(store) == 0


def test_a_decided_signal_is_not_queued_again_but_a_new_correction_is(store) -> None:
    exchange_id = ask(store, "q?", "bad")
    _, item, _ = store.capture.add_feedback(exchange_id, "U2", FeedbackKind.FLAG)
    store.review.reject(item.id, REVIEWER, reason="reply is fine")
    _, again, _ = store.capture.add_feedback(exchange_id, "U3", FeedbackKind.FLAG)
    assert again is None
    _, fresh, _ = store.capture.add_correction(exchange_id, "U3", "better")
    assert fresh is not None and fresh.id != item.id and fresh.kind is ReviewKind.CORRECTION


def test_identical_approvals_point_at_one_example(store) -> None:
    first = _corrected(store, "Where is the VPN portal?")
    second = _corrected(store, "Where is the VPN portal?")
    a = store.review.approve(first, REVIEWER)
    b = store.review.approve(second, REVIEWER)
    assert a.example_created and not b.example_created and a.example_id == b.example_id


def test_two_reviewers_approving_at_once_make_exactly_one_example(database_url: str) -> None:
    setup = Store.build(Database.open(database_url), reviewers=REVIEWERS)
    items = [_corrected(setup, f"question {n}?") for n in range(5)]
    for item_id in items:
        # Each reviewer works through their own connection pool, as two processes would.
        stores = [Store.build(Database.open(database_url), reviewers=REVIEWERS) for _ in range(2)]
        barrier = threading.Barrier(2)
        outcomes: list[object] = []

        def approve(
            store: Store,
            reviewer: str,
            item_id: int = item_id,
            barrier: threading.Barrier = barrier,
            outcomes: list[object] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                outcomes.append(store.review.approve(item_id, reviewer))
            except InvalidTransitionError as exc:
                outcomes.append(exc)

        threads = [
            threading.Thread(target=approve, args=(s, r))
            for s, r in zip(stores, REVIEWERS, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        errors = [o for o in outcomes if isinstance(o, InvalidTransitionError)]
        assert len(outcomes) == 2 and len(errors) == 1, outcomes
        for s in stores:
            s.db.dispose()
    assert _examples(setup) == len(items)
    setup.db.dispose()
