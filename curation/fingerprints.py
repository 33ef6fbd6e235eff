"""Content hashes for duplicate detection, and the deterministic train/eval split."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from curation.models.example import Split

_SPLIT_BUCKETS = 10_000


def normalise_text(text: str) -> str:
    """NFKC, trimmed, inner whitespace folded: two texts that read the same hash the same."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _normalised_messages(messages: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    return [
        [str(m.get("role", "")).strip().lower(), normalise_text(str(m.get("content") or ""))]
        for m in messages
    ]


def _sha256_json(value: Any) -> str:
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def prompt_hash(messages: Iterable[Mapping[str, Any]]) -> str:
    """Identity of a prompt (system, history, user turn), whatever its target."""
    return _sha256_json(["prompt", _normalised_messages(messages)])


def content_hash(messages: Iterable[Mapping[str, Any]], target: str) -> str:
    """Identity of an example: its normalised prompt messages and target reply."""
    return _sha256_json(["example", _normalised_messages(messages), normalise_text(target)])


def split_for(thread_key: str, eval_fraction: float) -> Split:
    """Train or eval, from a hash of the conversation thread alone.

    Every example from one thread lands on the same side, so a conversation never sits half
    in training and half in evaluation, and the answer never changes for a thread.
    """
    digest = hashlib.sha256(f"split:{thread_key}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % _SPLIT_BUCKETS
    return Split.EVAL if bucket < eval_fraction * _SPLIT_BUCKETS else Split.TRAIN
