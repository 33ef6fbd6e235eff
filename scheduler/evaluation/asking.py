"""Asking a model one question, with a timeout and retries that do not trust luck.

The SDK's own retries sleep for real time with no way to inject a clock, so evaluation asks
with `max_retries=0` and retries here: rate limits wait as long as `retry-after` says, server
errors and timeouts back off exponentially, and tests pass a `sleep` that does not sleep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai

_RETRIED = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APIConnectionError,  # includes APITimeoutError
    openai.ConflictError,
)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0

    def delay(self, attempt: int, exc: Exception) -> float:
        """How long to wait after failed `attempt` (1-based)."""
        hinted = _retry_after(exc)
        if hinted is not None:
            return min(hinted, self.max_delay_s)
        backoff = min(self.base_delay_s * 2 ** (attempt - 1), self.max_delay_s)
        return backoff * (0.75 + random.random() / 2)


@dataclass(frozen=True)
class Answer:
    text: str | None
    latency_ms: int
    error: str | None = None


class Asker:
    """Chat completions with a per-request timeout and `RetryPolicy`; never raises."""

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`max_tokens` and `temperature` (None: the server's default) are sent with every
        question unless the caller of `ask` gives its own."""
        self._client = client.with_options(timeout=timeout_s, max_retries=0)
        self._retry = retry or RetryPolicy()
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._sleep = sleep

    def ask(self, model: str, messages: list[dict[str, Any]], **options: Any) -> Answer:
        started = time.perf_counter()
        if self._max_tokens is not None:
            options.setdefault("max_completion_tokens", self._max_tokens)
        if self._temperature is not None:
            options.setdefault("temperature", self._temperature)
        last: Exception | None = None
        for attempt in range(1, self._retry.attempts + 1):
            try:
                reply = self._client.chat.completions.create(
                    model=model, messages=messages, **options
                )
                text = reply.choices[0].message.content or ""
                return Answer(text, _ms_since(started))
            except _RETRIED as exc:
                last = exc
                if attempt < self._retry.attempts:
                    self._sleep(self._retry.delay(attempt, exc))
            except openai.APIError as exc:  # 400/401/403/404: asking again will not help
                return Answer(None, _ms_since(started), _describe(exc))
        assert last is not None
        return Answer(
            None, _ms_since(started), f"{_describe(last)} (after {self._retry.attempts} tries)"
        )


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {message}"[:2000]


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None
