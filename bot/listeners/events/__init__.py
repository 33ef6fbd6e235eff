"""Events API listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.listeners.events import app_home, assistant, deletions, messages, reactions


def register(app: App, deps: Deps) -> None:
    deletions.register(app, deps)
    messages.register(app, deps)
    reactions.register(app, deps)
    app_home.register(app, deps)
    assistant.register(app, deps)
