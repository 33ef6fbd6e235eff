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


@dataclass(frozen=True, slots=True)
class _SecretRule:
    """One kind of secret: its pattern, and lower-case literal hints at least one of which
    every match contains. The hint test (`in` on the lower-cased text) is far cheaper than the
    regex, which then runs only on the few texts that could hold this kind of secret."""

    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]
    #: Every match starts with one of the hints: in ASCII text (where lower-casing keeps
    #: positions) the pattern is tried only where a hint starts, not along the whole text.
    anchored: bool = True


def _rule(kind: str, pattern: str, *hints: str, anchored: bool = True) -> _SecretRule:
    return _SecretRule(kind, re.compile(pattern), hints, anchored)


# Order matters: where two matches overlap, the earlier rule wins, so specific token formats
# come before generic ones (Anthropic before OpenAI, both before bearer tokens).
_SECRET_RULES: tuple[_SecretRule, ...] = (
    _rule(
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?"
        r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
        "private key-----",
        anchored=False,
    ),
    _rule("slack_token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}", "xox"),
    _rule("slack_app_token", r"\bxapp-\d-[A-Za-z0-9-]{10,}", "xapp-"),
    _rule(
        "slack_webhook",
        r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+",
        "hooks.slack.com",
        anchored=False,
    ),
    _rule("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", "sk-ant-"),
    _rule("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", "sk-"),
    _rule(
        "aws_access_key",
        r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b",
        "akia", "asia", "agpa", "aida", "aroa", "anpa",
    ),
    _rule(
        "aws_secret_key",
        r"\b(?i:aws_?secret_?(?:access_?)?key)\b[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}\b",
        "secret",
        anchored=False,
    ),
    _rule(
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
        "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    ),
    _rule("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b", "aiza"),
    _rule(
        "stripe_key",
        r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{20,}",
        "k_live_",
        "k_test_",
        anchored=False,
    ),
    _rule("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", "eyj"),
    _rule("bearer_token", r"\b(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*", "bearer"),
    _rule(
        "password_assignment",
        r"\b(?i:password|passwd|pwd)\s*[:=]\s*\S{6,}",
        "password", "passwd", "pwd",
    ),
)  # fmt: skip

SECRET_KINDS: tuple[str, ...] = tuple(rule.kind for rule in _SECRET_RULES)


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
# A superset of the phone pattern (a digit, then digits and separators, then a digit), cheap
# enough to decide whether the full PII pattern needs to run at all.
_PHONE_HINT = re.compile(r"\d[\d ().-]{7,}\d")


@dataclass(frozen=True, slots=True)
class SecretFinding:
    kind: str
    start: int
    end: int


# (hint, rule) pairs in one flat tuple: a single pass of cheap `in` tests per text.
_HINTS: tuple[tuple[str, _SecretRule], ...] = tuple(
    (hint, rule) for rule in _SECRET_RULES for hint in rule.hints
)


def _candidate_rules(lower: str) -> list[_SecretRule]:
    rules: list[_SecretRule] = []
    for hint, rule in _HINTS:
        if hint in lower and rule not in rules:
            rules.append(rule)
    return rules


def _anchored_matches(rule: _SecretRule, text: str, lower: str) -> list[re.Match[str]]:
    matches = []
    for hint in rule.hints:
        position = lower.find(hint)
        while position != -1:
            match = rule.pattern.match(text, position)
            if match is not None:
                matches.append(match)
            position = lower.find(hint, position + 1)
    return matches


def _rule_matches(rule: _SecretRule, text: str, lower: str) -> list[re.Match[str]]:
    if rule.anchored and text.isascii():
        return _anchored_matches(rule, text, lower)
    return list(rule.pattern.finditer(text))


def find_secrets(text: str) -> list[SecretFinding]:
    """Every secret-looking span in `text`, in order, without overlaps."""
    lower = text.lower()
    found: list[SecretFinding] = []
    for rule in _candidate_rules(lower):
        found.extend(
            SecretFinding(rule.kind, m.start(), m.end()) for m in _rule_matches(rule, text, lower)
        )
    if len(found) < 2:
        return found
    kept: list[SecretFinding] = []
    for finding in sorted(found, key=lambda f: (f.start, SECRET_KINDS.index(f.kind), -f.end)):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


def has_secret(text: str) -> bool:
    lower = text.lower()
    return any(_rule_matches(rule, text, lower) for rule in _candidate_rules(lower))


def redact_secrets(text: str) -> str:
    """Replace each secret with `[REDACTED:<kind>]`."""
    findings = find_secrets(text)
    for finding in reversed(findings):
        text = f"{text[: finding.start]}[REDACTED:{finding.kind}]{text[finding.end :]}"
    return text


def clean_for_storage(text: str) -> str:
    """What every door into the store applies: secrets redacted, NUL characters dropped
    (PostgreSQL text cannot hold them, and they carry no meaning in a chat message)."""
    return redact_secrets(text.replace("\x00", ""))


def _pii_marker(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "phone" and sum(c.isdigit() for c in match.group()) < _MIN_PHONE_DIGITS:
        return match.group()
    return f"[{(kind or 'pii').upper()}]"


def _might_hold_phone(text: str) -> bool:
    # A phone number has at least _MIN_PHONE_DIGITS digits; in ASCII text counting them is
    # cheap (other scripts have other digits, so they go straight to the pattern).
    if text.isascii():
        raw = text.encode("ascii")
        if len(raw) - len(raw.translate(None, b"0123456789")) < _MIN_PHONE_DIGITS:
            return False
    return _PHONE_HINT.search(text) is not None


def redact_pii(text: str) -> str:
    """Replace email addresses with `[EMAIL]` and phone numbers with `[PHONE]`."""
    if "@" not in text and not _might_hold_phone(text):
        return text
    return _PII.sub(_pii_marker, text)


def scrub_messages(
    messages: list[dict[str, Any]], redact: Callable[[str], str] = clean_for_storage
) -> list[dict[str, Any]]:
    """A copy of chat messages with `redact` applied to every string content."""
    return [
        {**m, "content": redact(m["content"])} if isinstance(m.get("content"), str) else dict(m)
        for m in messages
    ]
