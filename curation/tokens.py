"""Token counting in the chat format OpenAI bills for, as OpenAI's cookbook counts it.

The cookbook ("How to count tokens with tiktoken", `num_tokens_from_messages` and
`num_tokens_for_tools`):

- every message costs 3 tokens of framing, plus the tokens of each of its text values (its role,
  its content, a name and 1 more token for having one);
- the reply is primed with 3 more tokens, once per conversation;
- tool definitions cost 7 tokens per function (10 on gpt-3.5-turbo's cl100k_base models), the
  tokens of `name:description`, 3 for a parameter list and, per parameter, 3 plus the tokens of
  `name:type:description` (an enum: -3, then 3 plus its tokens per value), and 12 at the end.

Where the cookbook has no rule, the count is the tokens of the value's JSON text: tool calls,
a function call (`weight` is a training switch, not text the model reads, and costs nothing).
Text parts count as their texts. Export, the cost estimate, the importer's token limit and
the OpenAI stand-in all count with `line_tokens`, so they agree.

tiktoken downloads its encoding files on first use; offline machines set TIKTOKEN_CACHE_DIR
to a folder that holds them (see the README).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from curation.errors import EncodingUnavailableError

if TYPE_CHECKING:
    import tiktoken

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
#: (function start, parameter list start, per parameter, enum start, per enum value, end)
_TOOL_FRAMING = {"cl100k_base": (10, 3, 3, -3, 3, 12)}
_TOOL_FRAMING_DEFAULT = (7, 3, 3, -3, 3, 12)  # gpt-4o and later (o200k_base)

#: Tokens of one text.
CountText = Callable[[str], int]


@lru_cache(maxsize=8)
def get_encoding(name: str) -> tiktoken.Encoding:
    """tiktoken's encoding `name`. Raises EncodingUnavailableError, saying where tiktoken
    looked, when its file can be neither downloaded nor found in TIKTOKEN_CACHE_DIR."""
    import tiktoken  # here, not with the module: commands that count nothing never load it

    try:
        return tiktoken.get_encoding(name)
    except (OSError, ValueError) as exc:  # requests' errors are OSErrors; a bad hash, ValueError
        if name not in tiktoken.list_encoding_names():
            raise
        cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
        where = f"TIKTOKEN_CACHE_DIR={cache}" if cache else "TIKTOKEN_CACHE_DIR is not set"
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise EncodingUnavailableError(
            f"tiktoken cannot load its {name} encoding ({where}): it downloads the file on "
            "first use, and that failed. Offline, set TIKTOKEN_CACHE_DIR to a folder holding "
            f"tiktoken's cached encoding files (cl100k_base and o200k_base). ({first_line})"
        ) from None


def count_text(text: str, encoding: tiktoken.Encoding) -> int:
    # disallowed_special=() counts "<|endoftext|>" typed by a person as text, not a crash.
    return len(encoding.encode(text, disallowed_special=()))


@lru_cache(maxsize=8)
def counter(encoding_name: str) -> CountText:
    """A cached text counter for one encoding (roles, system prompts and answers repeat)."""
    encoding = get_encoding(encoding_name)

    @lru_cache(maxsize=4096)
    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def value_tokens(key: str, value: Any, count: CountText) -> int:
    """Tokens of one key of a message (framing excluded)."""
    if key == "weight" or value is None:
        return 0
    if isinstance(value, str):
        return count(value) + (TOKENS_PER_NAME if key == "name" else 0)
    if key == "content" and isinstance(value, list):
        return sum(
            count(part["text"])
            for part in value
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return count(_json_text(value))


def message_tokens(message: Mapping[str, Any], count: CountText) -> int:
    """One message: its framing and every value in it."""
    return TOKENS_PER_MESSAGE + sum(value_tokens(k, v, count) for k, v in message.items())


def tools_tokens(tools: Iterable[Any], count: CountText, encoding_name: str) -> int:
    """Tool (or legacy `functions`) definitions, by the cookbook's `num_tokens_for_tools`."""
    start, props, per_prop, enum_start, per_enum, end = _TOOL_FRAMING.get(
        encoding_name, _TOOL_FRAMING_DEFAULT
    )
    total = 0
    functions = [t.get("function", t) if isinstance(t, Mapping) else {} for t in tools]
    for function in functions:
        total += start
        description = str(function.get("description") or "").removesuffix(".")
        total += count(f"{function.get('name', '')}:{description}")
        parameters = function.get("parameters")
        properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
        if isinstance(properties, Mapping) and properties:
            total += props
            for name, spec in properties.items():
                spec = spec if isinstance(spec, Mapping) else {}
                total += per_prop
                if isinstance(spec.get("enum"), list):
                    total += enum_start
                    for item in spec["enum"]:
                        total += per_enum + count(str(item))
                kind = spec.get("type", "")
                described = str(spec.get("description") or "").removesuffix(".")
                total += count(
                    f"{name}:{kind if isinstance(kind, str) else _json_text(kind)}:{described}"
                )
    return total + end if functions else total


def line_tokens(
    messages: Iterable[Mapping[str, Any]],
    count: CountText,
    *,
    tools: Iterable[Any] = (),
    encoding_name: str = "o200k_base",
) -> int:
    """A conversation (with its tool definitions): what a training line costs."""
    total = REPLY_PRIMING_TOKENS + sum(message_tokens(m, count) for m in messages)
    return total + tools_tokens(tools, count, encoding_name)


def count_messages(messages: Iterable[Mapping[str, Any]], encoding: tiktoken.Encoding) -> int:
    """Tokens of a list of chat messages, framing included."""
    return line_tokens(messages, lambda text: count_text(text, encoding))
