"""Redaction of secrets (always, before storing) and personal data (in exports, by default).

A secret pasted into Slack must never reach the database, a training file or a model provider.
The patterns are deliberately specific (known token prefixes and shapes) so that ordinary prose
is not mangled; every match becomes a visible marker such as `[REDACTED:openai_key]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Order matters: the first alternative that matches at a position wins, so specific token
# formats come before the generic bearer-token rule.
_SECRET_PATTERNS: dict[str, str] = {
    "private_key": (
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?"
        r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----"
    ),
    "slack_token": r"\bxox[abposre]-[A-Za-z0-9-]{10,}",
    "slack_app_token": r"\bxapp-\d-[A-Za-z0-9-]{10,}",
    "slack_webhook": r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+",
    "openai_key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    "anthropic_key": r"\bsk-ant-[A-Za-z0-9_-]{20,}",
    "aws_access_key": r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b",
    "aws_secret_key": (
        r"\b(?i:aws_?secret_?(?:access_?)?key)\b[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}\b"
    ),
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}\b",
    "stripe_key": r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{20,}",
    "jwt": r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    "bearer_token": r"\b(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*",
    "password_assignment": r"\b(?i:password|passwd|pwd)\s*[:=]\s*\S{6,}",
}

_SECRETS = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _SECRET_PATTERNS.items()))

_PII_PATTERNS: dict[str, str] = {
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",
    # International or national numbers with at least 9 digits, allowing spaces, dots, dashes
    # and one parenthesised area code; short numbers (dates, amounts, ticket ids) are left be.
    "phone": (
        r"(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
        r"\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w|\.\d)"
    ),
}
_PII = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _PII_PATTERNS.items()))
_MIN_PHONE_DIGITS = 9


@dataclass(frozen=True, slots=True)
class SecretFinding:
    kind: str
    start: int
    end: int


def find_secrets(text: str) -> list[SecretFinding]:
    """Every secret-looking span in `text`."""
    return [
        SecretFinding(m.lastgroup or "secret", m.start(), m.end()) for m in _SECRETS.finditer(text)
    ]


def has_secret(text: str) -> bool:
    return _SECRETS.search(text) is not None


def redact_secrets(text: str) -> str:
    """Replace each secret with `[REDACTED:<kind>]`."""
    return _SECRETS.sub(lambda m: f"[REDACTED:{m.lastgroup}]", text)


def clean_for_storage(text: str) -> str:
    """What every door into the store applies: secrets redacted, NUL characters dropped
    (PostgreSQL text cannot hold them, and they carry no meaning in a chat message)."""
    return redact_secrets(text.replace("\x00", ""))


def _pii_marker(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "phone" and sum(c.isdigit() for c in match.group()) < _MIN_PHONE_DIGITS:
        return match.group()
    return f"[{(kind or 'pii').upper()}]"


def redact_pii(text: str) -> str:
    """Replace email addresses with `[EMAIL]` and phone numbers with `[PHONE]`."""
    return _PII.sub(_pii_marker, text)


def scrub_messages(
    messages: list[dict[str, Any]], redact: Callable[[str], str] = clean_for_storage
) -> list[dict[str, Any]]:
    """A copy of chat messages with `redact` applied to every string content."""
    return [
        {**m, "content": redact(m["content"])} if isinstance(m.get("content"), str) else dict(m)
        for m in messages
    ]
