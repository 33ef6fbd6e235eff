"""What the reply path tells an observer about each question it handled: the outcome, the
model, how long the model took and why it failed. The composition root turns it into metrics;
bot/ only knows this shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyRecord:
    """One handled question.

    `outcome` is an `Outcome` value (answered, duplicate, failed). `seconds` runs from the
    model call to the reply being recorded (None for a duplicate, which calls no model);
    `first_token_seconds` to the first piece of text (None when none arrived). `failure` is
    the model's `ModelFailure.kind` (rate_limited, timeout, ...) or "undelivered" when Slack
    refused the reply; None when answered.
    """

    outcome: str
    model: str
    seconds: float | None = None
    first_token_seconds: float | None = None
    failure: str | None = None


#: Called once per question, on the reply worker; must be quick, and an error in it is logged
#: and ignored (a metric never costs a reply).
ReplyObserver = Callable[[ReplyRecord], None]
