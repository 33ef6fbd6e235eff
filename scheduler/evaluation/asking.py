"""Asking a model one question, with a timeout and retries that do not trust luck.

The SDK's own retries sleep for real time with no way to inject a clock, so evaluation asks
with `max_retries=0` and retries here, with tenacity: rate limits wait as long as
`retry-after` says, server errors and timeouts back off exponentially (with jitter), and tests
pass a `sleep` that does not sleep. A question still refused with 429 or 5xx after its tries is
answered as `deferred`: the provider said "later", so the evaluator asks it again later rather
than scoring it as an error (see `Evaluator.run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

_RETRIED = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APIConnectionError,  # includes APITimeoutError
    openai.ConflictError,
)
#: The provider's "not now": a burst of these waits and resumes instead of deciding.
DEFERRABLE = (openai.RateLimitError, openai.InternalServerError)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0

    def wait(self, state: RetryCallState) -> float:
        """tenacity's wait: the provider's `retry-after` (capped at `max_delay_s`), else an
        exponential back-off with jitter from `base_delay_s`."""
        exc = state.outcome.exception() if state.outcome is not None else None
        hinted = retry_after(exc) if exc is not None else None
        if hinted is not None:
            return min(hinted, self.max_delay_s)
        return wait_exponential_jitter(
            multiplier=self.base_delay_s, max=self.max_delay_s, jitter=self.base_delay_s
        )(state)


@dataclass(frozen=True)
class Answer:
    text: str | None
    latency_ms: int
    error: str | None = None
    #: True when the provider kept answering 429 or 5xx: ask again later, do not score.
    deferred: bool = False
    #: The provider's last `retry-after`, in seconds, when it gave one.
    retry_after_s: float | None = None


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
        retrying = Retrying(
            retry=retry_if_exception_type(_RETRIED),
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._retry.wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            reply = retrying(
                self._client.chat.completions.create, model=model, messages=messages, **options
            )
        except _RETRIED as exc:
            return Answer(
                None,
                _ms_since(started),
                f"{_describe(exc)} (after {self._retry.attempts} tries)",
                deferred=isinstance(exc, DEFERRABLE),
                retry_after_s=retry_after(exc),
            )
        except openai.APIError as exc:  # 400/401/403/404: asking again will not help
            return Answer(None, _ms_since(started), _describe(exc))
        return Answer(reply.choices[0].message.content or "", _ms_since(started))


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {message}"[:2000]


def retry_after(exc: BaseException) -> float | None:
    """The wait the provider asked for (`retry-after-ms` or `retry-after`, in seconds)."""
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
