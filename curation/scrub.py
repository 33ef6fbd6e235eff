"""Redaction of secrets, always, before anything is stored (personal data: see
`curation.personal_data`).

A secret pasted into Slack must never reach the database, a training file or a model provider.
The patterns are deliberately specific (known token prefixes and shapes) so that ordinary prose
is not mangled; every match becomes a visible marker such as `[REDACTED:openai_key]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ahocorasick


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


@dataclass(frozen=True, slots=True)
class SecretFinding:
    kind: str
    start: int
    end: int


# Every hint, in one Aho-Corasick automaton (pyahocorasick): a single pass over the
# lower-cased text finds every hint and where it starts, which is also where a start-anchored
# pattern has to be tried.
_HINT_AUTOMATON = ahocorasick.Automaton()
for _rule_entry in _SECRET_RULES:
    for _hint in _rule_entry.hints:
        assert _hint not in _HINT_AUTOMATON, f"hint {_hint!r} is given twice"
        _HINT_AUTOMATON.add_word(_hint, (len(_hint), _rule_entry))
_HINT_AUTOMATON.make_automaton()


def _hint_starts(lower: str) -> dict[str, list[int]]:
    """Rule kind -> the positions where one of its hints starts."""
    starts: dict[str, list[int]] = {}
    for end, (length, rule) in _HINT_AUTOMATON.iter(lower):
        starts.setdefault(rule.kind, []).append(end - length + 1)
    return starts


def _rule_matches(
    rule: _SecretRule, text: str, starts: list[int], ascii_text: bool
) -> list[re.Match[str]]:
    if not (rule.anchored and ascii_text):
        return list(rule.pattern.finditer(text))
    matches = (rule.pattern.match(text, position) for position in sorted(set(starts)))
    return [match for match in matches if match is not None]


def find_secrets(text: str) -> list[SecretFinding]:
    """Every secret-looking span in `text`, in order, without overlaps."""
    starts = _hint_starts(text.lower())
    if not starts:
        return []
    ascii_text = text.isascii()  # lower() keeps positions in ASCII text only
    found = [
        SecretFinding(rule.kind, m.start(), m.end())
        for rule in _SECRET_RULES
        if rule.kind in starts
        for m in _rule_matches(rule, text, starts[rule.kind], ascii_text)
    ]
    if len(found) < 2:
        return found
    kept: list[SecretFinding] = []
    for finding in sorted(found, key=lambda f: (f.start, SECRET_KINDS.index(f.kind), -f.end)):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


def has_secret(text: str) -> bool:
    return bool(find_secrets(text))


def redact_secrets(text: str) -> str:
    """Replace each secret with `[REDACTED:<kind>]`."""
    findings = find_secrets(text)
    for finding in reversed(findings):
        text = f"{text[: finding.start]}[REDACTED:{finding.kind}]{text[finding.end :]}"
    return text


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_for_storage(text: str) -> str:
    """What every door into the store applies: secrets redacted, NUL characters dropped
    (PostgreSQL text cannot hold them, and they carry no meaning in a chat message), and an
    unpaired UTF-16 surrogate (which UTF-8 cannot encode) replaced by U+FFFD. Files refuse such
    a surrogate at the door instead (`curation.chat_format.check_text`); a Slack message has
    no one to refuse it to."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _LONE_SURROGATE.sub("\ufffd", text)
    return redact_secrets(text.replace("\x00", ""))


def scrub_value(value: Any, clean: Callable[[str], str] = clean_for_storage) -> Any:
    """A copy of a JSON value with `clean` applied to every string in it (message text, text
    parts, tool-call arguments, tool descriptions); keys are left as they are."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {key: scrub_value(item, clean) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_value(item, clean) for item in value]
    return value


def scrub_messages(
    messages: list[dict[str, Any]], redact: Callable[[str], str] = clean_for_storage
) -> list[dict[str, Any]]:
    """A copy of chat messages with `redact` applied to every string content."""
    return [
        {**m, "content": redact(m["content"])} if isinstance(m.get("content"), str) else dict(m)
        for m in messages
    ]
