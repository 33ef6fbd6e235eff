"""Secrets are always redacted; personal data is redacted in exports; prose is left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.scrub import find_secrets, has_secret, redact_secrets

SECRETS = {
    "slack_token": "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
    "slack_app_token": "xapp-1-A0123456789-0123456789012-abcdef0123456789",
    "openai_key": "sk-proj-" + "Ab3dEf6hIj9lMn2pQr5tUv8x" * 2,
    "aws_access_key": "AKIA" + "IOSFODNN7EXAMPLE",
    "aws_secret_key": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "github_token": "ghp_" + "a" * 36,
    "google_api_key": "AIza" + "SyA1234567890abcdefghijklmnopqrstuv",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "bearer_token": "Authorization: Bearer abcdefghijklmnop1234567890",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n"
    + "-----END RSA PRIVATE KEY-----",
    "password_assignment": "password: hunter2hunter2",
    "slack_webhook": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
    "anthropic_key": "sk-ant-api03-" + "Zx9Yw8Vu7Ts6" * 3,
    "stripe_key": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_each_kind_of_secret_is_found_and_redacted(kind: str) -> None:
    text = f"please help, here it is: {SECRETS[kind]} thanks"
    assert [f.kind for f in find_secrets(text)] == [kind]
    redacted = redact_secrets(text)
    assert f"[REDACTED:{kind}]" in redacted
    assert not has_secret(redacted)
    assert redacted.startswith("please help, here it is: ") and redacted.endswith(" thanks")


@pytest.mark.parametrize(
    "prose",
    [
        "Reset your password at login.fernhill.example; it needs 14 characters.",
        "Ask for a token budget of 2,000 in #it-help before 10:00.",
        "The skill-building budget is £1,000 a year (see sk-learning page).",
        "Expenses approved by the 15th are paid on the 25th of 2026-11.",
    ],
)
def test_ordinary_help_desk_prose_is_left_alone(prose: str) -> None:
    assert redact_secrets(prose) == prose


def test_every_secret_pattern_has_a_prefilter_hint() -> None:
    """The cheap prefilter must be a superset of the patterns, or secrets slip through."""
    from curation.scrub import _SECRET_RULES

    assert sorted(SECRETS) == sorted(rule.kind for rule in _SECRET_RULES)
    for rule in _SECRET_RULES:
        sample = SECRETS[rule.kind]
        match = rule.pattern.search(sample)
        assert match is not None, rule.kind
        assert any(hint in match.group().lower() for hint in rule.hints), rule.kind


def test_overlapping_matches_keep_the_most_specific_kind() -> None:
    text = f"Authorization: Bearer {SECRETS['openai_key']}"
    assert [f.kind for f in find_secrets(text)] == ["bearer_token"]
    assert redact_secrets(f"two: {SECRETS['slack_token']} and {SECRETS['github_token']}") == (
        "two: [REDACTED:slack_token] and [REDACTED:github_token]"
    )


def _full_scan(text: str) -> list[tuple[str, int, int]]:
    """The reference: every rule's pattern along the whole text, overlaps resolved as
    find_secrets resolves them."""
    from curation.scrub import _SECRET_RULES, SECRET_KINDS

    found = [(r.kind, m.start(), m.end()) for r in _SECRET_RULES for m in r.pattern.finditer(text)]
    kept: list[tuple[str, int, int]] = []
    for kind, start, end in sorted(found, key=lambda f: (f[1], SECRET_KINDS.index(f[0]), -f[2])):
        if not kept or start >= kept[-1][2]:
            kept.append((kind, start, end))
    return kept


_FRAGMENTS = st.sampled_from(
    [
        "xoxb-", "xapp-1-", "sk-", "sk-ant-", "AKIA", "ghp_", "AIza", "eyJ", ".eyJ", "Bearer ",
        "password", "PWD", "passwd", ": ", "=", " ", "-", "_", ".", "\n", "desk-", "é",
        "aB3dE6gH9", "0123456789", "ABCDEFGHIJKLMNOP", "abcdefghijklmnopqrstuvwxyz",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=30).map("".join))
def test_the_fast_secret_scan_finds_exactly_what_a_full_scan_finds(text: str) -> None:
    assert [(f.kind, f.start, f.end) for f in find_secrets(text)] == _full_scan(text)
