"""Capture: exchanges, feedback and corrections are idempotent and scrubbed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from curation.capture import Answer, ConversationRef
from curation.errors import ValidationError
from curation.models import (
    Correction,
    Exchange,
    ExchangeStatus,
    Feedback,
    FeedbackKind,
    ReviewItem,
    ReviewKind,
    ReviewState,
)
from tests.conftest import SYSTEM, ask

PROMPT = [SYSTEM, {"role": "user", "content": "How do I reset my password?"}]


def _count(store, model) -> int:
    with store.db.read_session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _ref(**overrides) -> ConversationRef:
    values = dict(
        channel_id="C1",
        message_ts="1700.1",
        thread_ts="1700.1",
        user_id="U1",
        team_id="T1",
        event_id="Ev1",
    )
    values.update(overrides)
    return ConversationRef(**values)


def test_a_retried_event_never_makes_a_second_exchange(store) -> None:
    first, created = store.capture.claim_exchange(_ref(), PROMPT)
    again, created_again = store.capture.claim_exchange(_ref(), PROMPT)
    assert created and not created_again
    assert again == first
    assert _count(store, Exchange) == 1


def test_app_mention_and_message_for_one_message_make_one_exchange(store) -> None:
    # Two deliveries with different event ids for the same (channel, ts).
    store.capture.claim_exchange(_ref(event_id="EvMention"), PROMPT)
    _, created = store.capture.claim_exchange(_ref(event_id="EvMessage"), PROMPT)
    assert not created
    assert _count(store, Exchange) == 1


def test_exchange_keeps_reply_model_tokens_and_latency(store) -> None:
    exchange_id, _ = store.capture.claim_exchange(_ref(), PROMPT)
    store.capture.complete_exchange(
        exchange_id,
        Answer(
            reply="Use Okta.",
            model="m1",
            reply_ts="1700.2",
            prompt_tokens=12,
            completion_tokens=3,
            latency_ms=420,
        ),
    )
    stored = store.capture.exchange(exchange_id)
    assert (stored.status, stored.reply, stored.model) == (
        ExchangeStatus.ANSWERED,
        "Use Okta.",
        "m1",
    )
    assert (stored.prompt_tokens, stored.completion_tokens, stored.latency_ms) == (12, 3, 420)
    assert stored.thread_key == "T1:C1:1700.1"
    assert store.capture.exchange_by_reply("C1", "1700.2").id == exchange_id


def test_a_failed_model_call_keeps_the_question(store) -> None:
    exchange_id, _ = store.capture.claim_exchange(_ref(), PROMPT)
    store.capture.fail_exchange(exchange_id, error="RateLimitError: 429", model="m1")
    stored = store.capture.exchange(exchange_id)
    assert stored.status is ExchangeStatus.FAILED
    assert stored.question == "How do I reset my password?"
    with pytest.raises(ValidationError):
        store.capture.add_feedback(exchange_id, "U2", FeedbackKind.FLAG)


def test_secrets_are_redacted_before_storing(store) -> None:
    key = "sk-proj-" + "a1B2c3D4" * 5
    prompt = [SYSTEM, {"role": "user", "content": f"my key {key} stopped working"}]
    exchange_id, _ = store.capture.claim_exchange(_ref(), prompt)
    store.capture.complete_exchange(exchange_id, Answer(reply=f"Rotate {key} now", model="m"))
    stored = store.capture.exchange(exchange_id)
    assert key not in str(stored.prompt_messages) and key not in stored.reply
    assert "[REDACTED:openai_key]" in stored.reply


def test_feedback_is_idempotent_per_exchange_user_and_kind(store) -> None:
    exchange_id = ask(store, "q", "a")
    for _ in range(3):
        store.capture.add_feedback(exchange_id, "U2", FeedbackKind.THUMBS_DOWN)
    _, _, created = store.capture.add_feedback(exchange_id, "U2", FeedbackKind.THUMBS_DOWN)
    assert not created
    store.capture.add_feedback(exchange_id, "U2", FeedbackKind.FLAG)
    store.capture.add_feedback(exchange_id, "U3", FeedbackKind.THUMBS_DOWN)
    assert _count(store, Feedback) == 3
    # Several people flagging one reply make one review item.
    assert _count(store, ReviewItem) == 1


def test_thumbs_up_queues_a_candidate_and_a_flag_takes_it_over(store) -> None:
    exchange_id = ask(store, "q", "a")
    _, item, _ = store.capture.add_feedback(exchange_id, "U2", FeedbackKind.THUMBS_UP)
    assert item.kind is ReviewKind.UPVOTE
    _, item2, _ = store.capture.add_feedback(exchange_id, "U3", FeedbackKind.FLAG)
    assert item2.id == item.id and item2.kind is ReviewKind.FLAG


def test_corrections_are_append_only_and_idempotent_by_key(store) -> None:
    exchange_id = ask(store, "Where is the VPN portal?", "No idea.")
    c1, item, created = store.capture.add_correction(
        exchange_id, "U2", "vpn.fernhill.example", idempotency_key="V1"
    )
    c1b, _, created_again = store.capture.add_correction(
        exchange_id, "U2", "changed text", idempotency_key="V1"
    )
    assert created and not created_again and c1b.id == c1.id
    c2, item2, _ = store.capture.add_correction(exchange_id, "U3", "Use vpn.fernhill.example.")
    assert item2.id == item.id and item2.correction_id == c2.id
    assert item2.kind is ReviewKind.CORRECTION and item2.state is ReviewState.PENDING
    assert _count(store, Correction) == 2
    assert store.capture.exchange(exchange_id).reply == "No idea."


@pytest.mark.parametrize(
    ("reply", "fixed"),
    [
        ("return x\n    y = 1", "    return x\n    y = 1"),
        ("  if x:\nreturn x", "if x:\n    return x"),
        ("\tkey: v\nother: w", "key: v\nother: w"),
    ],
)
def test_a_correction_that_only_fixes_the_first_lines_indentation_is_kept_whole(
    store, reply: str, fixed: str
) -> None:
    """The first line's indentation is content: neither refused as "the same as the bot's
    reply" nor stored without it (broken code)."""
    exchange_id = ask(store, "How do I write it?", reply)
    correction, _, created = store.capture.add_correction(exchange_id, "U2", fixed + "\n\n")
    assert created and correction.text == fixed


@pytest.mark.parametrize("text", ["", "   ", "No idea.", "  No idea.\n"])
def test_empty_or_unchanged_corrections_are_refused(store, text) -> None:
    exchange_id = ask(store, "q", "No idea.")
    with pytest.raises(ValidationError):
        store.capture.add_correction(exchange_id, "U2", text)
    assert _count(store, Correction) == 0


def test_nul_characters_are_dropped_at_the_door(store) -> None:
    prompt = [SYSTEM, {"role": "user", "content": "pay\x00slip?"}]
    exchange_id, _ = store.capture.claim_exchange(_ref(), prompt)
    store.capture.complete_exchange(exchange_id, Answer(reply="In\x00 Bob.", model="m"))
    correction, _, _ = store.capture.add_correction(exchange_id, "U2", "Bob\x00 > Payroll")
    stored = store.capture.exchange(exchange_id)
    assert (stored.question, stored.reply, correction.text) == (
        "payslip?",
        "In Bob.",
        "Bob > Payroll",
    )


def test_updating_an_unknown_exchange_is_refused(store) -> None:
    from curation.errors import NotFoundError

    with pytest.raises(NotFoundError, match="exchange 999 does not exist"):
        store.capture.complete_exchange(999, Answer(reply="r", model="m"))
    with pytest.raises(NotFoundError):
        store.capture.set_reply_ts(999, "1.2")
    with pytest.raises(NotFoundError):
        store.capture.fail_exchange(999, error="x", model=None)
