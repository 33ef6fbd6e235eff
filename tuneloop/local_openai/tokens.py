"""Token counts for `usage` and `trained_tokens`, with tiktoken, the way OpenAI counts chat.

Offline, tiktoken needs `TIKTOKEN_CACHE_DIR` pointing at its encoding files. If they cannot be
loaded, counts fall back to an estimate (about four characters a token) and one warning is
logged, so a misconfigured machine still gets answers rather than server errors.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Protocol

from curation.chat_format import message_text
from curation.tokens import line_tokens

__all__ = ["count_messages", "count_text", "encoder", "message_text", "truncate"]

log = logging.getLogger(__name__)


class _Encoder(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode(self, tokens: list[int]) -> str: ...


class _EstimatingEncoder:
    """Stands in for tiktoken when its files are missing: one token per four characters."""

    def encode_ordinary(self, text: str) -> list[int]:
        return [0] * ((len(text) + 3) // 4)

    def decode(self, tokens: list[int]) -> str:  # pragma: no cover - only used for truncation
        raise NotImplementedError


_encoders: dict[str, _Encoder] = {}
_lock = threading.Lock()


def encoder(name: str) -> _Encoder:
    """The tiktoken encoding `name`, loaded once per process."""
    found = _encoders.get(name)
    if found is not None:
        return found
    with _lock:
        if name not in _encoders:
            try:
                import tiktoken

                _encoders[name] = tiktoken.get_encoding(name)
            except Exception as error:  # offline without TIKTOKEN_CACHE_DIR, usually
                log.warning(
                    "tiktoken could not load %s (%s); token counts are estimated. Set "
                    "TIKTOKEN_CACHE_DIR to a folder holding the encoding files.",
                    name,
                    error,
                )
                _encoders[name] = _EstimatingEncoder()
        return _encoders[name]


@lru_cache(maxsize=4096)
def count_text(text: str, encoding: str) -> int:
    """Cached: every request repeats its roles and system prompt, and answers repeat too."""
    return len(encoder(encoding).encode_ordinary(text))


def count_messages(messages: Iterable[Mapping[str, Any]], encoding: str) -> int:
    """Prompt tokens of a chat request, as OpenAI's cookbook counts them: the same accounting
    as tuneloop's export and cost estimate (`curation.tokens`)."""
    return line_tokens(messages, lambda text: count_text(text, encoding))


def truncate(text: str, max_tokens: int, encoding: str) -> tuple[str, bool]:
    """`text` cut to at most `max_tokens` tokens, and whether it was cut."""
    if len(text.encode("utf-8")) <= max_tokens:
        return text, False  # a token holds at least one byte: this cannot be too long
    enc = encoder(encoding)
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return text, False
    if isinstance(enc, _EstimatingEncoder):
        return text[: max_tokens * 4], True
    return enc.decode(tokens[:max_tokens]), True
