"""The state of the bot's link with Slack, for `/healthz` and the logs.

`connected` / `reconnecting` in Socket Mode, `http` when Slack calls the bot, `stopping`
while the process drains; `revoked` (the app was uninstalled or its tokens revoked, or Slack
refused the app-level token) and `disabled` (Socket Mode was turned off for the app) are final:
no reconnection is tried, and the health check fails until someone fixes the app and restarts.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

log = logging.getLogger("tuneloop.slack")

State = Literal["starting", "connected", "reconnecting", "http", "stopping", "revoked", "disabled"]
FINAL: frozenset[State] = frozenset({"revoked", "disabled"})


class SlackLink:
    """Thread-safe; once final, the state no longer changes."""

    def __init__(self, state: State = "starting") -> None:
        self._lock = threading.Lock()
        self._state: State = state
        self._reason: str | None = None

    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def set(self, state: State, reason: str | None = None) -> None:
        with self._lock:
            if self._state in FINAL or (self._state == "stopping" and state not in FINAL):
                return
            self._state, self._reason = state, reason

    def lost(self, state: Literal["revoked", "disabled"], reason: str) -> None:
        """The app can no longer hear from Slack: say so once, loudly, with what to do."""
        with self._lock:
            if self._state in FINAL:
                return
            self._state, self._reason = state, reason
        log.error(
            "Slack connection %s: %s. The bot no longer receives events and will not retry; "
            "reinstall the app (or create a new app-level token) and restart tuneloop.",
            state,
            reason,
        )

    def health(self) -> dict[str, Any]:
        """`slack_connection` (and `slack_connection_reason` when there is one) for /healthz."""
        with self._lock:
            details: dict[str, Any] = {"slack_connection": self._state}
            if self._reason:
                details["slack_connection_reason"] = self._reason
            return details
