"""Feedback buttons, reaction flags, and corrections through the modal, into the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bot import BotConfig
from bot.blocks import ids
from bot.replies import TokenBudget
from curation.models import Correction, Feedback, FeedbackKind, ReviewItem, ReviewKind
from tests.bot.conftest import BOTH_TRANSPORTS, Bot
from tuneloop.local_openai import FALLBACK_ANSWER


def _answered(bot: Bot, question: str = "How do I book leave?") -> tuple[str, dict[str, Any]]:
    said = bot.ask(question)
    [reply] = bot.replies(said)
    bot.settle()
    return said.channel, reply


def _rows(bot: Bot, model: type) -> list[Any]:
    with bot.store.db.read_session() as session:
        return list(session.scalars(select(model).order_by(model.id)))


@BOTH_TRANSPORTS
def test_thumbs_up_is_recorded_once_however_often_it_is_clicked(bot: Bot) -> None:
    channel, reply = _answered(bot)
    for _ in range(3):
        response = bot.driver.click_feedback(bot.bob, channel, reply, positive=True)
        assert response.status == 200
    bot.settle()
    [feedback] = _rows(bot, Feedback)
    assert (feedback.user_id, feedback.kind) == (bot.bob, FeedbackKind.THUMBS_UP)
    [item] = _rows(bot, ReviewItem)
    assert item.kind is ReviewKind.UPVOTE
    assert bot.ws.ephemerals_for(bot.bob) == []


def test_thumbs_down_flags_the_reply_and_offers_a_correction(bot: Bot) -> None:
    channel, reply = _answered(bot)
    bot.driver.click_feedback(bot.bob, channel, reply, positive=False)
    bot.driver.click_feedback(bot.bob, channel, reply, positive=False)
    bot.settle()
    [feedback] = _rows(bot, Feedback)
    assert feedback.kind is FeedbackKind.THUMBS_DOWN
    assert _rows(bot, ReviewItem)[0].kind is ReviewKind.FLAG
    [nudge] = bot.ws.ephemerals_for(bot.bob)  # once, not per click
    assert nudge["thread_ts"] == reply["thread_ts"]
    assert nudge["blocks"][-1]["elements"][0]["action_id"] == ids.CORRECT_ACTION


def test_x_and_thumbsdown_reactions_on_a_reply_are_flags(bot: Bot) -> None:
    channel, reply = _answered(bot)
    bot.driver.react(bot.bob, channel, reply["ts"], "x")
    bot.driver.react(bot.alice, channel, reply["ts"], "-1::skin-tone-3")
    bot.driver.react(bot.reviewer, channel, reply["ts"], "tada")
    bot.settle()
    kinds = {(f.user_id, f.kind) for f in _rows(bot, Feedback)}
    assert kinds == {(bot.bob, FeedbackKind.FLAG), (bot.alice, FeedbackKind.THUMBS_DOWN)}
    assert [i.kind for i in _rows(bot, ReviewItem)] == [ReviewKind.FLAG]


def test_reactions_on_other_messages_are_not_flags(bot: Bot) -> None:
    said = bot.ask("How do I book leave?")
    bot.replies(said)
    bot.driver.react(bot.bob, said.channel, said.ts, "x")  # on the question, not the reply
    bot.settle()
    assert _rows(bot, Feedback) == []


def _open_correction(bot: Bot, channel: str, reply: dict[str, Any], user: str) -> dict[str, Any]:
    response = bot.driver.click_button(user, channel, reply, ids.CORRECT_ACTION)
    assert response.status == 200
    return bot.ws.wait_until(lambda: bot.ws.top_modal(user), what="the correction modal")


@BOTH_TRANSPORTS
def test_the_correct_button_opens_a_modal_prefilled_with_the_reply(bot: Bot) -> None:
    channel, reply = _answered(bot)
    modal = _open_correction(bot, channel, reply, bot.bob)
    assert modal["callback_id"] == ids.CORRECTION_VIEW
    [field] = [b for b in modal["blocks"] if b["type"] == "input"]
    assert field["block_id"] == ids.CORRECTION_BLOCK
    assert field["element"]["initial_value"] == FALLBACK_ANSWER
    assert "How do I book leave?" in modal["blocks"][0]["text"]["text"]


@BOTH_TRANSPORTS
def test_an_empty_correction_is_refused_inside_the_modal(bot: Bot) -> None:
    channel, reply = _answered(bot)
    modal = _open_correction(bot, channel, reply, bot.bob)
    submitted = bot.driver.submit(bot.bob, modal["id"], {ids.CORRECTION_BLOCK: "   "})
    assert submitted.errors == {ids.CORRECTION_BLOCK: "Please write the corrected answer."}
    assert bot.ws.top_modal(bot.bob)["id"] == modal["id"]  # still open, showing the error
    assert _rows(bot, Correction) == []


def test_a_correction_over_the_token_limit_is_refused_inside_the_modal(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot(config=BotConfig(budget=TokenBudget(correction_tokens=20)))
    channel, reply = _answered(bot)
    modal = _open_correction(bot, channel, reply, bot.bob)
    submitted = bot.driver.submit(bot.bob, modal["id"], {ids.CORRECTION_BLOCK: "word " * 50})
    [message] = submitted.errors.values()
    assert "the limit is 20" in message
    assert _rows(bot, Correction) == []


def test_a_correction_identical_to_the_reply_is_refused_inside_the_modal(bot: Bot) -> None:
    channel, reply = _answered(bot)
    modal = _open_correction(bot, channel, reply, bot.bob)
    submitted = bot.driver.submit(bot.bob, modal["id"], {})  # the prefilled reply, unchanged
    assert "same as the bot's answer" in submitted.errors[ids.CORRECTION_BLOCK]


@BOTH_TRANSPORTS
def test_a_correction_is_stored_queued_and_confirmed_privately(bot: Bot) -> None:
    channel, reply = _answered(bot)
    modal = _open_correction(bot, channel, reply, bot.bob)
    better = "Book leave in Workday under Time Off; your manager approves it."
    submitted = bot.driver.submit(bot.bob, modal["id"], {ids.CORRECTION_BLOCK: better})
    assert submitted.closed
    assert bot.ws.top_modal(bot.bob) is None
    again = bot.driver.submit(bot.bob, modal["id"], {ids.CORRECTION_BLOCK: better})  # resent
    assert again.closed
    bot.settle()
    [correction] = _rows(bot, Correction)
    assert (correction.author_id, correction.text) == (bot.bob, better)
    [item] = _rows(bot, ReviewItem)
    assert (item.kind, item.correction_id) == (ReviewKind.CORRECTION, correction.id)
    confirmations = bot.ws.ephemerals_for(bot.bob)
    assert confirmations[0]["thread_ts"] == reply["thread_ts"]
    assert f"review item #{item.id}" in confirmations[0]["text"]


@BOTH_TRANSPORTS
def test_the_message_shortcut_corrects_a_bot_reply(bot: Bot) -> None:
    channel, reply = _answered(bot)
    response = bot.driver.shortcut(bot.bob, channel, reply, ids.CORRECTION_SHORTCUT)
    assert response.status == 200
    modal = bot.ws.wait_until(lambda: bot.ws.top_modal(bot.bob), what="the modal")
    assert modal["callback_id"] == ids.CORRECTION_VIEW
    submitted = bot.driver.submit(bot.bob, modal["id"], {ids.CORRECTION_BLOCK: "Use Workday."})
    assert submitted.closed
    bot.settle()
    assert [c.text for c in _rows(bot, Correction)] == ["Use Workday."]


def test_the_message_shortcut_on_someone_elses_message_explains_itself(bot: Bot) -> None:
    said = bot.ask("How do I book leave?")
    bot.replies(said)
    bot.driver.shortcut(bot.bob, said.channel, said.message, ids.CORRECTION_SHORTCUT)
    modal = bot.ws.wait_until(lambda: bot.ws.top_modal(bot.bob), what="the modal")
    assert "isn't one of my answers" in modal["blocks"][0]["text"]["text"]
    assert "submit" not in modal
