"""Ids and timestamps in Slack's shapes (`U…`, `C…`, `V…`, `Ev…`, and `1712345678.000100`)."""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable

_ALPHABET = string.ascii_uppercase + string.digits


def slack_id(prefix: str, length: int = 10) -> str:
    """`U0A1B2C3D4`-style ids: Slack's ids are upper-case letters and digits."""
    return prefix + "".join(_ALPHABET[b % 36] for b in secrets.token_bytes(length))


def secret_token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


class TsClock:
    """Message timestamps: seconds with six decimals, strictly increasing, as Slack's are.

    A message's ts is its id within a channel, so two messages may never share one, even when
    they are posted within the same microsecond from different threads.
    """

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._last = 0.0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            value = max(self._now(), self._last + 0.000001)
            self._last = round(value, 6)
            return f"{self._last:.6f}"
