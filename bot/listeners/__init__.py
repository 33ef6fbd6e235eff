"""Bolt listeners by kind, each package with a `register(app, deps)` (Slack's sample layout)."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.listeners import actions, commands, events, shortcuts, views


def register_listeners(app: App, deps: Deps) -> None:
    events.register(app, deps)
    actions.register(app, deps)
    shortcuts.register(app, deps)
    views.register(app, deps)
    commands.register(app, deps)
