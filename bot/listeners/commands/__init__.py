"""Slash command listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.listeners.commands import tuneloop


def register(app: App, deps: Deps) -> None:
    tuneloop.register(app, deps)
