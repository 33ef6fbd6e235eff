"""Rate limits on corrections: per person, and per reply, within a sliding window.

A correction costs a reviewer's attention, and a flood of them on one reply is how someone
swaps the text a reviewer is about to approve. The limits are counted from the store, not in
memory, so they hold across replicas and restarts. A counted submission and its insert happen
in one write transaction: SQLite's BEGIN IMMEDIATE serialises writers; on PostgreSQL two
transaction-scoped advisory locks (the person's, then the reply's, always in that order, so
two submissions never wait on each other crosswise) make concurrent submissions count one
after the other.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from curation.errors import RateLimitedError
from curation.models import Correction

#: Namespaces of the two advisory locks (PostgreSQL's two-key form: namespace, key).
_PERSON_LOCK, _REPLY_LOCK = 0x7C01, 0x7C02


@dataclass(frozen=True, slots=True)
class CorrectionLimits:
    """At most `per_person` corrections from one person, and `per_reply` on one reply (by
    anyone), within any `window`. A repeated submission (same idempotency key) is not counted
    again; a reviewer's own edit is a decision, not a correction, and is never limited."""

    per_person: int = 30
    per_reply: int = 5
    window: timedelta = timedelta(minutes=10)


def _window_words(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"


def _lock(session: Session, namespace: int, key: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sql_text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
            {"namespace": namespace, "key": zlib.crc32(key.encode()) - 2**31},
        )


def check_correction_limits(
    session: Session, limits: CorrectionLimits, *, exchange_id: int, author_id: str, now: datetime
) -> None:
    """Raise RateLimitedError when one more correction by `author_id` on `exchange_id` would
    pass a limit at `now`; call it inside the transaction that inserts the correction."""
    _lock(session, _PERSON_LOCK, author_id)
    _lock(session, _REPLY_LOCK, str(exchange_id))
    since = now - limits.window
    checks = (
        (Correction.author_id == author_id, limits.per_person, "from you"),
        (Correction.exchange_id == exchange_id, limits.per_reply, "on this answer"),
    )
    for condition, limit, whose in checks:
        count, oldest = session.execute(
            select(func.count(), func.min(Correction.created_at)).where(
                condition, Correction.created_at > since
            )
        ).one()
        if count >= limit:
            wait = max(1, math.ceil((oldest + limits.window - now).total_seconds()))
            raise RateLimitedError(
                f"{count} corrections {whose} in the last {_window_words(limits.window)} "
                f"reached the limit of {limit}; please try again in {_wait_words(wait)}",
                retry_after_seconds=wait,
            )


def _wait_words(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
