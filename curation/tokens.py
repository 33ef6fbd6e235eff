"""Token counting with tiktoken, in the chat format OpenAI bills for.

tiktoken downloads its encoding files on first use; offline machines set TIKTOKEN_CACHE_DIR
to a folder that holds them (see the README).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import tiktoken

# OpenAI's accounting for chat models: each message costs a few tokens of framing, and the
# reply is primed with a few more (see OpenAI's cookbook, "How to count tokens").
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3


@lru_cache(maxsize=8)
def get_encoding(name: str) -> tiktoken.Encoding:
    return tiktoken.get_encoding(name)


def count_text(text: str, encoding: tiktoken.Encoding) -> int:
    # disallowed_special=() counts "<|endoftext|>" typed by a person as text, not a crash.
    return len(encoding.encode(text, disallowed_special=()))


def count_messages(messages: Iterable[Mapping[str, Any]], encoding: tiktoken.Encoding) -> int:
    """Tokens of a list of chat messages, framing included."""
    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += TOKENS_PER_MESSAGE
        content = message.get("content")
        if isinstance(content, str):
            total += count_text(content, encoding)
        if message.get("name"):
            total += TOKENS_PER_NAME + count_text(str(message["name"]), encoding)
    return total
