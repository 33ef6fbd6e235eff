"""The call to the chat model: stream the reply, count its tokens, name what went wrong.

Kept apart from Slack so the reply path can be reasoned about (and tested) without it. The
SDK's own retries (`max_retries` on the client) handle brief 429s and 5xx; what still fails
becomes a `ModelFailure` whose `kind` picks the apology and goes into the log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import openai


class ModelFailure(Exception):
    """The model gave no usable reply. `kind`: rate_limited, timeout, unreachable,
    model_not_found, unavailable, rejected, interrupted or empty."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def _failure(error: Exception) -> ModelFailure:
    if isinstance(error, ModelFailure):
        return error
    if isinstance(error, openai.APITimeoutError):
        return ModelFailure("timeout", str(error))
    if isinstance(error, openai.APIConnectionError):
        return ModelFailure("unreachable", str(error))
    if isinstance(error, openai.RateLimitError):
        return ModelFailure("rate_limited", str(error))
    if isinstance(error, openai.NotFoundError):
        return ModelFailure("model_not_found", str(error))
    if isinstance(error, openai.APIStatusError):
        kind = "unavailable" if error.status_code >= 500 else "rejected"
        return ModelFailure(kind, f"HTTP {error.status_code}: {error}")
    return ModelFailure("interrupted", f"{type(error).__name__}: {error}")


class StreamedReply:
    """The reply's text pieces as they arrive; totals are set once iteration ends.

    The server-sent events are read as JSON directly: the SDK would build a typed object per
    chunk (one per token on OpenAI), which costs more CPU than the rest of the reply path.
    The SDK still makes the request, with its retries and its typed errors.
    """

    def __init__(self, response: Any, *, deadline: float, clock: Callable[[], float]) -> None:
        self._response = response
        self._deadline = deadline
        self._clock = clock
        self.text = ""
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            with self._response as response:
                for line in response.iter_lines():
                    if self._clock() > self._deadline:
                        raise ModelFailure("timeout", "the reply took longer than allowed")
                    for piece in self._pieces(line):
                        self.text += piece
                        yield piece
        except Exception as error:
            raise _failure(error) from error
        if not self.text.strip():
            raise ModelFailure("empty", "the model returned no text")

    def _pieces(self, line: str) -> list[str]:
        if not line.startswith("data:"):
            return []
        data = line[5:].strip()
        if not data or data == "[DONE]":
            return []
        event = json.loads(data)
        if event.get("error"):
            error = event["error"]
            raise ModelFailure("interrupted", str(error.get("message", error)))
        usage = event.get("usage")
        if usage:
            self.prompt_tokens = usage.get("prompt_tokens")
            self.completion_tokens = usage.get("completion_tokens")
        pieces = []
        for choice in event.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                pieces.append(content)
        return pieces


class ModelCall:
    """Streams chat completions from one OpenAI-compatible client."""

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        max_tokens: int,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._max_tokens = max_tokens
        self._timeout_s = timeout_s
        self._clock = clock

    def stream(self, model: str, messages: Sequence[dict[str, str]]) -> StreamedReply:
        """The completion, requested when iterated; iterating raises ModelFailure."""
        response = self._client.chat.completions.with_streaming_response.create(
            model=model,
            messages=list(messages),  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
            max_completion_tokens=self._max_tokens,
            timeout=self._timeout_s,
        )
        return StreamedReply(response, deadline=self._clock() + self._timeout_s, clock=self._clock)
