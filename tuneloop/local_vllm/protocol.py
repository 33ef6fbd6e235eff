"""Chat completion requests, checked as vLLM checks them (its `ChatCompletionRequest`).

vLLM ignores fields it does not know (it logs them); the stand-in does too. Features the
stand-in does not implement (log probabilities, tools, structured output, penalties) are
refused with a 400 that says so, rather than silently answered differently from vLLM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuneloop.local_vllm.errors import bad_request, validation_error

#: Parameters whose non-default values the stand-in refuses, with their default.
_NOT_IMPLEMENTED: dict[str, object] = {
    "logprobs": False,
    "top_logprobs": None,
    "prompt_logprobs": None,
    "tools": None,
    "response_format": None,
    "structured_outputs": None,
    "logit_bias": None,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
    "use_beam_search": False,
}


@dataclass(frozen=True)
class ChatRequest:
    """A checked request. `max_tokens` is None when the request leaves it to the model's
    length; sampling fields are None where the model's generation config decides."""

    model: str | None
    messages: list[dict[str, str]]
    stream: bool
    include_usage: bool
    n: int
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    top_k: int | None
    seed: int | None
    stop: tuple[str, ...]
    stop_token_ids: frozenset[int]
    ignore_eos: bool


def parse_chat_request(body: object, *, max_model_len: int) -> ChatRequest:
    """The request in `body` (parsed JSON), or the VLLMError vLLM would answer."""
    if not isinstance(body, dict):
        raise validation_error("body", "dict_type", "Input should be a valid dictionary", body)
    messages = _messages(body)
    for name, default in _NOT_IMPLEMENTED.items():
        value = body.get(name, default)
        if value not in (default, None) and not (name == "response_format" and _is_text(value)):
            raise bad_request(
                f"The local vLLM stand-in does not implement '{name}'.", param=name, value=value
            )
    stream = _typed(body, "stream", bool, "bool_type", "a valid boolean") or False
    stream_options = body.get("stream_options")
    if stream_options is not None and not stream:
        raise bad_request("Stream options can only be defined when `stream=True`.")
    include_usage = bool(
        isinstance(stream_options, Mapping) and stream_options.get("include_usage")
    )
    max_tokens = _max_tokens(body, max_model_len)
    temperature = _number(body, "temperature")
    if temperature is not None and temperature < 0:
        raise bad_request(
            f"temperature must be non-negative, got {temperature}.",
            param="temperature",
            value=temperature,
        )
    if temperature is not None and temperature > 2:
        raise bad_request(
            f"temperature must be in [0, 2], got {temperature}.",
            param="temperature",
            value=temperature,
        )
    top_p = _number(body, "top_p")
    if top_p is not None and not 0 < top_p <= 1:
        raise bad_request(f"top_p must be in (0, 1], got {top_p}.", param="top_p", value=top_p)
    top_k = _typed(body, "top_k", int, "int_type", "a valid integer")
    if top_k is not None and top_k < -1:
        raise bad_request(f"top_k must be 0 (disable), or at least 1, got {top_k}.")
    n = _typed(body, "n", int, "int_type", "a valid integer")
    n = 1 if n is None else n
    if n < 1:
        raise bad_request(f"n must be at least 1, got {n}.")
    if n > 1 and temperature is not None and temperature < 1e-5:
        raise bad_request(f"n must be 1 when using greedy sampling, got {n}.")
    return ChatRequest(
        model=_typed(body, "model", str, "string_type", "a valid string"),
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        n=n,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        seed=_typed(body, "seed", int, "int_type", "a valid integer"),
        stop=_stop(body),
        stop_token_ids=frozenset(_int_list(body, "stop_token_ids")),
        ignore_eos=_typed(body, "ignore_eos", bool, "bool_type", "a valid boolean") or False,
    )


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    if "messages" not in body:
        raise validation_error("body.messages", "missing", "Field required", body)
    raw = body["messages"]
    if not isinstance(raw, list):
        raise validation_error("body.messages", "list_type", "Input should be a valid list", raw)
    if not raw:
        raise bad_request(
            "Cannot apply chat template to an empty conversation. Provide at least one message."
        )
    messages = []
    for index, message in enumerate(raw):
        loc = f"body.messages.{index}"
        if not isinstance(message, dict):
            raise validation_error(loc, "dict_type", "Input should be a valid dictionary", message)
        role = message.get("role")
        if not isinstance(role, str):
            raise validation_error(
                f"{loc}.role", "string_type", "Input should be a valid string", role
            )
        messages.append({"role": role, "content": _content(message.get("content"), loc)})
    return messages


def _content(content: object, loc: str) -> str:
    """A message's text: a string, or text parts joined with newlines (vLLM's string
    content format); None (an assistant turn with tool calls) is empty text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text"):
                raise bad_request(f"The local vLLM stand-in reads only text parts ({loc}.content).")
            texts.append(str(part.get("text", "")))
        return "\n".join(texts)
    raise validation_error(
        f"{loc}.content", "string_type", "Input should be a valid string", content
    )


def _max_tokens(body: dict[str, Any], max_model_len: int) -> int | None:
    """`max_completion_tokens`, else the deprecated `max_tokens` (vLLM's precedence); the
    length check names the parameter as sent (vllm/renderers/params.py)."""
    name = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    value = _typed(body, name, int, "int_type", "a valid integer")
    if value is None:
        return None
    if value > max_model_len:
        raise bad_request(
            f"{name}={value} cannot be greater than max_model_len={max_model_len}. "
            "Please request fewer output tokens.",
            param=name,
            value=value,
        )
    if value < 1:
        raise bad_request(
            f"max_tokens must be at least 1, got {value}.", param="max_tokens", value=value
        )
    return value


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(item, str) for item in stop):
        return tuple(stop)
    raise validation_error("body.stop", "list_type", "Input should be a valid list", stop)


def _int_list(body: dict[str, Any], name: str) -> list[int]:
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, list) and all(_is_int(item) for item in value):
        return list(value)
    raise validation_error(f"body.{name}", "list_type", "Input should be a valid list", value)


def _typed(body: dict[str, Any], name: str, kind: type, error: str, what: str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if kind is int and _is_int(value):
        return value
    if kind is not int and isinstance(value, kind):
        return value
    raise validation_error(f"body.{name}", error, f"Input should be {what}", value)


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise validation_error(f"body.{name}", "float_type", "Input should be a valid number", value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(response_format: object) -> bool:
    return isinstance(response_format, dict) and response_format.get("type") == "text"
