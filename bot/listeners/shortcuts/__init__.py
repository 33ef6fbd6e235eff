"""Shortcut listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.listeners.shortcuts import correct


def register(app: App, deps: Deps) -> None:
    correct.register(app, deps)
