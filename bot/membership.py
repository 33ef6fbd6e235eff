"""Who may see a conversation: its members, as Slack's `conversations.members` lists them.

The correction modal shows a question and the bot's answer. Whoever opens it must be a member
of the conversation the answer was given in (the channel, private channel, group DM or DM the
exchange was recorded in, not whatever channel a click claims), or it would show a
conversation to someone outside it. Members of a public channel count, not everyone who could
browse it: a person outside the channel joins it to correct its answers. A failed read
(`channel_not_found` when the bot was removed, a missing scope, an outage) counts as not a
member: the modal stays closed rather than risk showing the conversation.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("tuneloop.bot.membership")

#: Members per page (Slack allows up to 1,000).
PAGE_SIZE = 1000


def is_member(client: WebClient, channel: str, user: str) -> bool:
    """Whether `user` is a member of `channel`, read page by page (a large channel stops at
    the page that names them); False when Slack cannot say."""
    cursor: str | None = None
    try:
        while True:
            page = client.conversations_members(channel=channel, limit=PAGE_SIZE, cursor=cursor)
            if user in (page.get("members") or []):
                return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return False
    except SlackApiError as error:
        log.warning(
            "could not read the members of %s (%s); treating %s as outside it",
            channel,
            error.response.get("error"),
            user,
        )
        return False
