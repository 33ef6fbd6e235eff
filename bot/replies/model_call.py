"""The call to the chat model: stream the reply, count its tokens, name what went wrong.

Kept apart from Slack so the reply path can be reasoned about (and tested) without it. The
SDK's own retries (`max_retries` on the client) handle brief 429s and 5xx; what still fails
becomes a `ModelFailure` whose `kind` picks the apology and goes into the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

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

    `chunks` is the SDK's stream of chat-completion chunks as plain JSON objects: the SDK
    decodes the server-sent events and raises on an error event; only the typed object per
    chunk (one per token on OpenAI) is skipped, which costs more CPU than the rest of the
    reply path.
    """

    def __init__(
        self,
        chunks: Callable[[], openai.Stream[object]],
        *,
        timeout_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._chunks = chunks
        self._timeout_s = timeout_s
        self._clock = clock
        self.text = ""
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def __iter__(self) -> Iterator[str]:
        deadline = self._clock() + self._timeout_s
        try:
            with self._chunks() as chunks:
                for chunk in chunks:
                    if self._clock() > deadline:
                        raise ModelFailure("timeout", "the reply took longer than allowed")
                    for piece in self._pieces(chunk):
                        self.text += piece
                        yield piece
        except Exception as error:
            raise _failure(error) from error
        if not self.text.strip():
            raise ModelFailure("empty", "the model returned no text")

    def _pieces(self, chunk: object) -> list[str]:
        if not isinstance(chunk, dict):
            return []
        usage = chunk.get("usage")
        if usage:
            self.prompt_tokens = usage.get("prompt_tokens")
            self.completion_tokens = usage.get("completion_tokens")
        pieces = []
        for choice in chunk.get("choices") or ():
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
        temperature: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        reload_model: Callable[[str], bool] | None = None,
    ) -> None:
        """`temperature` is sent with every request when set (None: the server's default).
        `reload_model(model)` is asked when the server answers 404 for `model`: a self-
        hosted server that restarted has forgotten its runtime-loaded adapters, and loading the
        adapter again (True: it is served now) lets the reply go ahead instead of apologising.
        """
        self._client = client
        self._max_tokens = max_tokens
        self._timeout_s = timeout_s
        self._temperature = temperature
        self._clock = clock
        self._reload_model = reload_model

    def stream(self, model: str, messages: Sequence[dict[str, str]]) -> StreamedReply:
        """The completion, requested when iterated; iterating raises ModelFailure.

        Sent with the SDK's generic `post` (its documented way to make any request, with the
        same auth, retries, timeouts and typed errors) rather than `chat.completions.create`,
        which walks every message through the SDK's TypedDict unions first: about half a
        millisecond a reply that changes nothing in messages that are plain strings.
        """
        body: dict[str, object] = {
            "model": model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_completion_tokens": self._max_tokens,
        }
        if self._temperature is not None:
            body["temperature"] = self._temperature

        def post() -> openai.Stream[object]:
            return self._client.post(
                "/chat/completions",
                cast_to=object,
                body=body,
                options={"timeout": self._timeout_s},
                stream=True,
                stream_cls=openai.Stream[object],
            )

        def chunks() -> openai.Stream[object]:
            try:
                return post()
            except openai.NotFoundError:
                if self._reload_model is None or not self._reload_model(model):
                    raise
                return post()  # once: a second 404 is a real model_not_found

        return StreamedReply(chunks, timeout_s=self._timeout_s, clock=self._clock)
