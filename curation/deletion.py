"""Forgetting a question its author deleted: its text leaves the store, a tombstone stays.

A person who deletes a message in Slack means it to be gone (a password typed by mistake,
say). So the question's exchange keeps only who, where and when (status `deleted`, for the
audit), and its text goes from everywhere the store holds it:

- the exchange's prompt and reply, and every correction proposed on it;
- later exchanges of the same thread, whose prompts carried it as history, and the examples
  made from them (the deleted turn becomes `[deleted message]`);
- the review queue: an open item on it is closed (rejected, with the reason in its audit);
- future exports: examples made from it are retired and their text wiped.

A tombstone is also written for a question deleted before anyone answered it, so that a late
or retried delivery of it is refused by the claim's unique constraints and never answered.
Every step is idempotent: forgetting twice changes nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from curation.capture import ConversationRef, delivery_insert
from curation.db import Database
from curation.examples import retire_example
from curation.models import (
    Correction,
    Example,
    Exchange,
    ExchangeStatus,
    ReviewEvent,
    ReviewItem,
    ReviewState,
)
from curation.models.base import utcnow
from curation.review_queue import OPEN_STATES

DELETED_TEXT = "[deleted message]"
DELETED_REASON = "the question was deleted in Slack"
#: Who closes review items and retires examples of deleted questions, in the audit.
ACTOR = "slack-deletion"


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What forgetting found: the tombstoned exchange, the bot's reply to it in Slack (the ts
    of the message with its controls, when it had been posted), every message of the bot's
    for it (`Exchange.shown_ts`: all parts of a long reply, and the notice of an unsent one),
    and whether it was still being answered."""

    exchange_id: int
    reply_ts: str | None
    was_pending: bool
    shown_ts: tuple[str, ...] = ()


def _redact_turns(messages: list[dict[str, Any]], texts: set[str]) -> list[dict[str, Any]]:
    return [
        {**m, "content": DELETED_TEXT}
        if m.get("role") == "user" and m.get("content") in texts
        else m
        for m in messages
    ]


def _tombstone_insert(session: Session, ref: ConversationRef) -> None:
    values = dict(
        event_id=None,
        team_id=ref.team_id,
        channel_id=ref.channel_id,
        thread_ts=ref.thread_ts,
        message_ts=ref.message_ts,
        user_id=ref.user_id,
        thread_key=ref.thread_key,
        prompt_messages=[],
        status=ExchangeStatus.DELETED,
        error=DELETED_REASON,
        created_at=utcnow(),
    )
    session.execute(delivery_insert(session.get_bind().dialect.name).values(**values))


def forget_question(db: Database, ref: ConversationRef, *, was_question: bool) -> Forgotten | None:
    """Forget the question at (`ref.channel_id`, `ref.message_ts`).

    Returns None when the bot never took that message and `was_question` is False (an
    ordinary message somebody deleted: nothing is written). With `was_question` (the message
    was for the bot: a mention, a DM, a reply in its thread) a tombstone is written even
    though nobody claimed it yet, so it is never answered.
    """
    with db.session() as session:
        exchange = session.scalar(
            select(Exchange).where(
                Exchange.channel_id == ref.channel_id, Exchange.message_ts == ref.message_ts
            )
        )
        if exchange is None:
            if not was_question:
                return None
            _tombstone_insert(session, ref)
            session.flush()
            exchange = session.scalar(
                select(Exchange).where(
                    Exchange.channel_id == ref.channel_id, Exchange.message_ts == ref.message_ts
                )
            )
            assert exchange is not None
        was_pending = exchange.status is ExchangeStatus.PENDING
        question = exchange.question
        forgotten = Forgotten(exchange.id, exchange.reply_ts, was_pending, tuple(exchange.shown_ts))
        if exchange.status is ExchangeStatus.DELETED and not exchange.prompt_messages:
            return forgotten  # forgotten already
        exchange.status = ExchangeStatus.DELETED
        exchange.prompt_messages = []
        exchange.reply = None
        exchange.error = DELETED_REASON
        session.execute(
            update(Correction)
            .where(Correction.exchange_id == exchange.id)
            .values(text=DELETED_TEXT)
        )
        _close_review_items(session, exchange.id)
        for example_id in session.scalars(
            select(Example.id).where(Example.exchange_id == exchange.id)
        ):
            retire_example(session, example_id, reason=DELETED_REASON)
            session.execute(
                update(Example)
                .where(Example.id == example_id)
                .values(messages=[], target=DELETED_TEXT, rejected=None, line_fields=None)
            )
        if question:
            _redact_later_turns(session, exchange, {question})
        return forgotten


def _close_review_items(session: Session, exchange_id: int) -> None:
    items = session.scalars(
        select(ReviewItem).where(
            ReviewItem.exchange_id == exchange_id, ReviewItem.state.in_(OPEN_STATES)
        )
    ).all()
    for item in items:
        before = item.state
        item.state = ReviewState.REJECTED
        item.decided_by = ACTOR
        item.decided_at = utcnow()
        item.decision_reason = DELETED_REASON
        session.add(
            ReviewEvent(
                item_id=item.id,
                actor=ACTOR,
                action="deleted",
                from_state=before.value,
                to_state=item.state.value,
                reason=DELETED_REASON,
            )
        )


def _redact_later_turns(session: Session, deleted: Exchange, texts: set[str]) -> None:
    """Later questions of the thread carried the deleted one in their prompts."""
    later = session.scalars(
        select(Exchange).where(
            Exchange.thread_key == deleted.thread_key,
            Exchange.id != deleted.id,
            Exchange.status != ExchangeStatus.DELETED,
        )
    ).all()
    for exchange in later:
        redacted = _redact_turns(exchange.prompt_messages, texts)
        if redacted != exchange.prompt_messages:
            exchange.prompt_messages = redacted
        for example in session.scalars(select(Example).where(Example.exchange_id == exchange.id)):
            messages = _redact_turns(example.messages, texts)
            if messages != example.messages:
                example.messages = messages
