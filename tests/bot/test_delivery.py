"""How replies reach Slack: chat streaming, post-then-update where streaming is missing, and
Slack's limits (3,000 characters per section, 50 blocks per message) for long replies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.blocks.reply import MESSAGE_BLOCK_LIMIT, TRUNCATED_NOTE, text_blocks
from bot.blocks.text import SECTION_LIMIT
from bot.conversation.delivery import (
    CUT_NOTE,
    MAX_REPLY_CHARS,
    DeliveryOptions,
    SlackReplySink,
    StreamingSwitch,
)
from tests.bot.conftest import Bot
from tests.bot.fakes import ScriptedModel
from tuneloop.local_slack import LocalSlackServer, Workspace


def _long_text(chars: int) -> str:
    paragraph = "Step {n}: open Workday, choose Time Off, pick the dates and submit the request. "
    text, n = "", 0
    while len(text) < chars:
        n += 1
        text += paragraph.format(n=n) + ("\n\n" if n % 5 == 0 else "")
    return text[:chars]


def _sections(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]


def _ask(bot: Bot, question: str = "How do I book leave?") -> dict[str, Any]:
    [reply] = bot.answered(bot.ask(question))
    return reply


def test_a_short_reply_is_posted_whole_with_its_controls(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    reply = _ask(bot)
    assert reply["text"] == "Scripted answer."
    assert [b["type"] for b in reply["blocks"]] == ["section", "context_actions", "actions"]
    assert bot.ws.calls_to("chat.startStream") == []  # nothing to stream: it came whole
    assert bot.exchanges()[0].reply_ts == reply["ts"]


def test_a_reply_streams_and_ends_with_its_controls(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = _long_text(5000)
    bot = make_bot(openai_client=scripted.client())
    reply = _ask(bot)
    assert reply["text"] == scripted.reply
    assert len(bot.ws.calls_to("chat.startStream")) == 1
    assert len(bot.ws.calls_to("chat.appendStream")) >= 5  # it grew while being written
    [stop] = bot.ws.calls_to("chat.stopStream")
    assert [b["type"] for b in stop.args["blocks"]] == ["context_actions", "actions"]
    assert bot.ws.calls_to("chat.postMessage") == []
    assert bot.exchanges()[0].reply_ts == reply["ts"]


def test_without_streaming_the_reply_is_posted_then_updated(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = "**Book leave** in [Workday](https://workday.example) under Time Off. " * 5
    bot = make_bot(openai_client=scripted.client())
    bot.ws.faults.streaming_available = False
    first = _ask(bot)
    [section] = _sections(first)
    assert section.startswith("*Book leave* in <https://workday.example|Workday> under Time Off.")
    assert [b["type"] for b in first["blocks"]][-2:] == ["context_actions", "actions"]
    assert len(bot.ws.calls_to("chat.postMessage")) == 1
    assert len(bot.ws.calls_to("chat.update")) == 1  # the rest and the controls, at the end
    second = _ask(bot, "And sick days?")
    assert second["blocks"][-1]["type"] == "actions"
    assert len(bot.ws.calls_to("chat.startStream")) == 1  # not tried again after unknown_method
    assert bot.exchanges()[-1].reply_ts == second["ts"]


def test_a_long_reply_is_split_into_sections_within_slacks_limits(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = _long_text(10_000)
    bot = make_bot(openai_client=scripted.client())
    bot.ws.faults.streaming_available = False
    reply = _ask(bot)
    sections = _sections(reply)
    assert len(sections) >= 4
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    assert " ".join(" ".join(s.split()) for s in sections) == " ".join(scripted.reply.split())


def test_a_reply_longer_than_a_message_holds_is_cut_with_a_note(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = _long_text(200_000)
    bot = make_bot(openai_client=scripted.client())
    bot.ws.faults.streaming_available = False
    reply = _ask(bot)
    sections = _sections(reply)
    assert len(reply["blocks"]) <= MESSAGE_BLOCK_LIMIT
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    assert sections[-1].endswith(CUT_NOTE.strip())
    assert bot.exchanges()[0].reply == scripted.reply  # what the model said, in full


def test_text_blocks_never_exceed_the_message_block_limit() -> None:
    blocks = text_blocks(_long_text(200_000))
    assert len(blocks) == MESSAGE_BLOCK_LIMIT - 2  # room left for the two control blocks
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks)
    assert blocks[-1]["text"]["text"].endswith(TRUNCATED_NOTE)


def test_a_streamed_reply_longer_than_a_message_holds_is_cut_with_a_note(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = _long_text(MAX_REPLY_CHARS + 5000)
    bot = make_bot(openai_client=scripted.client())
    reply = _ask(bot)
    assert reply["text"] == scripted.reply[:MAX_REPLY_CHARS] + CUT_NOTE


def test_a_stream_that_breaks_is_finished_by_updating_the_same_message(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = _long_text(3000)
    bot = make_bot(openai_client=scripted.client())
    bot.ws.faults.fail_next("chat.appendStream", "internal_error")
    said = bot.ask("How do I book leave?")
    [reply] = bot.answered(said)
    assert len(bot.ws.bot_replies(said.channel, said.ts, finished=False)) == 1
    assert " ".join(" ".join(_sections(reply)).split()) == " ".join(scripted.reply.split())
    assert reply["blocks"][-1]["type"] == "actions"
    assert len(bot.ws.calls_to("chat.startStream")) == 1


# --- the sink on its own, with a clock the test moves -------------------------------------------
def test_post_then_update_updates_at_most_once_per_interval(slack_server: LocalSlackServer) -> None:
    ws = Workspace()
    slack_server.workspace = ws
    alice = ws.add_user("alice")
    channel = ws.add_channel("help", members=[alice])
    question = ws.post(channel, user=alice, text="How?")
    now = [0.0]
    sink = SlackReplySink(
        WebClient(token=ws.bot.token, base_url=slack_server.api_url),
        channel=channel,
        thread_ts=question["ts"],
        user_id=alice,
        team_id=ws.team_id,
        streaming=StreamingSwitch(False),
        options=DeliveryOptions(buffer_chars=10, update_interval_s=1.0),
        clock=lambda: now[0],
    )
    sink.thinking()
    for step in range(40):  # 40 pieces over 4 seconds
        now[0] = step * 0.1
        sink.write(f"piece {step} ")
    ts = sink.settle()
    assert ts is not None  # long enough to have been posted while it was written
    assert sink.finish(7) == ts
    assert len(ws.calls_to("chat.postMessage")) == 1
    assert 3 <= len(ws.calls_to("chat.update")) <= 6  # not one per piece
    final = ws.message(channel, ts or "")
    assert final is not None and final["text"].endswith("piece 39 ")
    assert final["blocks"][-1]["elements"][0]["value"] == "7"
    assert (channel, question["ts"]) not in ws.statuses
