"""View submission listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.listeners.views import correction, review


def register(app: App, deps: Deps) -> None:
    correction.register(app, deps)
    review.register(app, deps)
