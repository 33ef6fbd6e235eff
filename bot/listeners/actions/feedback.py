"""👍/👎 on a reply (`feedback_buttons`). Slack sends an action on every click and has no
"unclick", so the store makes each (reply, person, kind) count once; a first 👎 gets a
private nudge to correct the answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import ids
from bot.blocks.feedback import flag_thanks
from bot.deps import Deps
from curation.errors import CurationError
from curation.models import FeedbackKind

log = logging.getLogger("tuneloop.bot.feedback")

KINDS = {ids.FEEDBACK_UP: FeedbackKind.THUMBS_UP, ids.FEEDBACK_DOWN: FeedbackKind.THUMBS_DOWN}


def parse_feedback(value: str) -> tuple[FeedbackKind, int] | None:
    """`up:12` -> (thumbs up, exchange 12)."""
    direction, _, exchange = value.partition(":")
    if direction not in KINDS or not exchange.isdigit():
        return None
    return KINDS[direction], int(exchange)


def feedback_listener(deps: Deps) -> Callable[..., None]:
    def handle_feedback(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        parsed = parse_feedback(str(action.get("value", "")))
        if parsed is None:
            log.warning("ignoring feedback with value %r", action.get("value"))
            return
        kind, exchange_id = parsed
        user = body["user"]["id"]
        try:
            _, _, created = deps.store.capture.add_feedback(exchange_id, user, kind)
        except CurationError as error:
            log.warning("feedback on exchange %s refused: %s", exchange_id, error)
            return
        if created and kind is FeedbackKind.THUMBS_DOWN:
            container = body.get("container", {})
            try:
                client.chat_postEphemeral(
                    channel=container["channel_id"],
                    user=user,
                    thread_ts=container.get("thread_ts") or container.get("message_ts"),
                    text="Thanks for the flag. Do you know the right answer?",
                    blocks=flag_thanks(exchange_id),
                )
            except SlackApiError as error:
                log.warning("could not thank %s for the flag: %s", user, error.response["error"])

    return handle_feedback


def register(app: App, deps: Deps) -> None:
    app.action(ids.FEEDBACK_ACTION)(feedback_listener(deps))
