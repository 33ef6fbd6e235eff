"""Slack's rate limits on the reply path: wait as Slack says, then send the same call again.

Slack answers a call over its rate limit with HTTP 429, error `ratelimited` and a
`Retry-After` header in seconds (Slack's "Rate limits" documentation). A reply must not be
lost to that, so each reply call is sent again after the wait Slack asks for, with the same
arguments (an update carries the whole text, so nothing written meanwhile is lost), until
the reply's waiting budget is spent. The SDK's own `RateLimitErrorRetryHandler` retries a
fixed number of times whatever the wait; this keeps one budget of seconds for the whole
reply, so a reply gives up (and is delivered later) after a bounded time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from slack_sdk.errors import SlackApiError

log = logging.getLogger("tuneloop.bot.rate_limits")

T = TypeVar("T")

#: Slack's wait when a 429 carries no Retry-After (it always should).
DEFAULT_RETRY_AFTER_S = 1.0


def retry_after_s(error: SlackApiError) -> float | None:
    """The seconds Slack asked to wait, when `error` is a rate limit; None otherwise."""
    response = error.response
    if response is None:
        return None
    limited = response.status_code == 429 or response.get("error") == "ratelimited"
    if not limited:
        return None
    headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER_S
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_S


class RateLimitBudget:
    """The seconds one reply may spend waiting on rate limits, across all its calls.

    `call(what, fn)` runs `fn`; on a rate limit it waits `Retry-After` (through `sleep`) and
    runs it again while the budget lasts, then re-raises Slack's error. Other errors pass
    through at once. Not thread-safe: one reply's calls come from one thread.
    """

    def __init__(self, budget_s: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._left_s = budget_s
        self._sleep = sleep
        self.waits: list[float] = []

    def call(self, what: str, fn: Callable[[], T]) -> T:
        while True:
            try:
                return fn()
            except SlackApiError as error:
                wait_s = retry_after_s(error)
                if wait_s is None or wait_s > self._left_s:
                    raise
                log.info("%s was rate limited: sending it again in %.1f s", what, wait_s)
                self._left_s -= wait_s
                self.waits.append(wait_s)
                self._sleep(wait_s)
