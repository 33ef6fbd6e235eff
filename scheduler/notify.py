"""The notification hook: told of every cycle that ends, with its decision.

The Slack bot can pass a hook that posts to a channel; by default a log line is written.
A notifier must not raise: it is called after the outcome is committed, and a failure in it is
logged and ignored rather than undoing or repeating the cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("tuneloop.decisions")


@dataclass(frozen=True)
class CycleEvent:
    cycle_id: int
    outcome: str
    note: str
    candidate: str | None = None
    incumbent: str | None = None
    verdict: str | None = None
    numbers: dict[str, Any] = field(default_factory=dict)


Notifier = Callable[[CycleEvent], None]


def log_notifier(event: CycleEvent) -> None:
    log.info(
        "retraining cycle %s: %s%s. %s",
        event.cycle_id,
        event.outcome,
        f" ({event.candidate} vs {event.incumbent})" if event.candidate else "",
        event.note,
    )


def safely(notifier: Notifier, event: CycleEvent) -> None:
    try:
        notifier(event)
    except Exception:
        log.exception("the decision notifier failed for cycle %s", event.cycle_id)
