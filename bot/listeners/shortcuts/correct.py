"""The "Correct this answer" message shortcut: works on any of the bot's replies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks import ids
from bot.blocks.correction import not_correctable_modal
from bot.corrections import open_correction
from bot.deps import Deps


def correct_shortcut_listener(deps: Deps) -> Callable[..., None]:
    def handle_correct_shortcut(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        channel = shortcut["channel"]["id"]
        message = shortcut["message"]
        exchange = deps.store.capture.exchange_by_reply(channel, message["ts"])
        if exchange is None:
            client.views_open(
                trigger_id=shortcut["trigger_id"],
                view=not_correctable_modal("That message isn't one of my answers."),
            )
            return
        open_correction(
            client,
            deps,
            trigger_id=shortcut["trigger_id"],
            user=shortcut["user"]["id"],
            exchange_id=exchange.id,
            channel=channel,
            thread_ts=message.get("thread_ts") or message["ts"],
        )

    return handle_correct_shortcut


def register(app: App, deps: Deps) -> None:
    app.shortcut(ids.CORRECTION_SHORTCUT)(correct_shortcut_listener(deps))
