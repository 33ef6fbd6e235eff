"""What the bot needs from retraining, as a protocol: the slash commands and the App Home use
it, and the composition root adapts the scheduler to it (bot/ imports no scheduler code).

Methods that change something return a sentence to show the person, or raise `ControlError`
with one; the bot shows either as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

#: The `status()` key that, when present, holds what `approved_since_last_training()` would
#: return, so a caller that shows both asks for the count once.
APPROVED_KEY = "new_examples"


class ControlError(Exception):
    """Retraining refused a request; the message is fit to show the person who asked."""


@runtime_checkable
class RetrainingControl(Protocol):
    def status(self) -> Mapping[str, Any]:
        """At least `active_model` and `available` (bool); anything else is listed as is
        (`state`, `next_run`, `note`, ...). May carry `new_examples` (APPROVED_KEY): the
        count `approved_since_last_training` returns."""

    def request_retrain(self, actor: str, *, force: bool = False) -> str:
        """Ask for a retraining cycle soon; without `force`, an answer that there is nothing
        new to train on when no approved example arrived since the last run."""

    def promote(self, model: str, actor: str, reason: str, *, force: bool = False) -> str:
        """Serve `model` from the next message on, once it has answered a probe (`force`:
        without asking it, nor whether it shuts down soon)."""

    def rollback(self, actor: str, reason: str) -> str:
        """Serve the previously promoted model again."""

    def last_decision(self) -> Mapping[str, Any] | None:
        """The latest gate decision (`outcome`, `note`, `candidate`, `incumbent`, `at`,
        `numbers`), or None before the first."""

    def approved_since_last_training(self) -> int:
        """Approved examples that no training run has used yet."""
