"""Secrets are always redacted; personal data is redacted in exports; prose is left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.scrub import find_secrets, has_secret, redact_secrets
from tests.secret_cases import all_cases

SECRETS = {
    "slack_token": "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
    "slack_app_token": "xapp-1-A0123456789-0123456789012-abcdef0123456789",
    "openai_key": "sk-proj-" + "Ab3dEf6hIj9lMn2pQr5tUv8x" * 2,
    "aws_access_key": "AKIA" + "IOSFODNN7EXAMPLE",
    "secret_assignment": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "github_token": "ghp_" + "a" * 36,
    "google_api_key": "AIza" + "SyA1234567890abcdefghijklmnopqrstuv",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "bearer_token": "curl -H Bearer abcdefghijklmnop1234567890",
    "authorization_header": "Authorization: Basic YWRtaW46c3VwZXJzZWNyZXRiYXNpYw==",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n"
    + "-----END RSA PRIVATE KEY-----",
    "password_said": "my password is hunter2hunter2",
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


def test_overlapping_matches_keep_the_most_specific_kind() -> None:
    text = f"token: {SECRETS['openai_key']}"
    assert [f.kind for f in find_secrets(text)] == ["openai_key"]
    assert redact_secrets(f"two: {SECRETS['slack_token']} and {SECRETS['github_token']}") == (
        "two: [REDACTED:slack_token] and [REDACTED:github_token]"
    )


def _full_scan(text: str) -> list[tuple[str, int, int]]:
    """The reference: every rule's pattern at every place in the text (no hints, no gates), spans
    and validity as find_secrets takes them, overlaps merged as it merges them."""
    from curation.scrub import SecretFinding, _merged, _span
    from curation.secret_rules import SECRET_RULES

    found = []
    for rule in SECRET_RULES:
        if rule.anchored and rule.hints:  # tried at every position, overlapping ones too
            matches = [rule.pattern.match(text, at) for at in range(len(text))]
        else:
            matches = list(rule.pattern.finditer(text))
        found += [
            SecretFinding(rule.kind, *_span(m))
            for m in matches
            if m is not None and (rule.valid is None or rule.valid(m))
        ]
    return [(f.kind, f.start, f.end) for f in _merged([f for f in found if f.end > f.start], [])]


_FRAGMENTS = st.sampled_from(
    [
        "xoxb-", "xapp-1-", "sk-", "sk-ant-", "AKIA", "ghp_", "AIza", "eyJ", ".eyJ", "Bearer ",
        "password", "PWD", "passwd", ": ", "=", " ", "-", "_", ".", "\n", "desk-", "é",
        "aB3dE6gH9", "0123456789", "ABCDEFGHIJKLMNOP", "abcdefghijklmnopqrstuvwxyz",
        " is ", "://", "@", '"', "api_key", "secret", "token", "4111 1111 1111 1111",
        "cvv ", "-----BEGIN PRIVATE KEY-----", "Authorization: ", "AccountKey=", "Q~",
        "machine ", " login ", " password ", ":5432:", ":", "'", "twilio ", "GR1348941",
        "discord.com/api/webhooks/1/", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t", '"auth": "',
        "Ym9iOnB3", "https://", "sentry.io/1", "xoxd-", "glft-", "SSWS ",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=30).map("".join))
def test_the_fast_secret_scan_finds_exactly_what_a_full_scan_finds(text: str) -> None:
    """Hints and gates only save time: tuneloop's own rules find exactly what running every
    pattern along the whole text finds."""
    from curation.scrub import _merged, _own_findings
    from curation.secret_detectors import token_runs

    own = _merged(_own_findings(text, token_runs(text)), [])
    assert [(f.kind, f.start, f.end) for f in own] == _full_scan(text)


@pytest.mark.parametrize(("name", "text", "secret"), all_cases(), ids=[c[0] for c in all_cases()])
def test_every_field_case_and_variation_is_redacted(name: str, text: str, secret: str) -> None:
    redacted = redact_secrets(text)
    assert secret not in redacted, redacted
    assert "[REDACTED:" in redacted and redact_secrets(redacted) == redacted


@pytest.mark.parametrize(
    "prose",
    [
        "Password: reset it in Okta, then sign in again.",
        "Server 10.1.2.3 runs version 2.14.3; the window is 2026-11-30 2026-12-04.",
        "Your token is ready: check your email.",
        "max_tokens=256 and temperature=0.2",
        "Use the bypass=true flag.",
        "Call +44 20 7946 0958 or email help@fernhill.example",
        "The secret is to restart the router.",
        "See https://wiki.fernhill.example/it/vpn-setup-guide-2026",
        "Press Ctrl+Alt+Del, then choose Change a password.",
        "Your API key is in the portal under Settings.",
        "Ticket 1234567890123 was closed.",
        "git checkout 3f9a2c1b7d8e4f5a6b7c8d9e0f1a2b3c4d5e6f7a",
        "Open src/components/UserProfileSettingsPanel1.tsx",
        "Basic training starts Monday.",
        "Set primary_key=True on the id column.",
        "const token = getToken();",
        "password = os.environ['DB_PASSWORD']",
        "password: ${DB_PASSWORD}",
        "IBAN GB82 WEST 1234 5698 7654 32",
        "UUID 123e4567-e89b-12d3-a456-426614174000",
        "My password is wrong, and my PIN is locked.",
        "my password is not working since Monday",
        "The password for the VPN is reset weekly.",
        "My password is the same as before.",
        "Our wifi password is case sensitive.",
        "my password was reset yesterday",
        "I reset my password to the default and it still fails.",
        "My password is now expired.",
        "I changed my pw to something stronger.",
        "my password: forgot it, how do I get a new one?",
        "docker run -u 1000:1000 app",
        "mysql -u root -p shop",
        "curl -u $USER:$TOKEN https://api.example",
        "Log in with -u your.name, then -p when asked.",
        "Our machine learning login page is down again.",
        "By default login shells read ~/.profile, and the default password policy applies.",
        "Turn on auth 2 factor: twilio sends the code by SMS.",
        "Edit secret_santa_list.xlsx and secret_key_rotation_schedule before Friday.",
        "The installer's md5 is 0123456789abcdef0123456789abcdef, as on the download page.",
        "client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=",
        "The password is: reset it in the portal.",
        "The secret is 'practice', said the trainer.",
        "Open http://localhost:8000/users/@me or https://www.npmjs.com/package/@scope/pkg",
        "Join us at https://discord.com/invite/fernhill and https://discord.com/channels/1/2",
        "Mirror: https://bob@mirror.example.org/pub/12",
        "Reach the router at fe80:0:0:0:1 or 2001:4860:4860:0:0:0:0:8888 over IPv6.",
        "ERROR:2026:billing:retry:timeout while connecting to the ledger",
        "The time was 10:30:00:120 on 2026:11:30.",
        '{"auth": "none", "auths": {}}',
        "Ask the dapi team about the shpat_ prefix and hvs. tokens.",
        "machine api.example.com login bob password ${NETRC_PASSWORD}",
    ],
)
def test_help_desk_prose_code_and_personal_data_are_not_secrets(prose: str) -> None:
    """Dates, IP addresses, version numbers, ticket numbers, a commit hash, references to a
    secret (not the secret) and personal data (the personal data policy's business) stay."""
    assert redact_secrets(prose) == prose
