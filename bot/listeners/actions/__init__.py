"""Block action listeners: reply feedback and corrections, reviewer decisions."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.listeners.actions import correct, feedback, review


def register(app: App, deps: Deps) -> None:
    feedback.register(app, deps)
    correct.register(app, deps)
    review.register(app, deps)
