"""Which Slack messages are questions for the bot, and where they sit in a conversation."""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from curation.capture import ConversationRef

#: Subtypes that are still a person writing; edits, joins, bot posts and the rest are not.
QUESTION_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def asked_by_person(event: Mapping[str, Any]) -> bool:
    """A new message a person wrote, with text or files (not an edit, a deletion, a join or a
    bot's post)."""
    return (
        event.get("subtype") in QUESTION_SUBTYPES
        and not event.get("bot_id")
        and bool(event.get("user"))
        and (bool(str(event.get("text") or "").strip()) or bool(event.get("files")))
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


#: A mention of a person (`<@U123>`), a user group (`<!subteam^S123>`) or everyone at once.
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>|<!(subteam\^[A-Z0-9]+|here|channel|everyone)")


def mentioned(text: str) -> list[str]:
    """Who a message mentions: user ids, `subteam^S…`, `here`, `channel`, `everyone`."""
    return [user or group for user, group in _MENTION.findall(text or "")]


class FollowUpRule(enum.StrEnum):
    """Which messages in a thread the bot answered are for the bot without a mention."""

    ASKER = "asker"  # the people who asked the bot in this thread, mentioning nobody else
    ANYONE = "anyone"  # anyone in the thread, mentioning nobody else
    MENTION = "mention"  # nobody: every question mentions the bot


@dataclass(frozen=True)
class FollowUps:
    """The thread rule: in a thread the bot has answered, a message without the bot's
    mention is for the bot only if it mentions nobody else (people who mention a colleague,
    a group or @here are talking to them) and `rule` lets its author go on unprompted.
    A message that mentions the bot is always for the bot."""

    rule: FollowUpRule = FollowUpRule.ASKER

    def allows(
        self, event: Mapping[str, Any], askers: Collection[str], *, bot_user_id: str
    ) -> bool:
        if self.rule is FollowUpRule.MENTION:
            return False
        if any(who != bot_user_id for who in mentioned(str(event.get("text") or ""))):
            return False
        return self.rule is FollowUpRule.ANYONE or event.get("user") in askers
