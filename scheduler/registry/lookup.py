"""The active-model lookup the bot calls before every reply.

By default it reads the active row on every call: one indexed single-row read costs far less
than the model call that follows it, and it makes a promotion visible on the very next message
in every process, with no restart. A deployment that wants fewer reads can set a TTL; changes
made through this process's registry drop the cache at once either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from curation.db import Database
from scheduler.records import ModelVersion

#: Built once: the bot runs it before every reply, on a Core connection (no ORM objects).
_ACTIVE_MODEL = select(ModelVersion.model).where(ModelVersion.is_active.is_(True))


class ActiveModelLookup:
    """`lookup()` -> the model id to serve (`default` until a model is promoted)."""

    def __init__(
        self,
        db: Database,
        *,
        default: str,
        ttl_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s < 0:
            raise ValueError("ttl_s must be >= 0")
        self._db = db
        self._default = default
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None

    def __call__(self) -> str:
        if self._ttl_s > 0:
            with self._lock:
                if self._cached is not None and self._monotonic() < self._cached[1]:
                    return self._cached[0]
        model = self._read()
        if self._ttl_s > 0:
            with self._lock:
                self._cached = (model, self._monotonic() + self._ttl_s)
        return model

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _read(self) -> str:
        with self._db.statements(write=False) as connection:
            model = connection.execute(_ACTIVE_MODEL).scalar()
        return model if model is not None else self._default
