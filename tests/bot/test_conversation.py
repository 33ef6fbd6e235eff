"""Questions in, exactly one threaded reply out: mentions, threads, DMs, retries, signatures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx2

from bot import BotConfig
from bot.conversation.delivery import DeliveryOptions
from curation.models import ExchangeStatus
from tests.bot.conftest import BASE_MODEL, BOTH_TRANSPORTS, SYSTEM_PROMPT, Bot
from tests.bot.fakes import ScriptedModel
from tuneloop.local_openai import FALLBACK_ANSWER, LocalOpenAI
from tuneloop.local_slack import payloads


def _block_types(message: dict) -> list[str]:
    return [block["type"] for block in message.get("blocks", [])]


@BOTH_TRANSPORTS
def test_a_mention_gets_exactly_one_threaded_reply_with_feedback_controls(bot: Bot) -> None:
    said = bot.ask("How do I reset my password?")

    assert [r.status for r in said.responses] == [200, 200]  # app_mention and message
    [reply] = bot.replies(said)
    bot.settle()
    assert reply["thread_ts"] == said.ts
    assert reply["text"] == FALLBACK_ANSWER  # the stand-in's base model knows nothing yet
    assert _block_types(reply)[-2:] == ["context_actions", "actions"]
    [feedback] = reply["blocks"][-2]["elements"]
    assert feedback["type"] == "feedback_buttons"
    assert reply["blocks"][-1]["elements"][0]["text"]["text"] == "Correct this answer"
    assert len(bot.ws.bot_replies(said.channel, said.ts, finished=False)) == 1

    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.ANSWERED
    assert exchange.model == BASE_MODEL
    assert exchange.reply == FALLBACK_ANSWER
    assert exchange.reply_ts == reply["ts"]
    assert exchange.prompt_messages == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "How do I reset my password?"},
    ]
    assert exchange.prompt_tokens and exchange.completion_tokens
    assert exchange.latency_ms is not None
    assert exchange.event_id in said.event_ids


def test_the_thread_shows_a_status_while_a_slow_model_works(
    bot: Bot, stand_in: LocalOpenAI
) -> None:
    stand_in.faults.latency_s = 1.2  # well past the status delay (0.3 s), even on a busy machine
    said = bot.ask("Where is the VPN guide?")
    bot.ws.wait_until(lambda: bot.ws.statuses.get((said.channel, said.ts)), what="a status")
    assert not bot.ws.bot_replies(said.channel, said.ts, finished=False)  # still thinking
    bot.replies(said)
    bot.settle()
    assert bot.ws.status_log == [(said.channel, said.ts, "is thinking...")]
    assert (said.channel, said.ts) not in bot.ws.statuses  # cleared by the reply


def test_a_reply_that_comes_at_once_sets_no_status(make_bot: Callable[..., Bot]) -> None:
    # A 1 s delay: an instant reply on a busy test machine still comes well before it.
    bot = make_bot(config=BotConfig(delivery=DeliveryOptions(status_delay_s=1.0)))
    said = bot.ask("Where is the VPN guide?")
    bot.replies(said)
    bot.settle()
    time.sleep(1.2)  # past the status delay: a cancelled status must not show up late
    assert bot.ws.status_log == []
    assert not bot.ws.calls_to("assistant.threads.setStatus")


def test_with_no_status_delay_every_reply_shows_the_status_first(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot(config=BotConfig(delivery=DeliveryOptions(status_delay_s=0)))
    said = bot.ask("Where is the VPN guide?")
    bot.replies(said)
    bot.settle()
    assert bot.ws.status_log == [(said.channel, said.ts, "is thinking...")]
    methods = [call.method for call in bot.ws.calls]
    assert methods.index("assistant.threads.setStatus") < methods.index("chat.postMessage")
    assert (said.channel, said.ts) not in bot.ws.statuses


@BOTH_TRANSPORTS
def test_a_retried_event_gets_no_second_reply(bot: Bot) -> None:
    said = bot.ask("How do I book leave?")
    bot.replies(said)
    mention = payloads.app_mention_event(bot.ws, said.channel, said.message)
    for attempt in (1, 2, 3):
        _, response = bot.driver.deliver_event(
            mention, event_id=said.event_ids[0], retry_num=attempt
        )
        assert response.status == 200
    bot.settle()
    assert len(bot.ws.bot_replies(said.channel, said.ts, finished=False)) == 1
    assert len(bot.exchanges()) == 1


def test_a_duplicate_delivery_with_a_new_event_id_gets_no_second_reply(bot: Bot) -> None:
    said = bot.ask("How do I book leave?")
    bot.replies(said)
    bot.driver.deliver_event(payloads.app_mention_event(bot.ws, said.channel, said.message))
    bot.settle()
    assert len(bot.ws.bot_replies(said.channel, said.ts, finished=False)) == 1


def test_app_mention_and_message_for_one_thread_message_give_one_reply(bot: Bot) -> None:
    first = bot.ask("How do I book leave?")
    bot.replies(first)
    again = bot.ask("And for a half day?", thread_ts=first.ts)
    assert len(again.responses) == 2  # Slack sends both events for this one message
    replies = bot.replies(first, count=2)
    bot.settle()
    assert len(bot.ws.bot_replies(first.channel, first.ts, finished=False)) == 2
    assert replies[-1]["ts"] > again.ts
    assert len(bot.exchanges()) == 2


def test_a_reply_in_an_answered_thread_needs_no_mention(bot: Bot) -> None:
    first = bot.ask("How do I book leave?")
    bot.replies(first)
    follow_up = bot.driver.say(bot.alice, bot.channel, "What about sick days?", thread_ts=first.ts)
    bot.replies(first, count=2)
    bot.settle()
    last = bot.exchanges()[-1]
    assert last.message_ts == follow_up.ts
    assert last.thread_ts == first.ts
    roles = [m["role"] for m in last.prompt_messages]
    assert roles == ["system", "user", "assistant", "user"]


def test_messages_the_bot_was_not_asked_are_ignored(bot: Bot) -> None:
    top = bot.driver.say(bot.alice, bot.channel, "Lunch anyone?")
    bot.driver.say(bot.bob, bot.channel, "Sure", thread_ts=top.ts)
    bot.settle()
    assert bot.ws.bot_replies(bot.channel, top.ts, finished=False) == []
    assert bot.exchanges() == []


def test_bot_posts_edits_and_other_subtypes_are_ignored(bot: Bot) -> None:
    dm = bot.ws.dm_channel(bot.alice)
    base = {"type": "message", "channel": dm, "channel_type": "im", "text": "hello"}
    events = [
        {**base, "subtype": "bot_message", "bot_id": "BOTHER", "ts": "1.000001"},
        {**base, "user": "UOTHERBOT", "bot_id": "BOTHER", "ts": "1.000002"},
        {**base, "subtype": "message_changed", "ts": "1.000003", "message": {"text": "x"}},
        {**base, "subtype": "channel_join", "user": bot.alice, "ts": "1.000004"},
        {**base, "user": bot.ws.bot.user_id, "bot_id": bot.ws.bot.bot_id, "ts": "1.000005"},
    ]
    for event in events:
        _, response = bot.driver.deliver_event(event)
        assert response.status == 200
    bot.settle()
    assert bot.exchanges() == []
    assert bot.ws.calls_to("chat.startStream") == []


@BOTH_TRANSPORTS
def test_a_direct_message_is_answered(bot: Bot) -> None:
    said = bot.driver.dm(bot.alice, "Who do I ask about payroll?")
    [reply] = bot.replies(said)
    assert reply["thread_ts"] == said.ts
    bot.settle()
    assert bot.exchanges()[0].channel_id == said.channel


def test_a_bare_mention_is_not_sent_to_the_model(bot: Bot) -> None:
    said = bot.driver.say(bot.alice, bot.channel, f"<@{bot.ws.bot.user_id}>")
    assert all(r.status == 200 for r in said.responses)
    bot.settle()
    assert bot.exchanges() == []


def test_a_bad_signature_is_refused_with_401(bot: Bot) -> None:
    event = payloads.app_mention_event(
        bot.ws, bot.channel, bot.ws.post(bot.channel, user=bot.alice, text="hi")
    )
    body = json.dumps(payloads.envelope(bot.ws, event)).encode()
    forged = bot.driver.send(body, "application/json", secret="not-the-secret")
    assert forged.status == 401
    bot.settle()
    assert bot.exchanges() == []


def test_a_stale_signature_is_refused_with_401(bot: Bot) -> None:
    event = payloads.app_mention_event(
        bot.ws, bot.channel, bot.ws.post(bot.channel, user=bot.alice, text="hi")
    )
    body = json.dumps(payloads.envelope(bot.ws, event)).encode()
    stale = bot.driver.send(body, "application/json", timestamp=int(time.time()) - 10 * 60)
    assert stale.status == 401
    bot.settle()
    assert bot.exchanges() == []


def test_unsigned_or_malformed_requests_are_refused_with_401(bot: Bot) -> None:
    url = bot.driver.app_url
    with httpx2.Client() as http:
        assert http.post(url, content=b"{}").status_code == 401
        blank = {"X-Slack-Signature": "", "X-Slack-Request-Timestamp": ""}
        assert http.post(url, content=b"{}", headers=blank).status_code == 401
        garbled = {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "soon"}
        assert http.post(url, content=b"{}", headers=garbled).status_code == 401


def test_people_and_channels_reach_the_model_and_the_store_by_name(
    make_bot: Callable[..., Bot],
) -> None:
    """Field case "People as ids": mentions become names (users.info, conversations.info),
    looked up once and cached."""
    scripted = ScriptedModel()
    bot = make_bot(openai_client=scripted.client())
    bob = bot.ws.add_user("bob.stone", real_name="Bob Stone")
    rita = bot.ws.add_user("rita.p", real_name="Rita Patel")
    question = f"Can <@{bob}> approve my leave, or only <@{rita}|rita.p>? See <#{bot.channel}>."
    bot.answered(bot.ask(question))
    expected = "Can @Bob Stone approve my leave, or only @Rita Patel? See #help-desk."
    assert scripted.requests[0]["messages"][-1] == {"role": "user", "content": expected}
    assert bot.exchanges()[0].prompt_messages[-1]["content"] == expected
    bot.answered(bot.ask(f"And <@{bob}> for sick days? <@UNOBODY1> <!here>"))
    assert scripted.requests[1]["messages"][-1]["content"] == (
        "And @Bob Stone for sick days? <@UNOBODY1> @here"
    )
    assert len(bot.ws.calls_to("users.info")) == 3  # Bob, Rita, the unknown id: once each
