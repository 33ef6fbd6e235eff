"""Opening the App Home tab shows the review queue (reviewers) or a short guide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.deps import Deps
from bot.home import publish_home


def app_home_listener(deps: Deps) -> Callable[..., None]:
    def handle_app_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            publish_home(client, deps, event["user"])

    return handle_app_home_opened


def register(app: App, deps: Deps) -> None:
    app.event("app_home_opened")(app_home_listener(deps))
