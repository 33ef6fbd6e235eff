"""Opening the bot's agent/DM pane: Slack starts a thread; offer suggested prompts in it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps

log = logging.getLogger("tuneloop.bot.assistant")


def thread_started_listener(deps: Deps) -> Callable[..., None]:
    def handle_assistant_thread_started(event: dict[str, Any], client: WebClient) -> None:
        thread = event.get("assistant_thread") or {}
        prompts = [{"title": t, "message": m} for t, m in deps.config.suggested_prompts[:4]]
        if not prompts or not thread.get("channel_id"):
            return
        try:
            client.assistant_threads_setSuggestedPrompts(
                channel_id=thread["channel_id"],
                thread_ts=thread["thread_ts"],
                title="Try asking",
                prompts=prompts,
            )
        except SlackApiError as error:
            log.warning("could not suggest prompts: %s", error.response["error"])

    return handle_assistant_thread_started


def register(app: App, deps: Deps) -> None:
    app.event("assistant_thread_started")(thread_started_listener(deps))
    app.event("assistant_thread_context_changed")(lambda: None)
