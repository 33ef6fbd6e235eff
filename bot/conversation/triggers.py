"""Which Slack messages are questions for the bot, and where they sit in a conversation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curation.capture import ConversationRef

#: Subtypes that are still a person writing; edits, joins, bot posts and the rest are not.
QUESTION_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def asked_by_person(event: Mapping[str, Any]) -> bool:
    """A new message a person wrote (not an edit, a deletion, a join or a bot's post)."""
    return (
        event.get("subtype") in QUESTION_SUBTYPES
        and not event.get("bot_id")
        and bool(event.get("user"))
        and bool(str(event.get("text") or "").strip())
    )


def thread_root(event: Mapping[str, Any]) -> str:
    """The ts of the thread the reply goes in: the message's thread, or the message itself."""
    return str(event.get("thread_ts") or event["ts"])


def in_existing_thread(event: Mapping[str, Any]) -> bool:
    return bool(event.get("thread_ts")) and event.get("thread_ts") != event.get("ts")


def is_direct_message(event: Mapping[str, Any]) -> bool:
    return event.get("channel_type") == "im"


def conversation_ref(
    event: Mapping[str, Any], *, team_id: str, event_id: str | None
) -> ConversationRef:
    return ConversationRef(
        channel_id=str(event["channel"]),
        message_ts=str(event["ts"]),
        thread_ts=thread_root(event),
        user_id=str(event.get("user", "")),
        team_id=team_id,
        event_id=event_id,
    )
