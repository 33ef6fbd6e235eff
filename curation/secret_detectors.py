"""Yelp's detect-secrets plugin set, applied to chat text.

detect-secrets knows many token formats (Slack, AWS, Azure storage, GitHub, GitLab, npm,
PyPI, SendGrid, Twilio, Mailchimp, Discord, Telegram, IBM, Artifactory, Cloudant, Square,
Stripe, JWTs, private keys, credentials in URLs and secret-named assignments). Its plugins are
used as they ship, with three left out: the two high-entropy string plugins and the public IP
plugin. The entropy plugins flag any random-looking quoted word (a commit hash, an id in a code
sample), and an IP address is infrastructure or personal data (`curation.personal_data`), not a
secret. The keyword plugin runs with its quotes-required regexes (its unquoted form takes the
rest of a line of prose after "password:"); `curation.secret_rules` covers unquoted
assignments with a guard.

Its plugins are about 30 times slower than tiktoken on a paragraph, and export scans every
text, so a line is handed to them only when it holds what their token patterns need: a run of
12 or more token characters with a digit or a capital inside, or a URL with credentials
(secret-named assignments and URL credentials are tuneloop's own rules' job too, so nothing
is lost when the keyword plugin does not see a line). Plugins report secret values, not
places; each value is located in its line (every occurrence) and widened to the whole token
it sits in (some plugins report only part of one) to be redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

#: Plugins left out, by detect-secrets' `secret_type` (see the module docstring for why).
EXCLUDED = frozenset({"Base64 High Entropy String", "Hex High Entropy String", "Public IP (ipv4)"})

_GATE = re.compile(r"[A-Za-z0-9_+/=~.-]{12,}|://[^\s@]*@")
#: Token characters as b"a", everything else as b" ": `b"a" * 12 in text.translate(...)` says
#: in C, without a regex, whether a text has a run long enough for any plugin to look at.
TOKEN_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+/=~.-")
_TOKEN_TABLE = bytes(ord("a") if i in TOKEN_CHARS else ord(" ") for i in range(256))


def token_runs(text: str) -> bytes:
    """`text` with each token character as b"a" and every other byte as b" "."""
    return text.encode("utf-8", "surrogatepass").translate(_TOKEN_TABLE)


_INTERESTING_RUN = re.compile(r"[0-9]|[a-z][A-Z]|[A-Z]{2}")


@cache
def _plugins() -> tuple[Any, ...]:
    """One instance of each plugin in the set (imported when first needed: the package loads
    requests and its plugin registry)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes = get_mapping_from_secret_type_to_class()
    return tuple(cls() for kind, cls in sorted(classes.items()) if kind not in EXCLUDED)


def _kind(secret_type: str) -> str:
    """detect-secrets' secret type as a marker word: "AWS Access Key" -> "aws_access_key"."""
    return re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")


def _gated(line: str) -> bool:
    for match in _GATE.finditer(line):
        text = match.group()
        if not text[0].isalnum() or _INTERESTING_RUN.search(text) or "@" in text:
            return True
    return False


_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _whole_token(line: str, start: int, end: int) -> tuple[int, int]:
    """A reported value widened to the whole token it sits in. Some plugins report only part
    of a token: the Discord one the first 27 characters of a current token's last part, the
    GitLab one (its prefix is a capture group) just `glft`; the rest is the secret too."""
    while start > 0 and line[start - 1] in _WORD_CHARS and line[start] in _WORD_CHARS:
        start -= 1
    while end < len(line) and line[end] in _WORD_CHARS and line[end - 1] in _WORD_CHARS:
        end += 1
    return start, end


def _references(value: str) -> bool:
    """A value that names a secret rather than holding it (a template or a variable)."""
    from detect_secrets.filters.heuristic import (
        is_prefixed_with_dollar_sign,
        is_templated_secret,
    )

    return is_templated_secret(value) or is_prefixed_with_dollar_sign(value)


def detector_findings(text: str, runs: bytes | None = None) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) of every secret value the plugin set reports in `text`; `runs`:
    `token_runs(text)` when the caller has it."""
    runs = token_runs(text) if runs is None else runs
    if b"a" * 12 not in runs and "://" not in text:
        return
    offset = 0
    for line in text.splitlines(keepends=True):
        if len(line) >= 8 and _gated(line):
            for plugin in _plugins():
                for value in set(plugin.analyze_string(line)):
                    if len(value) < 3 or (
                        plugin.secret_type == "Secret Keyword" and _references(value)
                    ):
                        continue
                    kind = _kind(plugin.secret_type)
                    for found in re.finditer(re.escape(value), line):
                        start, end = _whole_token(line, found.start(), found.end())
                        yield kind, offset + start, offset + end
        offset += len(line)
