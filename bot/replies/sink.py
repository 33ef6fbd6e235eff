"""Where a reply goes while it is written. Slack's implementation is bot.conversation.delivery;
the reply service only knows this protocol, so it never touches the Slack SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ReplySink(Protocol):
    def thinking(self) -> None:
        """Show that the model is working (Slack: the thread's "is thinking..." status)."""

    def write(self, text: str) -> None:
        """Add the next piece of the reply."""

    def settle(self) -> str | None:
        """The reply is complete: its message id (ts) if part of it is shown already, else
        None. Nothing new appears (the exchange is recorded next)."""

    def finish(self, exchange_id: int, notes: Sequence[str] = ()) -> str | None:
        """Show the whole reply with `notes` and its feedback and correction controls (the
        exchange is recorded by now, so a click always finds it); return the id (ts) of the
        message with the controls. Raises when the reply could not be shown."""

    @property
    def message_ts(self) -> list[str]:
        """The ids (ts) of every message of the reply shown so far, oldest first (a long
        reply takes several)."""
        ...

    def give_up(self) -> str | None:
        """`finish` failed for good: clear the status, leave a short notice if possible;
        the notice's id (ts), or None when none could be left."""

    def withdraw(self) -> None:
        """The question was deleted: take back whatever of the reply is shown."""

    def apologise(self, text: str) -> None:
        """The model failed: tell the person, after whatever part of the reply was shown."""
