"""A deleted question is forgotten, and the bot's answer to it taken back.

Slack reports a deletion as a `message` event with subtype `message_deleted` (`deleted_ts`
names the message), or, for a thread's root that has replies, `message_changed` whose new
message is a `tombstone`. For a message that was a question to the bot:

- an answer still being written in this process stops (the model call is closed) and what
  was shown of it is deleted; on another replica, the answer stops being shown when that
  replica finds the tombstone as it records the reply;
- the store forgets the question (`curation.deletion`): its text leaves the exchange, the
  later prompts of its thread, the review queue and future exports; a tombstone stays;
- the bot's reply, when it was posted already, is deleted, every message of it (a long
  reply takes several), and so is the notice of a reply still waiting to be delivered: an
  answer to a question that is gone would keep what was asked in view (and Slack would show
  it in the channel).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.conversation.triggers import is_direct_message, mentioned
from bot.deps import Deps
from curation.capture import ConversationRef
from curation.deletion import forget_question

log = logging.getLogger("tuneloop.bot.deletions")


def deleted_message(event: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """(ts, the message as it was) when `event` deletes a message; None for anything else."""
    previous = event.get("previous_message") or {}
    if event.get("subtype") == "message_deleted":
        ts = event.get("deleted_ts") or previous.get("ts")
        return (str(ts), previous) if ts else None
    if event.get("subtype") == "message_changed":
        message = event.get("message") or {}
        if message.get("subtype") == "tombstone" and message.get("ts"):
            return str(message["ts"]), previous
    return None


def deletion_listener(deps: Deps) -> Callable[..., None]:
    def handle_deletion(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        found = deleted_message(event)
        if found is None:
            return  # an edit: the question stands as first asked
        ts, previous = found
        if previous.get("bot_id") or not previous.get("user"):
            return  # the bot's own message (its replies, taken back by itself)
        channel = str(event["channel"])
        team_id = str(context.team_id or body.get("team_id") or "")
        thread_ts = str(previous.get("thread_ts") or ts)
        withdrawn_here = deps.responder.withdraw(channel, ts)
        bot_user_id = str(context.bot_user_id or "")
        was_question = (
            withdrawn_here
            or is_direct_message(event)
            or bot_user_id in mentioned(str(previous.get("text") or ""))
            or deps.store.capture.thread_has_exchange(team_id, channel, thread_ts)
        )
        ref = ConversationRef(channel, ts, thread_ts, str(previous["user"]), team_id)
        forgotten = forget_question(deps.store.db, ref, was_question=was_question)
        if forgotten is None:
            return
        log.info(
            "question %s/%s was deleted: exchange %s forgotten", channel, ts, forgotten.exchange_id
        )
        if withdrawn_here:
            return  # the answer under way took back what it showed
        for shown in forgotten.shown_ts:
            try:
                client.chat_delete(channel=channel, ts=shown)
            except SlackApiError as error:
                log.warning(
                    "could not delete message %s of the reply to deleted question %s: %s",
                    shown,
                    ts,
                    error.response.get("error"),
                )

    return handle_deletion


def register(app: App, deps: Deps) -> None:
    """Before the general `message` listener: Bolt runs the first listener that matches."""
    handler = deletion_listener(deps)
    app.event({"type": "message", "subtype": "message_deleted"})(handler)
    app.event({"type": "message", "subtype": "message_changed"})(handler)
