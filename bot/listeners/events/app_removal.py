"""`app_uninstalled` and `tokens_revoked`: the app was removed from the workspace, or its tokens
were revoked. Nothing the bot calls will work any more; whoever runs it must be told."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App


def register_app_removal(app: App, on_removed: Callable[[str], None]) -> None:
    """Call `on_removed(reason)` (the event's type and, for `tokens_revoked`, the kinds of token)
    when Slack says the app lost its access."""

    def handle_app_uninstalled() -> None:
        on_removed("app_uninstalled: the app was removed from the workspace")

    def handle_tokens_revoked(event: dict[str, Any]) -> None:
        kinds = sorted((event.get("tokens") or {}).keys())
        on_removed(
            f"tokens_revoked: the app's {' and '.join(kinds) or 'tokens'} tokens were revoked"
        )

    app.event("app_uninstalled")(handle_app_uninstalled)
    app.event("tokens_revoked")(handle_tokens_revoked)
