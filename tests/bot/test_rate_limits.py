"""Slack's rate limits never lose an answer (field case "Rate-limited reply"): every reply
call answered 429 is sent again after its Retry-After with the whole text, the finished
message has its controls, the status never outlives the reply, and an answer Slack will not
take at all is kept and delivered later. Waits are recorded, not slept (DeliveryOptions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot import BotConfig
from bot.conversation.delivery import UNDELIVERED_NOTICE, DeliveryOptions
from curation.models import ExchangeStatus
from tests.bot.conftest import Bot
from tests.bot.fakes import ScriptedModel

ANSWER = ("To book leave, open Workday, choose Time Off and pick the dates. " * 16).strip()


def _bot(
    make_bot: Callable[..., Bot],
    scripted: ScriptedModel,
    waits: list[float],
    *,
    streaming: bool = False,
    **options: Any,
) -> Bot:
    scripted.reply = ANSWER
    delivery = DeliveryOptions(sleep=waits.append, **options)
    return make_bot(
        openai_client=scripted.client(),
        config=BotConfig(streaming=streaming, delivery=delivery),
    )


def _markdown(message: dict[str, Any]) -> str:
    return "".join(b["text"] for b in message["blocks"] if b["type"] == "markdown")


def _finished_with_controls(bot: Bot, message: dict[str, Any]) -> None:
    assert _markdown(message) == ANSWER
    assert [b["type"] for b in message["blocks"]] == ["markdown", "context_actions", "actions"]
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.ANSWERED
    assert exchange.reply_ts == message["ts"]


def test_an_update_limited_three_times_still_ends_whole_with_its_controls(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    waits: list[float] = []
    bot = _bot(make_bot, scripted, waits)
    bot.ws.faults.fail_next("chat.update", "ratelimited", times=3)
    said = bot.ask("How do I book leave?")
    [reply] = bot.answered(said)
    _finished_with_controls(bot, reply)
    assert waits == [1.0, 1.0, 1.0]  # Slack's Retry-After, each time
    updates = bot.ws.calls_to("chat.update")
    assert len(updates) == 4 and all(_markdown(u.args) == ANSWER for u in updates)


def test_a_post_limited_three_times_is_posted_and_the_status_cleared(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    waits: list[float] = []
    bot = _bot(make_bot, scripted, waits, status_delay_s=0)
    bot.ws.faults.fail_next("chat.postMessage", "ratelimited", times=3)
    said = bot.ask("How do I book leave?")
    [reply] = bot.answered(said)
    _finished_with_controls(bot, reply)
    assert waits == [1.0, 1.0, 1.0]
    assert bot.ws.status_log[0] == (said.channel, said.ts, "is thinking...")
    assert (said.channel, said.ts) not in bot.ws.statuses


def test_a_limited_stream_keeps_every_character(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    waits: list[float] = []
    bot = _bot(make_bot, scripted, waits, streaming=True)
    bot.ws.faults.fail_next("chat.startStream", "ratelimited")
    bot.ws.faults.fail_next("chat.appendStream", "ratelimited", times=2)
    bot.ws.faults.fail_next("chat.stopStream", "ratelimited")
    said = bot.ask("How do I book leave?")
    [reply] = bot.answered(said)
    assert reply["text"] == ANSWER
    assert [b["type"] for b in reply["blocks"]] == ["context_actions", "actions"]
    assert len(waits) == 4
    assert bot.exchanges()[0].reply_ts == reply["ts"]


def test_an_answer_slack_will_not_take_is_kept_noticed_and_delivered_later(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    waits: list[float] = []
    bot = _bot(
        make_bot,
        scripted,
        waits,
        status_delay_s=0,
        rate_limit_budget_s=2.0,
        redeliver_after_s=(0.2,),
    )
    scripted.reply = "Use Workday."  # short: one post, refused beyond the budget
    bot.ws.faults.fail_next("chat.postMessage", "ratelimited", times=3)
    said = bot.ask("How do I book leave?")
    bot.settle()
    assert waits == [1.0, 1.0]  # then the budget was spent
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.UNSENT
    assert exchange.reply == "Use Workday."  # the answer is kept
    assert (said.channel, said.ts) not in bot.ws.statuses  # the status did not stay on
    [notice] = bot.ws.bot_replies(said.channel, said.ts)
    assert notice["text"] == UNDELIVERED_NOTICE

    def delivered() -> list[dict[str, Any]] | None:
        replies = bot.ws.bot_replies(said.channel, said.ts)
        return replies if replies and replies[0].get("blocks") else None

    [reply] = bot.ws.wait_until(delivered, what="the later delivery", channel=said.channel)
    bot.settle()
    assert _markdown(reply) == "Use Workday."
    assert reply["blocks"][-1]["type"] == "actions"  # with its controls
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.ANSWERED
    assert exchange.reply_ts == reply["ts"]
    assert bot.ws.message(said.channel, notice["ts"]) is None  # the notice made way
