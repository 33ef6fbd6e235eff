"""How replies reach Slack: standard Markdown in `markdown` blocks and chat streaming, pages
for replies longer than a message holds, post-then-update where streaming is missing, and
the local workspace holding the bot to Slack's markdown limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from markdown_it import MarkdownIt
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import BotConfig
from bot.blocks.markdown import MARKDOWN_LIMIT, split_markdown
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

FIELD_CASE_CODE = (
    "```bash\n# install the dependencies\npip install -r requirements.txt\n```\n\n"
    "Then call `merge(**defaults, **overrides)`."
)


def _long_text(chars: int) -> str:
    paragraph = "Step {n}: open Workday, choose Time Off, pick the dates and submit the request. "
    text, n = "", 0
    while len(text) < chars:
        n += 1
        text += paragraph.format(n=n) + ("\n\n" if n % 5 == 0 else "")
    return text[:chars]


def _sql_block(chars: int) -> str:
    lines, n = ["```sql\n"], 0
    while sum(map(len, lines)) < chars:
        n += 1
        lines.append(f"SELECT id, **name** FROM leave_{n} WHERE days > {n}; -- # not a heading\n")
    return "".join(lines) + "```\n"


def _code(markdown: str) -> str:
    """The text of every fenced code block, as a Markdown renderer reads them."""
    return "".join(t.content for t in MarkdownIt("commonmark").parse(markdown) if t.type == "fence")


def _markdown(message: dict[str, Any]) -> str:
    return "".join(b["text"] for b in message["blocks"] if b["type"] == "markdown")


def _types(message: dict[str, Any]) -> list[str]:
    return [b["type"] for b in message.get("blocks", [])]


def _ask(bot: Bot, question: str = "How do I book leave?") -> dict[str, Any]:
    [reply] = bot.answered(bot.ask(question))
    return reply


def test_a_short_reply_is_posted_whole_as_markdown_with_its_controls(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    reply = _ask(bot)
    assert _types(reply) == ["markdown", "context_actions", "actions"]
    assert _markdown(reply) == "Scripted answer."
    assert bot.ws.calls_to("chat.startStream") == []  # nothing to stream: it came whole
    assert bot.exchanges()[0].reply_ts == reply["ts"]


@pytest.mark.parametrize("streaming", [True, False])
def test_code_arrives_byte_for_byte(
    make_bot: Callable[..., Bot], scripted: ScriptedModel, streaming: bool
) -> None:
    """Field case "Code rewritten": a comment in a bash block is not a heading, and
    `**defaults` keeps both stars, posted whole (under the stream buffer) or not."""
    scripted.reply = FIELD_CASE_CODE
    bot = make_bot(openai_client=scripted.client(), config=BotConfig(streaming=streaming))
    reply = _ask(bot)
    assert _markdown(reply) == FIELD_CASE_CODE
    assert bot.exchanges()[0].reply == FIELD_CASE_CODE


def test_a_streamed_reply_is_markdown_text_and_ends_with_its_controls(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = FIELD_CASE_CODE + "\n\n" + _long_text(5000)
    bot = make_bot(openai_client=scripted.client())
    reply = _ask(bot)
    assert reply["text"] == scripted.reply
    [start] = bot.ws.calls_to("chat.startStream")
    appends = bot.ws.calls_to("chat.appendStream")
    assert len(appends) >= 5  # it grew while being written
    [stop] = bot.ws.calls_to("chat.stopStream")
    sent = [start.args["markdown_text"], *(a.args["markdown_text"] for a in appends)]
    assert "".join(sent) + stop.args.get("markdown_text", "") == scripted.reply
    assert [b["type"] for b in stop.args["blocks"]] == ["context_actions", "actions"]
    assert bot.ws.calls_to("chat.postMessage") == []
    assert bot.exchanges()[0].reply_ts == reply["ts"]


def test_without_streaming_the_reply_is_posted_then_updated_as_markdown(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = "**Book leave** in [Workday](https://workday.example) under Time Off. " * 5
    bot = make_bot(openai_client=scripted.client())
    bot.ws.faults.streaming_available = False
    first = _ask(bot)
    assert _markdown(first) == scripted.reply  # standard Markdown, as the model wrote it
    assert _types(first) == ["markdown", "context_actions", "actions"]
    assert len(bot.ws.calls_to("chat.postMessage")) == 1
    assert len(bot.ws.calls_to("chat.update")) == 1  # the rest and the controls, at the end
    second = _ask(bot, "And sick days?")
    assert second["blocks"][-1]["type"] == "actions"
    assert len(bot.ws.calls_to("chat.startStream")) == 1  # not tried again after unknown_method
    assert bot.exchanges()[-1].reply_ts == second["ts"]


def test_slack_links_become_markdown_links_and_mentions_stay(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    scripted.reply = (
        f"Ask <@{bot.reviewer}> in <#{bot.channel}>, or read <https://wiki.example/leave|the "
        "leave guide>. Literal: `<https://x.example|y>`."
    )
    reply = _ask(bot)
    assert _markdown(reply) == (
        f"Ask <@{bot.reviewer}> in <#{bot.channel}>, or read [the leave guide]"
        "(https://wiki.example/leave). Literal: `<https://x.example|y>`."
    )
    assert bot.exchanges()[0].reply == scripted.reply  # stored as the model said it


def test_a_long_code_block_without_streaming_stays_one_message(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    """Field case "Fence split": 5,900 characters of SQL fit one markdown block whole."""
    scripted.reply = "Here is the report query:\n\n" + _sql_block(5900)
    bot = make_bot(openai_client=scripted.client(), config=BotConfig(streaming=False))
    reply = _ask(bot)
    assert _markdown(reply) == scripted.reply
    assert _types(reply) == ["markdown", "context_actions", "actions"]


def test_a_reply_longer_than_a_message_continues_with_the_fence_reopened(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = "The whole migration:\n\n" + _sql_block(30_000) + "\nRun it at night."
    bot = make_bot(openai_client=scripted.client(), config=BotConfig(streaming=False))
    said = bot.ask("Give me the migration")
    bot.settle()
    pages = bot.ws.bot_replies(said.channel, said.ts)
    assert len(pages) == 3
    texts = [_markdown(page) for page in pages]
    assert all(len(text) <= MARKDOWN_LIMIT for text in texts)
    assert all(text.count("```") % 2 == 0 for text in texts)  # every page closes its fence
    assert texts[1].startswith("```sql\n") and texts[2].startswith("```sql\n")
    assert "".join(_code(text) for text in texts) == _code(scripted.reply)  # byte for byte
    assert _types(pages[-1]) == ["markdown", "context_actions", "actions"]
    assert all(_types(page) == ["markdown"] for page in pages[:-1])
    assert bot.exchanges()[0].reply_ts == pages[-1]["ts"]  # the message with the controls


def test_split_markdown_keeps_every_code_line_and_fits_the_limit() -> None:
    text = "Intro\n\n" + _sql_block(9000) + "\n~~~~python\n" + "x = 1\n" * 900 + "~~~~\nEnd\n"
    pages = split_markdown(text, 3000)
    assert all(len(page) <= 3000 for page in pages)
    assert "".join(_code(page) for page in pages) == _code(text)
    assert any(page.startswith("~~~~python\n") for page in pages)
    assert split_markdown("short", 3000) == ["short"]


def test_a_reply_longer_than_slack_takes_is_cut_with_a_note(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = _long_text(200_000)
    bot = make_bot(openai_client=scripted.client())
    bot.ws.faults.streaming_available = False
    said = bot.ask("Tell me everything")
    bot.settle()
    pages = bot.ws.bot_replies(said.channel, said.ts)
    assert all(len(_markdown(page)) <= MARKDOWN_LIMIT for page in pages)
    assert _markdown(pages[-1]).endswith(CUT_NOTE.strip())
    assert bot.exchanges()[0].reply == scripted.reply  # what the model said, in full


def test_a_streamed_reply_longer_than_slack_takes_is_cut_with_a_note(
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
    assert _markdown(reply) == scripted.reply
    assert reply["blocks"][-1]["type"] == "actions"
    assert len(bot.ws.calls_to("chat.startStream")) == 1


# --- the local workspace holds the bot to Slack's markdown limits -------------------------------
def _client(slack_server: LocalSlackServer) -> tuple[Workspace, WebClient, str]:
    ws = Workspace()
    slack_server.workspace = ws
    channel = ws.add_channel("help", members=[ws.add_user("alice")])
    return ws, WebClient(token=ws.bot.token, base_url=slack_server.api_url), channel


def test_the_workspace_refuses_markdown_over_slacks_limits(slack_server: LocalSlackServer) -> None:
    ws, client, channel = _client(slack_server)
    with pytest.raises(SlackApiError) as one_block:
        client.chat_postMessage(
            channel=channel, text="x", blocks=[{"type": "markdown", "text": "x" * 12_001}]
        )
    assert one_block.value.response["error"] == "invalid_blocks"
    halves = [{"type": "markdown", "text": "x" * 7000}, {"type": "markdown", "text": "y" * 7000}]
    with pytest.raises(SlackApiError) as in_all:
        client.chat_postMessage(channel=channel, text="x", blocks=halves)
    assert in_all.value.response["error"] == "msg_blocks_too_long"  # 12,000 for all together
    with pytest.raises(SlackApiError) as empty:
        client.chat_postMessage(channel=channel, text="x", blocks=[{"type": "markdown"}])
    assert empty.value.response["error"] == "invalid_blocks"
    posted = client.chat_postMessage(
        channel=channel, text="x", blocks=[{"type": "markdown", "text": "ok", "block_id": "b1"}]
    )
    assert ws.message(channel, posted["ts"])["blocks"] == [{"type": "markdown", "text": "ok"}]


# --- the sink on its own, with a clock the test moves -------------------------------------------
def test_post_then_update_updates_at_most_once_per_interval(slack_server: LocalSlackServer) -> None:
    ws, client, channel = _client(slack_server)
    alice = next(u for u in ws.users if ws.users[u]["name"] == "alice")
    question = ws.post(channel, user=alice, text="How?")
    now = [0.0]
    sink = SlackReplySink(
        client,
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


def test_streaming_to_a_slack_connect_guest_names_the_guests_team(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = _long_text(3000)
    bot = make_bot(openai_client=scripted.client())
    guest = bot.ws.add_user("gus", team_id="T0PARTNER1")
    bot.ws.channels[bot.channel].members.add(guest)
    said = bot.ask("How do I get a guest account?", user=guest)
    [reply] = bot.answered(said)
    assert reply["text"] == scripted.reply
    [start] = bot.ws.calls_to("chat.startStream")
    assert start.args["recipient_user_id"] == guest
    assert start.args["recipient_team_id"] == "T0PARTNER1"  # the guest's, not this workspace's
