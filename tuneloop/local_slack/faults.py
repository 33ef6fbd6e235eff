"""Faults the local workspace can inject, so the bot's fallbacks can be tested.

`streaming_available=False` answers the chat streaming methods with `unknown_method`, as an
older Slack (or an Enterprise Grid policy) does; `fail_next(method, error)` makes the next calls
of one method fail with a given Slack error (`ratelimited` also sets HTTP 429 and
`Retry-After`, which the SDK's retry handler understands).
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field

from tuneloop.local_slack.errors import SlackApiFailure

STREAMING_METHODS = frozenset({"chat.startStream", "chat.appendStream", "chat.stopStream"})


@dataclass
class SlackFaults:
    streaming_available: bool = True
    _pending: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        with self._lock:
            self._pending[method].extend([error] * times)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self.streaming_available = True

    def check(self, method: str) -> None:
        """Raise the failure this call must get, if any."""
        if method in STREAMING_METHODS and not self.streaming_available:
            raise SlackApiFailure("unknown_method")
        with self._lock:
            queue = self._pending.get(method)
            error = queue.popleft() if queue else None
        if error == "ratelimited":
            raise SlackApiFailure(error, status=429, retry_after=1)
        if error is not None:
            raise SlackApiFailure(error)
