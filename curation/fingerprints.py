"""Content hashes for duplicate detection, and the deterministic train/eval split."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from curation.chat_format import message_text
from curation.models.example import Split
from curation.training_line import canonical

_SPLIT_BUCKETS = 10_000
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t\f\v]*\n)+")


def normalise_text(text: str) -> str:
    """NFKC, trimmed, inner whitespace folded: two questions that read the same are one prompt."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def question_key(messages: Iterable[Mapping[str, Any]]) -> str:
    """What a conversation asks, whoever answers it and under whatever system prompt: its user
    turns, normalised (`normalise_text`), case folded and without closing punctuation, so "How
    do I reset my password?" and "how do I reset my password " ask one thing."""
    asked = [
        normalise_text(message_text(m.get("content"))).casefold().rstrip("?!.")
        for m in messages
        if m.get("role") == "user"
    ]
    return _sha256_json(["question", [" ".join(text.split()) for text in asked]])


def exact_text(text: str) -> str:
    """NFC, line ends as "\n", blank lines before the text and whitespace after it dropped,
    and nothing else: whitespace inside a text is content (the indentation of YAML or Python,
    the spaces in a code block, the first line's indentation against the next ones'), so a
    correction that only fixes it is a new answer, not a duplicate. A one-line text is trimmed
    at both ends: its indentation is against nothing."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    text = _LEADING_BLANK_LINES.sub("", text).rstrip()
    return text if "\n" in text else text.lstrip()


def _normalised_messages(messages: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    return [
        [str(m.get("role", "")).strip().lower(), normalise_text(message_text(m.get("content")))]
        for m in messages
    ]


def _message_identity(message: Mapping[str, Any]) -> list[str]:
    """A message as it trains: role, exact text, and any other key that changes the line (a
    name, tool calls, an earlier turn's weight 1: an untrained turn has no weight here)."""
    identity = [
        str(message.get("role", "")).strip().lower(),
        exact_text(message_text(message.get("content"))),
    ]
    others = {k: v for k, v in message.items() if k not in ("role", "content", "weight")}
    if message.get("role") == "assistant" and message.get("weight") == 1:
        others["weight"] = 1
    if others or not isinstance(message.get("content"), str | None):
        identity.append(canonical({**others, "content": message.get("content")}))
    return identity


def _sha256_json(value: Any) -> str:
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def prompt_hash(messages: Iterable[Mapping[str, Any]]) -> str:
    """Identity of a prompt (system, history, user turn), whatever its target."""
    return _sha256_json(["prompt", _normalised_messages(messages)])


def content_hash(
    messages: Iterable[Mapping[str, Any]],
    target: str,
    line_fields: Mapping[str, Any] | None = None,
) -> str:
    """Identity of an example: its prompt messages and target reply with their whitespace (see
    `exact_text`), and its other line fields (tools, a reply with more than text) if any."""
    identity: list[Any] = ["example", [_message_identity(m) for m in messages], exact_text(target)]
    if line_fields:
        identity.append(canonical(line_fields))
    return _sha256_json(identity)


def split_for(thread_key: str, eval_fraction: float) -> Split:
    """Train or eval, from a hash of the conversation thread alone.

    Every example from one thread lands on the same side, so a conversation never sits half
    in training and half in evaluation, and the answer never changes for a thread.
    """
    digest = hashlib.sha256(f"split:{thread_key}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % _SPLIT_BUCKETS
    return Split.EVAL if bucket < eval_fraction * _SPLIT_BUCKETS else Split.TRAIN
