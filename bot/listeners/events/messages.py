"""Questions: a mention anywhere, any message in a direct message, and a reply in a thread
the bot already answered. The listener only decides and hands over; the reply runs on the
reply workers (bot.conversation.responder)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.conversation.responder import Question
from bot.conversation.triggers import asked_by_person, in_existing_thread, is_direct_message
from bot.deps import Deps

Listener = Callable[..., None]


def _question(
    body: dict[str, Any], event: dict[str, Any], context: BoltContext, **kw: Any
) -> Question:
    team_id = str(context.team_id or body.get("team_id") or "")
    return Question(
        event=event,
        team_id=team_id,
        event_id=body.get("event_id"),
        bot_user_id=str(context.bot_user_id or ""),
        # Slack Connect: a guest's messages carry their own team (`user_team`, or `team`).
        user_team_id=str(event.get("user_team") or event.get("team") or team_id),
        **kw,
    )


def app_mention_listener(deps: Deps) -> Listener:
    def handle_app_mention(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        if asked_by_person(event):
            deps.responder.submit(client, _question(body, event, context))

    return handle_app_mention


def message_listener(deps: Deps) -> Listener:
    def handle_message(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        # Every message event lands here, so edits, joins and bot posts are acknowledged (and
        # ignored) rather than left unhandled, which Slack would retry.
        if not asked_by_person(event):
            return
        if is_direct_message(event):
            deps.responder.submit(client, _question(body, event, context))
        elif in_existing_thread(event):
            question = _question(body, event, context, only_as_follow_up=True)
            deps.responder.submit(client, question)

    return handle_message


def register(app: App, deps: Deps) -> None:
    app.event("app_mention")(app_mention_listener(deps))
    app.event("message")(message_listener(deps))
