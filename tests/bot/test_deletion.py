"""A deleted question (field case "Deleted question") is not answered, its text leaves the
store, the queues and future exports, and the bot's reply to it is taken back."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from sqlalchemy import select

from bot import BotConfig
from bot.conversation.delivery import DeliveryOptions
from curation.deletion import DELETED_TEXT
from curation.models import Correction, Example, Exchange, ExchangeStatus, ReviewItem, ReviewState
from tests.bot.conftest import Bot
from tests.bot.fakes import ScriptedModel
from tests.conftest import REVIEWERS

SECRET_QUESTION = "Is the word tangerine-falcon strong enough for my laptop?"


def _stored_text(bot: Bot) -> str:
    """Everything the store holds about exchanges, examples and corrections, as one text."""
    with bot.store.db.read_session() as session:
        rows = [
            *([e.prompt_messages, e.reply, e.error] for e in session.scalars(select(Exchange))),
            *([x.messages, x.target, x.rejected] for x in session.scalars(select(Example))),
            *([c.text] for c in session.scalars(select(Correction))),
        ]
    return json.dumps(rows)


def test_a_question_deleted_while_the_model_works_is_not_answered(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = "Use a longer passphrase. " * 30
    scripted.gate = threading.Event()
    bot = make_bot(
        openai_client=scripted.client(),
        config=BotConfig(delivery=DeliveryOptions(status_delay_s=0)),
    )
    said = bot.ask(SECRET_QUESTION)
    assert scripted.waiting.acquire(timeout=10)  # the model is working on it
    response = bot.driver.delete(bot.alice, said.channel, said.ts)
    assert response.status == 200
    scripted.gate.set()
    bot.settle()
    bot_messages = [m for m in bot.ws.history(said.channel) if m.get("user") == bot.ws.bot.user_id]
    assert bot_messages == []  # nothing in the (deleted) thread, nothing in the channel
    assert (said.channel, said.ts) not in bot.ws.statuses
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.DELETED  # a tombstone: who, where, when
    assert exchange.user_id == bot.alice and exchange.message_ts == said.ts
    assert "tangerine-falcon" not in _stored_text(bot)


def test_a_question_deleted_before_it_is_taken_is_never_answered(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    said = bot.ask(SECRET_QUESTION)
    bot.settle()
    bot.driver.delete(bot.alice, said.channel, said.ts)
    bot.settle()
    # Slack retries the original event (say, after a timeout): the tombstone refuses it.
    bot.driver.deliver_event(
        {"type": "app_mention", **said.message, "channel": said.channel},
        event_id=said.event_ids[0],
        retry_num=1,
    )
    bot.settle()
    assert len(scripted.requests) == 1
    assert [e.status for e in bot.exchanges()] == [ExchangeStatus.DELETED]


def test_a_deleted_answered_question_leaves_the_queue_the_exports_and_the_thread(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = "It is too short: use a passphrase."
    bot = make_bot(openai_client=scripted.client())
    said = bot.ask(SECRET_QUESTION)
    [reply] = bot.answered(said)
    bot.driver.click_feedback(bot.bob, said.channel, reply, positive=True)
    follow_up = bot.driver.say(bot.alice, said.channel, "And for my phone?", thread_ts=said.ts)
    bot.answered(follow_up, 2)
    bot.settle()
    first, second = bot.exchanges()
    with bot.store.db.read_session() as session:
        [item] = session.scalars(select(ReviewItem).where(ReviewItem.exchange_id == first.id))
    approval = bot.store.review.approve(item.id, REVIEWERS[0])
    bot.store.capture.add_correction(second.id, bot.bob, "Use the password manager.")
    assert "tangerine-falcon" in _stored_text(bot)

    bot.driver.delete(bot.alice, said.channel, said.ts)  # the root: a tombstone, replies stay
    bot.settle()

    assert "tangerine-falcon" not in _stored_text(bot)
    remaining = bot.ws.bot_replies(said.channel, said.ts)
    assert [m["ts"] for m in remaining] == [second.reply_ts]  # its reply went, the next stayed
    first, second = bot.exchanges()
    assert first.status is ExchangeStatus.DELETED and first.reply is None
    assert second.status is ExchangeStatus.ANSWERED
    assert {"role": "user", "content": DELETED_TEXT} in second.prompt_messages
    with bot.store.db.read_session() as session:
        example = session.get(Example, approval.example_id)
        assert example is not None and example.retired_at is not None
        assert session.scalars(
            select(ReviewItem.state).where(ReviewItem.exchange_id == first.id)
        ).all() == [ReviewState.APPROVED]
    # Forgetting twice changes nothing (Slack may send the deletion again).
    bot.driver.deliver_event(
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": said.channel,
            "ts": bot.ws.next_ts(),
            "deleted_ts": said.ts,
            "previous_message": said.message,
            "channel_type": "channel",
        }
    )
    bot.settle()
    assert [e.status for e in bot.exchanges()] == [ExchangeStatus.DELETED, ExchangeStatus.ANSWERED]


def test_an_open_review_item_of_a_deleted_question_is_closed(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    said = bot.ask(SECRET_QUESTION)
    [reply] = bot.answered(said)
    bot.driver.click_feedback(bot.bob, said.channel, reply, positive=False)
    bot.settle()
    bot.driver.delete(bot.alice, said.channel, said.ts)
    bot.settle()
    [exchange] = bot.exchanges()
    with bot.store.db.read_session() as session:
        [item] = session.scalars(select(ReviewItem).where(ReviewItem.exchange_id == exchange.id))
        assert item.state is ReviewState.REJECTED
        assert item.decision_reason == "the question was deleted in Slack"
    assert bot.ws.bot_replies(said.channel, said.ts) == []
    assert bot.ws.message(said.channel, reply["ts"]) is None


def test_deleting_an_ordinary_message_stores_nothing(bot: Bot) -> None:
    said = bot.driver.say(bot.bob, bot.channel, "lunch at noon?")
    bot.settle()
    bot.driver.delete(bot.bob, said.channel, said.ts)
    bot.settle()
    assert bot.exchanges() == []


def test_every_message_of_a_long_answer_goes_with_its_question(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    # Over one message's 12,000 characters of Markdown: posted as two messages.
    scripted.reply = "Use a passphrase of four random words, never a single word. " * 250
    bot = make_bot(openai_client=scripted.client(), config=BotConfig(streaming=False))
    said = bot.ask(SECRET_QUESTION)
    first, last = bot.answered(said, 2)
    [exchange] = bot.exchanges()
    assert exchange.reply_ts == last["ts"]  # reactions land on the one with the controls

    bot.driver.delete(bot.alice, said.channel, said.ts)
    bot.settle()

    assert bot.ws.message(said.channel, last["ts"]) is None
    assert bot.ws.message(said.channel, first["ts"]) is None
    assert bot.ws.bot_replies(said.channel, said.ts) == []
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.DELETED
    assert exchange.reply_message_ts == [first["ts"], last["ts"]]  # where it was, no text


def test_an_unsent_answers_notice_goes_with_its_question(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = "It is too short: use a passphrase."
    delivery = DeliveryOptions(
        sleep=lambda _: None, rate_limit_budget_s=2.0, redeliver_after_s=(3600.0,)
    )
    bot = make_bot(
        openai_client=scripted.client(),
        config=BotConfig(streaming=False, delivery=delivery),
    )
    bot.ws.faults.fail_next("chat.postMessage", "ratelimited", times=3)
    said = bot.ask(SECRET_QUESTION)
    bot.settle()
    [notice] = bot.ws.bot_replies(said.channel, said.ts)
    assert [e.status for e in bot.exchanges()] == [ExchangeStatus.UNSENT]

    bot.driver.delete(bot.alice, said.channel, said.ts)
    bot.settle()

    assert bot.ws.message(said.channel, notice["ts"]) is None
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.DELETED and exchange.reply is None
