"""Reactions as flags: :x: or 👎 on one of the bot's replies counts like a thumbs-down."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.deps import Deps
from curation.errors import CurationError
from curation.models import FeedbackKind

log = logging.getLogger("tuneloop.bot.reactions")

FLAG_REACTIONS = {
    "x": FeedbackKind.FLAG,
    "-1": FeedbackKind.THUMBS_DOWN,
    "thumbsdown": FeedbackKind.THUMBS_DOWN,
}


def reaction_kind(name: str) -> FeedbackKind | None:
    """The feedback a reaction means (skin tones aside), or None for any other reaction."""
    return FLAG_REACTIONS.get(name.split("::", 1)[0])


def reaction_listener(deps: Deps) -> Callable[..., None]:
    def handle_reaction_added(event: dict[str, Any]) -> None:
        kind = reaction_kind(str(event.get("reaction", "")))
        item = event.get("item") or {}
        if kind is None or item.get("type") != "message":
            return
        exchange = deps.store.capture.exchange_by_reply(item["channel"], item["ts"])
        if exchange is None or not exchange.has_reply:
            return
        try:
            deps.store.capture.add_feedback(exchange.id, event["user"], kind)
        except CurationError as error:
            log.warning("reaction on exchange %s refused: %s", exchange.id, error)

    return handle_reaction_added


def register(app: App, deps: Deps) -> None:
    app.event("reaction_added")(reaction_listener(deps))
    app.event("reaction_removed")(lambda: None)  # a flag stays a flag
