"""Every text of a chat message that a model reads or is trained to write, for the checks that
must see all of them (personal data at the import door, its redaction in exports).

A message's texts, in OpenAI's chat and training formats: `content` (a string, or each text
part), `refusal`, and the `arguments` of each call (`tool_calls[i].function.arguments`, the
legacy `function_call.arguments`). Arguments are JSON written as a string: each string (and
number) inside is a text of its own, so a finding is read without JSON's escapes around it, and
a rewrite keeps the arguments valid JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

#: The message keys that hold text besides `content`.
TEXT_KEYS = frozenset({"content", "refusal", "tool_calls", "function_call"})

Rewrite = Callable[[str], str]


def message_texts(message: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) for each text of `message`; `where` is the path inside the message
    (`content`, `content[1].text`, `tool_calls[0].function.arguments`). Keys of unexpected
    shapes are skipped: the format checks name them."""
    content = message.get("content")
    if isinstance(content, str):
        yield "content", content
    elif isinstance(content, list):
        for index, part in enumerate(content):
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                yield f"content[{index}].text", part["text"]
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        yield "refusal", refusal
    for where, arguments in _arguments(message):
        for text in _argument_texts(arguments):
            yield where, text


def rewrite_texts(message: Mapping[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    """A copy of `message` with each of its texts (as `message_texts` lists them) replaced by
    `rewrite(text)`; every other key, and every text that `rewrite` leaves alone, unchanged."""
    out = dict(message)
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = rewrite(content)
    elif isinstance(content, list):
        out["content"] = [
            {**part, "text": rewrite(part["text"])}
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
    if isinstance(message.get("refusal"), str):
        out["refusal"] = rewrite(message["refusal"])
    out.update(rewrite_calls(message, rewrite))
    return out


def rewrite_calls(message: Mapping[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    """`tool_calls` and `function_call` of `message` (those it has) with the texts in their
    arguments rewritten; {} when it has neither."""
    out: dict[str, Any] = {}
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [
            {**call, "function": _with_arguments(call["function"], rewrite)}
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping)
            else call
            for call in calls
        ]
    if isinstance(message.get("function_call"), Mapping):
        out["function_call"] = _with_arguments(message["function_call"], rewrite)
    return out


def _arguments(message: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for index, call in enumerate(calls):
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping) and isinstance(function.get("arguments"), str):
                yield f"tool_calls[{index}].function.arguments", function["arguments"]
    call = message.get("function_call")
    if isinstance(call, Mapping) and isinstance(call.get("arguments"), str):
        yield "function_call.arguments", call["arguments"]


def _decoded(arguments: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(arguments)
    except ValueError:  # not JSON (the model wrote something else): the text as written
        return False, arguments


def _argument_texts(arguments: str) -> Iterator[str]:
    is_json, value = _decoded(arguments)
    if not is_json:
        yield arguments
        return
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, int | float) and not isinstance(item, bool):
            yield str(item)  # a number can be a phone or card number too
        elif isinstance(item, dict):
            stack.extend(reversed([*item.keys(), *item.values()]))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _rewrite_value(value: Any, rewrite: Rewrite) -> Any:
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        written = rewrite(str(value))
        return value if written == str(value) else written
    if isinstance(value, dict):
        return {rewrite(k): _rewrite_value(v, rewrite) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite_value(v, rewrite) for v in value]
    return value


def _rewrite_arguments(arguments: str, rewrite: Rewrite) -> str:
    is_json, value = _decoded(arguments)
    if not is_json:
        return rewrite(arguments)
    rewritten = _rewrite_value(value, rewrite)
    if rewritten == value:
        return arguments
    # The arguments as written, rewritten in place, keep their layout when that is still the
    # same JSON (no finding crossed an escape); otherwise they are written out again.
    in_place = rewrite(arguments)
    is_json, read = _decoded(in_place)
    if is_json and read == rewritten:
        return in_place
    return json.dumps(rewritten, ensure_ascii=False)


def _with_arguments(function: Mapping[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    if not isinstance(function.get("arguments"), str):
        return dict(function)
    return {**function, "arguments": _rewrite_arguments(function["arguments"], rewrite)}
