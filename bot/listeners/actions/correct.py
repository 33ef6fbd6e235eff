""" "Correct this answer": open the correction modal, prefilled with the reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks import ids
from bot.corrections import open_correction
from bot.deps import Deps


def correct_listener(deps: Deps) -> Callable[..., None]:
    def handle_correct(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        container = body.get("container", {})
        open_correction(
            client,
            deps,
            trigger_id=body["trigger_id"],
            user=body["user"]["id"],
            exchange_id=int(action["value"]),
            channel=container["channel_id"],
            thread_ts=container.get("thread_ts") or container["message_ts"],
        )

    return handle_correct


def register(app: App, deps: Deps) -> None:
    app.action(ids.CORRECT_ACTION)(correct_listener(deps))
