"""Riding out a database outage on the reply path: a store call is retried while the database
cannot be reached, for a bounded time, with tenacity.

A question Slack has delivered (and Bolt acknowledged) lives only in this process until its
exchange is claimed, so the bot holds it through an outage instead of dropping it: the claim
and the reply's bookkeeping are retried with exponential back-off until the store is back
(pool_pre_ping replaces the dead connections), or until `max_wait_s` has passed; then
`StoreUnavailable` is raised and the caller apologises to the person.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from curation.errors import CurationError

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreUnavailable(CurationError):
    """The database stayed unreachable for longer than the caller may wait."""


def is_outage(error: BaseException) -> bool:
    """The database cannot be reached or cannot write now (a server down, a dropped
    connection, a locked or read-only SQLite file): asking again later may succeed."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


@dataclass(frozen=True)
class OutageRetry:
    """Calls a store function, retrying it through an outage for up to `max_wait_s` seconds
    (0: one try). Waits grow from `first_wait_s` to `max_interval_s`."""

    max_wait_s: float = 0.0
    first_wait_s: float = 0.5
    max_interval_s: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    def __call__(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        # The first try runs bare: tenacity's bookkeeping on every store call of the reply
        # path cost about a twentieth of the bot's own work per message, and the database is
        # up nearly always. Only an outage goes on to tenacity (its first try at once, on a
        # fresh connection; `max_wait_s` counts from there).
        try:
            return call(*args, **kwargs)
        except Exception as error:
            if not is_outage(error):
                raise
            if self.max_wait_s <= 0:
                raise StoreUnavailable("the database could not be reached") from error
            log.warning("the database is unreachable (%s); trying again", type(error).__name__)
        retrying = Retrying(
            retry=retry_if_exception(is_outage),
            wait=wait_exponential(multiplier=self.first_wait_s, max=self.max_interval_s),
            stop=stop_after_delay(self.max_wait_s),
            sleep=self.sleep,
            before_sleep=_log_wait,
            reraise=True,
        )
        try:
            return retrying(call, *args, **kwargs)
        except Exception as error:
            if is_outage(error):
                raise StoreUnavailable(
                    f"the database stayed unreachable for {self.max_wait_s:.0f} s"
                ) from error
            raise


def _log_wait(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    log.warning(
        "the database is unreachable (%s); trying again in %.1f s (attempt %d)",
        type(error).__name__,
        state.upcoming_sleep,
        state.attempt_number + 1,  # the bare first try came before tenacity's
    )
