"""The one error the serving side raises, naming the adapter and what the server said."""

from __future__ import annotations

from scheduler.errors import SchedulerError


class ServingError(SchedulerError):
    """The server refused (or could not be asked) to load or unload an adapter.

    `adapter` is the adapter's name (None for a request about no single adapter, such as
    listing the served models); `server_message` is the server's own words, or why it could
    not be reached.
    """

    def __init__(self, adapter: str | None, action: str, server_message: str) -> None:
        self.adapter = adapter
        self.action = action
        self.server_message = server_message
        subject = f"adapter {adapter!r}" if adapter is not None else "the served models"
        super().__init__(f"Could not {action} {subject}: {server_message}")
