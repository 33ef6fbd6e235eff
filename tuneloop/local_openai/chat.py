"""Chat completions: the served model's answer in OpenAI's response and stream shapes.

A base model answers with the fallback; a fine-tuned model answers by retrieval over its
training examples (see `retrieval`). `usage` is counted with tiktoken. Parameters OpenAI
accepts but that mean nothing to a retrieval model (temperature, tools, response_format...)
are accepted and ignored; parameters OpenAI does not know are refused as OpenAI refuses them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tuneloop.local_openai.clock import Clock
from tuneloop.local_openai.errors import (
    ApiError,
    invalid_request,
    invalid_type,
    missing_parameter,
    unrecognized_argument,
)
from tuneloop.local_openai.ids import new_id
from tuneloop.local_openai.model_registry import ServedModel
from tuneloop.local_openai.retrieval import FALLBACK_ANSWER
from tuneloop.local_openai.tokens import count_messages, count_text, message_text, truncate

#: Every request parameter of `CreateChatCompletionRequest` in OpenAI's spec.
_CHAT_PARAM_TEXT = """
    audio frequency_penalty function_call functions logit_bias logprobs max_completion_tokens
    max_tokens messages metadata modalities model moderation n parallel_tool_calls prediction
    presence_penalty prompt_cache_key prompt_cache_options prompt_cache_retention
    reasoning_effort response_format safety_identifier seed service_tier stop store stream
    stream_options temperature tool_choice tools top_logprobs top_p user verbosity
    web_search_options
"""
CHAT_PARAMS = frozenset(_CHAT_PARAM_TEXT.split())
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
SYSTEM_FINGERPRINT = "fp_local_stand_in"
_PIECES = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True)
class ChatResult:
    """Either a whole completion or the chunks of a stream (rendered as SSE by the router)."""

    completion: dict[str, Any] | None = None
    chunks: list[dict[str, Any]] | None = None


class ServesModels(Protocol):
    """Finds the model a chat completion runs on (`ModelRegistry`, or another stand-in's)."""

    def served(self, model_id: str) -> ServedModel:
        """The model; raises an `ApiError` when it is unknown or not loaded yet."""
        ...


class AdvancesJobs(Protocol):
    """Brings fine-tuning jobs up to date, so a model that just finished is found."""

    @property
    def has_active(self) -> bool:
        """Whether any job is unfinished."""
        ...

    def advance_all(self) -> None:
        """Apply every transition that is due."""
        ...


class ChatService:
    """Answers chat completions with the served model (the OpenAI and Together stand-ins)."""

    def __init__(self, models: ServesModels, jobs: AdvancesJobs, clock: Clock) -> None:
        self._models = models
        self._jobs = jobs
        self._clock = clock

    def create(self, body: Any) -> ChatResult:
        request = _checked(body)
        served = self._served(request.model)
        question = _last_user_text(request.messages)
        answer = served.index.answer_for(question).answer if served.index else FALLBACK_ANSWER
        answer, finish_reason = _limited(answer, request, served.encoding)
        prompt_tokens = count_messages(request.messages, served.encoding)
        completion_tokens = count_text(answer, served.encoding) * request.n
        usage = _usage(prompt_tokens, completion_tokens)
        header = {
            "id": new_id("chatcmpl-", 29),
            "created": int(self._clock.now()),
            "model": served.id,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        if request.stream:
            return ChatResult(chunks=_chunks(header, answer, finish_reason, request, usage))
        choices = [
            {
                "index": index,
                "message": {
                    "role": "assistant",
                    "content": answer,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            for index in range(request.n)
        ]
        completion = {**header, "object": "chat.completion", "choices": choices, "usage": usage}
        return ChatResult(completion=completion)

    def _served(self, model: str) -> ServedModel:
        """The model, after bringing jobs up to date if it is not (yet) known."""
        try:
            return self._models.served(model)
        except ApiError:
            if not self._jobs.has_active:
                raise
        self._jobs.advance_all()
        return self._models.served(model)


@dataclass(frozen=True)
class _Request:
    model: str
    messages: list[Mapping[str, Any]]
    n: int
    stream: bool
    include_usage: bool
    max_tokens: int | None
    stop: tuple[str, ...]


def _checked(body: Any) -> _Request:
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    for key in body:
        if key not in CHAT_PARAMS:
            raise unrecognized_argument(key)
    model = body.get("model")
    if not model:
        raise invalid_request("you must provide a model parameter")
    if not isinstance(model, str):
        raise invalid_type("model", "a string")
    messages = body.get("messages")
    if messages is None:
        raise missing_parameter("messages")
    if not isinstance(messages, list):
        raise invalid_type("messages", "an array")
    if not messages:
        raise invalid_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid_type(f"messages[{index}]", "an object")
        role = message.get("role")
        if role not in ROLES:
            raise invalid_request(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                "'function', 'tool', and 'developer'.",
                param=f"messages[{index}].role",
                code="invalid_value",
            )
    n = body.get("n")
    n = 1 if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 128:
        raise invalid_request(
            "Invalid 'n': expected an integer between 1 and 128.", param="n", code="invalid_value"
        )
    stream = bool(body.get("stream"))
    options = body.get("stream_options")
    if options is not None and not stream:
        raise invalid_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise invalid_request(
            "Invalid 'max_completion_tokens': expected a positive integer.",
            param="max_completion_tokens",
            code="invalid_value",
        )
    stop = body.get("stop")
    stops: tuple[str, ...] = ()
    if isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list):
        stops = tuple(s for s in stop if isinstance(s, str) and s)
    return _Request(model, messages, n, stream, include_usage, max_tokens, stops)


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def _limited(answer: str, request: _Request, encoding: str) -> tuple[str, str]:
    """The answer cut at a stop sequence or at `max_completion_tokens`, and why it ended."""
    for stop in request.stop:
        position = answer.find(stop)
        if position >= 0:
            answer = answer[:position]
    if request.max_tokens is not None:
        answer, cut = truncate(answer, request.max_tokens, encoding)
        if cut:
            return answer, "length"
    return answer, "stop"


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chunks(
    header: Mapping[str, Any],
    answer: str,
    finish_reason: str,
    request: _Request,
    usage: dict[str, Any],
) -> list[dict[str, Any]]:
    """OpenAI's stream: a role chunk, content chunks, a finish chunk per choice, and (when
    `stream_options.include_usage`) `usage: null` on each of those plus a final usage chunk
    with no choices."""
    base = {**header, "object": "chat.completion.chunk"}
    if request.include_usage:
        base["usage"] = None

    def chunk(index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**base, "choices": [choice]}

    chunks: list[dict[str, Any]] = []
    pieces = _PIECES.findall(answer)
    for index in range(request.n):
        chunks.append(chunk(index, {"role": "assistant", "content": "", "refusal": None}, None))
        chunks.extend(chunk(index, {"content": piece}, None) for piece in pieces)
        chunks.append(chunk(index, {}, finish_reason))
    if request.include_usage:
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks
