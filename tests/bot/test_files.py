"""Files on a question (field case "Files"): plain text is read into the prompt, anything
else is named as not read, and a message with only an image gets a short reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from curation.models import ExchangeStatus
from tests.bot.conftest import Bot
from tests.bot.fakes import ScriptedModel

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LOG = "2026-03-01 ERROR vpn: certificate expired (code 0x80092013)\n"


def _screenshot(bot: Bot, user: str) -> dict[str, Any]:
    return bot.ws.upload(user, "screenshot.png", PNG, mimetype="image/png", filetype="png")


def _types(message: dict[str, Any]) -> list[str]:
    return [b["type"] for b in message.get("blocks", [])]


def test_a_direct_message_with_only_a_screenshot_gets_a_short_reply(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    channel = bot.ws.dm_channel(bot.alice)
    said = bot.driver.say(bot.alice, channel, "", files=[_screenshot(bot, bot.alice)])
    [reply] = bot.answered(said)
    assert "couldn't read screenshot.png (an image)" in reply["text"]
    assert scripted.requests == []  # nothing for the model to read
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.FAILED  # kept, and never answered twice
    bot.driver.deliver_event(
        {**said.message, "channel": channel, "channel_type": "im"},
        event_id=said.event_ids[0],
        retry_num=1,
    )
    bot.settle()
    assert len(bot.ws.bot_replies(channel, said.ts)) == 1


def test_a_question_with_a_screenshot_says_what_was_not_read(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    text = f"<@{bot.ws.bot.user_id}> What does this error mean?"
    said = bot.driver.say(bot.alice, bot.channel, text, files=[_screenshot(bot, bot.alice)])
    [reply] = bot.answered(said)
    prompt = scripted.requests[0]["messages"][-1]["content"]
    assert prompt.startswith("What does this error mean?")
    assert "not readable by the assistant: screenshot.png (an image)" in prompt
    assert _types(reply) == ["markdown", "context", "context_actions", "actions"]
    note = reply["blocks"][1]["elements"][0]["text"]
    assert note == "I couldn't read screenshot.png (an image), so I answered from your text only."


def test_a_plain_text_file_is_read_into_the_prompt(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    log_file = bot.ws.upload(
        bot.alice, "vpn.log", LOG.encode(), mimetype="text/plain", filetype="text"
    )
    text = f"<@{bot.ws.bot.user_id}> What does this error mean?"
    said = bot.driver.say(bot.alice, bot.channel, text, files=[log_file])
    [reply] = bot.answered(said)
    prompt = scripted.requests[0]["messages"][-1]["content"]
    assert prompt == f"What does this error mean?\n\nFile vpn.log:\n```\n{LOG.rstrip()}\n```"
    assert bot.exchanges()[0].prompt_messages[-1]["content"] == prompt  # stored as sent
    assert _types(reply) == ["markdown", "context_actions", "actions"]  # nothing left unread


def test_a_text_file_alone_is_the_question(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    log_file = bot.ws.upload(
        bot.alice, "vpn.log", LOG.encode(), mimetype="text/plain", filetype="text"
    )
    said = bot.driver.say(bot.alice, bot.ws.dm_channel(bot.alice), "", files=[log_file])
    bot.answered(said)
    assert "certificate expired" in scripted.requests[0]["messages"][-1]["content"]
