"""Redaction of secrets, always, before anything is stored or sent to a model provider
(personal data: see `curation.personal_data`).

A secret pasted into Slack must never reach the database, a training file, a log or a model
provider. Two layers find them:

- tuneloop's own rules (`curation.secret_rules`: token formats, private keys, credentials in
  URLs and files, secret-named assignments, passwords given to command-line clients,
  Authorization headers, cloud keys by shape, card numbers with their security code);
- Yelp's detect-secrets plugin set (`curation.secret_detectors`), for the many formats it knows.

Matches become visible markers such as `[REDACTED:openai_key]`; only the secret part is
replaced (`postgres://admin:[REDACTED:url_password]@db`), so the rest of a message still
reads. Ordinary prose ("reset your password at ...", a token budget, dates, IP addresses,
version numbers) is left alone: an unquoted value after "password:" or "is" counts only when it
looks like one (a digit, a symbol or an inner capital).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ahocorasick

from curation.secret_detectors import detector_findings, token_runs
from curation.secret_rules import SECRET_KINDS, SECRET_RULES, SecretRule

#: Rules with no hint, and what a text needs for each to be tried: a run of 40 token
#: characters (a cloud key), of 59 (a Discord bot token), 13 digits (a card number), or 4
#: colons (a .pgpass line).
_CLOUD_KEY, _DISCORD, _CARD, _PGPASS = (
    next(rule for rule in SECRET_RULES if rule.kind == kind and not rule.hints)
    for kind in ("cloud_secret_key", "discord_bot_token", "card_number", "pgpass_password")
)
_DIGITS = b"0123456789"


@dataclass(frozen=True, slots=True)
class SecretFinding:
    kind: str
    start: int
    end: int


# Every hint, in one Aho-Corasick automaton (pyahocorasick): a single pass over the
# lower-cased text finds every hint and where it starts, which is also where a start-anchored
# pattern has to be tried.
_HINT_AUTOMATON = ahocorasick.Automaton()
for _rule_entry in SECRET_RULES:
    for _hint in _rule_entry.hints:
        _rules = _HINT_AUTOMATON.get(_hint, (len(_hint), ()))[1]
        _HINT_AUTOMATON.add_word(_hint, (len(_hint), (*_rules, _rule_entry)))
_HINT_AUTOMATON.make_automaton()


def _hint_starts(lower: str) -> dict[SecretRule, list[int]]:
    """Rule -> the positions where one of its hints starts."""
    starts: dict[SecretRule, list[int]] = {}
    for end, (length, rules) in _HINT_AUTOMATON.iter(lower):
        for rule in rules:
            starts.setdefault(rule, []).append(end - length + 1)
    return starts


def _span(match: re.Match[str]) -> tuple[int, int]:
    for group in ("qsecret", "secret"):
        if group in match.re.groupindex and match.group(group) is not None:
            return match.span(group)
    return match.span()


@functools.cache
def _hint_finder(rule: SecretRule) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(hint) for hint in rule.hints), re.IGNORECASE)


def _rule_matches(
    rule: SecretRule, text: str, starts: list[int] | None, ascii_text: bool
) -> list[tuple[int, int]]:
    if starts is None or not rule.anchored:
        matches = list(rule.pattern.finditer(text))
    else:
        if not ascii_text:
            # lower() can change lengths outside ASCII: find the hints in the text itself.
            starts = [m.start() for m in _hint_finder(rule).finditer(text)]
        found = (rule.pattern.match(text, position) for position in sorted(set(starts)))
        matches = [match for match in found if match is not None]
    return [_span(m) for m in matches if rule.valid is None or rule.valid(m)]


def _merged(own: list[SecretFinding], detected: list[SecretFinding]) -> list[SecretFinding]:
    """Overlapping spans as one, under the kind of the one that starts first (tuneloop's own
    rule, in rule order, on a tie), so no part of a secret survives between two findings."""
    ranked = [(f.start, 0, SECRET_KINDS.index(f.kind), -f.end, f) for f in own]
    ranked += [(f.start, 1, 0, -f.end, f) for f in detected]
    kept: list[SecretFinding] = []
    for *_, finding in sorted(ranked, key=lambda entry: entry[:4]):
        if kept and finding.start < kept[-1].end:
            last = kept[-1]
            kept[-1] = SecretFinding(last.kind, last.start, max(last.end, finding.end))
        else:
            kept.append(finding)
    return kept


def _own_findings(text: str, runs: bytes) -> list[SecretFinding]:
    starts = _hint_starts(text.lower())
    ascii_text = text.isascii()  # lower() keeps positions in ASCII text only
    found = [
        SecretFinding(rule.kind, start, end)
        for rule, positions in starts.items()
        for start, end in _rule_matches(rule, text, positions, ascii_text)
        if end > start
    ]
    if b"a" * 40 in runs:
        found += [
            SecretFinding(_CLOUD_KEY.kind, *span)
            for span in _rule_matches(_CLOUD_KEY, text, None, ascii_text)
        ]
    if b"a" * 59 in runs:
        found += [
            SecretFinding(_DISCORD.kind, *span)
            for span in _rule_matches(_DISCORD, text, None, ascii_text)
        ]
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) - len(raw.translate(None, _DIGITS)) >= 13:
        found += [
            SecretFinding(_CARD.kind, *span)
            for span in _rule_matches(_CARD, text, None, ascii_text)
        ]
    if text.count(":") >= 4:
        found += [
            SecretFinding(_PGPASS.kind, *span)
            for span in _rule_matches(_PGPASS, text, None, ascii_text)
        ]
    return found


def find_secrets(text: str) -> list[SecretFinding]:
    """Every secret-looking span in `text`, in order, without overlaps: tuneloop's own rules
    and detect-secrets' plugins together."""
    runs = token_runs(text)
    own = _own_findings(text, runs)
    detected = [
        SecretFinding(kind, start, end) for kind, start, end in detector_findings(text, runs)
    ]
    if len(own) + len(detected) < 2:
        return own + detected
    return _merged(own, detected)


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
