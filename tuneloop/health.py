"""What `/healthz` of `tuneloop serve` checks: the store takes a write, and the served model
answers.

Each check's result is kept for a while (TUNELOOP_HEALTH_STORE_CHECK_SECONDS,
TUNELOOP_HEALTH_MODEL_CHECK_SECONDS), so a probe hammered by a load balancer, or by anyone (the
route is unauthenticated), costs one tiny write and one one-token completion per period, not
per hit. The model is probed again at once when the served model changes. A rate-limited model
counts as answering: it exists, and restarting the bot would not help. The report says what
failed in a few words, with an error id for a failure that has one; the details go to the log
under that id, never to the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.incidents import new_error_id
from curation.db import Database
from curation.health import probe_write
from scheduler.serving.probe import ProbeOutcome, ProbeResult, probe_model

if TYPE_CHECKING:
    import openai

    from scheduler.cycle.context import ModelServing

log = logging.getLogger("tuneloop.health")

#: A health probe must answer before the caller's own timeout; the model gets this long.
MODEL_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class _Kept:
    key: str
    at: float
    report: dict[str, Any]


class _Cache:
    """One check's last report, reused for `ttl_s` seconds while its key is unchanged; one
    caller at a time runs the check, the others wait for its result."""

    def __init__(self, ttl_s: float, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: _Kept | None = None

    def get(self, key: str, check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            kept = self._kept
            if kept is None or kept.key != key or self._clock() - kept.at >= self._ttl_s:
                kept = self._kept = _Kept(key, self._clock(), check())
            return kept.report


class HealthCheck:
    """Call it for `/healthz`'s report: `ok` (both checks pass), `active_model`, and
    `checks.store` / `checks.model`, each with `ok` and, when failing, `error` and `error_id`.

    `active_model` reads the registry (raising when the store cannot be read); `client`
    asks the model, after `serving` (self-hosted adapters) has loaded it: a vLLM that
    restarted and forgot its adapters gets the served one back here, as replies would.
    """

    def __init__(
        self,
        db: Database,
        active_model: Callable[[], str],
        client: openai.OpenAI,
        *,
        serving: ModelServing | None = None,
        store_ttl_s: float = 5.0,
        model_ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._active_model = active_model
        self._client = client
        self._serving = serving
        self._store = _Cache(store_ttl_s, clock)
        self._model = _Cache(model_ttl_s, clock)

    def __call__(self) -> dict[str, Any]:
        store = self._store.get("store", self._check_store)
        try:
            model = self._active_model()
        except Exception:
            if store["ok"]:  # written a moment ago, unreadable now: report this
                error_id = new_error_id()
                log.exception("health: the served model could not be read [error id %s]", error_id)
                store = _failing("the store cannot be read", error_id)
            return {"ok": False, "active_model": None, "checks": {"store": store}}
        answer = self._model.get(model, lambda: self._check_model(model))
        return {
            "ok": bool(store["ok"] and answer["ok"]),
            "active_model": model,
            "checks": {"store": store, "model": answer},
        }

    def _check_store(self) -> dict[str, Any]:
        try:
            probe_write(self._db)
        except Exception:
            error_id = new_error_id()
            log.exception("health: the store refused a write [error id %s]", error_id)
            return _failing("the store cannot be written", error_id)
        return {"ok": True}

    def _check_model(self, model: str) -> dict[str, Any]:
        result: ProbeResult = probe_model(
            self._client, model, serving=self._serving, timeout_s=MODEL_PROBE_TIMEOUT_S
        )
        if result.outcome is ProbeOutcome.ANSWERS:
            return {"ok": True}
        error_id = new_error_id()
        log.warning(
            "health: %s %s [error id %s]: %s", model, result.problem, error_id, result.detail
        )
        if result.outcome is ProbeOutcome.RATE_LIMITED:
            return {"ok": True, "note": f"the model {result.problem}", "error_id": error_id}
        return _failing(f"the model {result.problem}", error_id)


def _failing(error: str, error_id: str) -> dict[str, Any]:
    return {"ok": False, "error": error, "error_id": error_id}
