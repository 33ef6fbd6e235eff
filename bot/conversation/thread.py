"""A Slack thread as conversation turns: the bot's messages are the assistant's turns.

conversations.replies lists a thread oldest first, so every page is read and the newest kept
(the prompt budget later keeps the newest turns that fit). Other bots' posts, apologies and
joins are not part of the conversation; the bot's mention is taken out of people's text.

The bot's own replies are its turns as the model wrote them: the stored reply of the
exchange each message shows (one turn for a reply posted as several messages), not the text
Slack gives back, which is the posted page (links rewritten, fences closed and reopened) and
is escaped, or not, as Slack sees fit: unescaping it would change code such as `&amp;`. A
message of the bot's that no stored reply covers is read from Slack as before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks.ids import APOLOGY_EVENT
from bot.blocks.text import unescape
from bot.conversation.triggers import QUESTION_SUBTYPES
from bot.replies.turns import Turn
from curation.capture import Reply
from curation.outage import StoreUnavailable

log = logging.getLogger("tuneloop.bot.thread")

PAGE_SIZE = 200
MAX_PAGES = 50


Readable = Callable[[str], str]
#: The bot's stored replies in a thread, by the ts of each message that shows one
#: (`curation.capture.Capture.thread_replies`).
OwnReplies = Mapping[str, Reply]


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
    own: OwnReplies | None = None,
) -> list[Turn]:
    """The thread's messages up to `upto_ts` as turns, oldest first; the bot's messages that
    `own` covers as their stored reply, once per reply."""
    turns: list[Turn] = []
    limit = float(upto_ts)
    own = own or {}
    told: set[int] = set()  # exchanges whose reply is a turn already
    for message in sorted(messages, key=lambda m: float(m["ts"])):
        if float(message["ts"]) > limit:
            continue
        if (message.get("metadata") or {}).get("event_type") == APOLOGY_EVENT:
            continue
        ours = message.get("user") == bot_user_id
        if not ours and (message.get("bot_id") or message.get("subtype") not in QUESTION_SUBTYPES):
            continue
        reply = own.get(str(message["ts"])) if ours else None
        if reply is not None:
            if reply.exchange_id in told:
                continue  # a later page of a reply that is a turn already
            told.add(reply.exchange_id)
            text = reply.text if reply.text.strip() else ""
        else:
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
    own: OwnReplies | None = None,
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
    return to_turns(messages, bot_user_id=bot_user_id, upto_ts=upto_ts, readable=readable, own=own)


def question_turns(
    client: WebClient,
    event: Mapping[str, Any],
    *,
    bot_user_id: str,
    max_messages: int,
    readable: Readable = _as_is,
    own_replies: Callable[[], OwnReplies] | None = None,
) -> list[Turn]:
    """The turns for answering `event`: the whole thread when it is in one, else the message;
    `own_replies` gives the bot's stored replies in the thread (asked only for a thread).

    A failure to read the thread (a missing scope, say) costs the context, not the answer;
    a failure to read the stored replies costs their exact text (Slack's is used).
    """
    question = Turn("user", clean_text(str(event.get("text") or ""), bot_user_id, readable))
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts"):
        return [question]
    own: OwnReplies = {}
    if own_replies is not None:
        try:
            own = own_replies()
        except (StoreUnavailable, SQLAlchemyError) as error:
            log.warning("could not read the bot's replies in thread %s: %s", thread_ts, error)
    try:
        turns = thread_turns(
            client,
            channel=str(event["channel"]),
            thread_ts=str(thread_ts),
            upto_ts=str(event["ts"]),
            bot_user_id=bot_user_id,
            max_messages=max_messages,
            readable=readable,
            own=own,
        )
    except SlackApiError as error:
        log.warning("could not read thread %s: %s", thread_ts, error.response.get("error"))
        return [question]
    if not turns or turns[-1] != question:
        turns.append(question)  # the thread read may lag the event; the question must be last
    return turns
