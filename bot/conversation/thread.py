"""A Slack thread as conversation turns: the bot's messages are the assistant's turns.

conversations.replies lists a thread oldest first, so every page is read and the newest kept
(the prompt budget later keeps the newest turns that fit). Other bots' posts, apologies and
joins are not part of the conversation; the bot's mention is taken out of people's text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.ids import APOLOGY_EVENT
from bot.blocks.text import unescape
from bot.conversation.triggers import QUESTION_SUBTYPES
from bot.replies.turns import Turn

log = logging.getLogger("tuneloop.bot.thread")

PAGE_SIZE = 200
MAX_PAGES = 50


Readable = Callable[[str], str]


def _as_is(text: str) -> str:
    return text


def clean_text(text: str, bot_user_id: str, readable: Readable = _as_is) -> str:
    """Without the bot's mention and Slack's escaping; other mentions made `readable` (names
    for ids, `bot.conversation.names`) before unescaping, so text a person typed as `<@U1>`
    (which Slack escapes) is never taken for a mention."""
    text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", "", text or "")
    return unescape(readable(text)).strip()


def to_turns(
    messages: Iterable[Mapping[str, Any]],
    *,
    bot_user_id: str,
    upto_ts: str,
    readable: Readable = _as_is,
) -> list[Turn]:
    turns: list[Turn] = []
    limit = float(upto_ts)
    for message in sorted(messages, key=lambda m: float(m["ts"])):
        if float(message["ts"]) > limit:
            continue
        if (message.get("metadata") or {}).get("event_type") == APOLOGY_EVENT:
            continue
        ours = message.get("user") == bot_user_id
        if not ours and (message.get("bot_id") or message.get("subtype") not in QUESTION_SUBTYPES):
            continue
        text = clean_text(str(message.get("text") or ""), bot_user_id, readable)
        if text:
            turns.append(Turn("assistant" if ours else "user", text))
    return turns


def thread_turns(
    client: WebClient,
    *,
    channel: str,
    thread_ts: str,
    upto_ts: str,
    bot_user_id: str,
    max_messages: int,
    readable: Readable = _as_is,
) -> list[Turn]:
    """The thread up to and including `upto_ts`, as turns (at most the newest `max_messages`)."""
    messages: list[Mapping[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = client.conversations_replies(
            channel=channel,
            ts=thread_ts,
            latest=upto_ts,
            inclusive=True,
            limit=PAGE_SIZE,
            cursor=cursor,
            include_all_metadata=True,
        )
        messages.extend(page.get("messages") or [])
        messages = messages[-max_messages:]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            break
    return to_turns(messages, bot_user_id=bot_user_id, upto_ts=upto_ts, readable=readable)


def question_turns(
    client: WebClient,
    event: Mapping[str, Any],
    *,
    bot_user_id: str,
    max_messages: int,
    readable: Readable = _as_is,
) -> list[Turn]:
    """The turns for answering `event`: the whole thread when it is in one, else the message.

    A failure to read the thread (a missing scope, say) costs the context, not the answer.
    """
    question = Turn("user", clean_text(str(event.get("text") or ""), bot_user_id, readable))
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts"):
        return [question]
    try:
        turns = thread_turns(
            client,
            channel=str(event["channel"]),
            thread_ts=str(thread_ts),
            upto_ts=str(event["ts"]),
            bot_user_id=bot_user_id,
            max_messages=max_messages,
            readable=readable,
        )
    except SlackApiError as error:
        log.warning("could not read thread %s: %s", thread_ts, error.response.get("error"))
        return [question]
    if not turns or turns[-1] != question:
        turns.append(question)  # the thread read may lag the event; the question must be last
    return turns
