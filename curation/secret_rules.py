"""tuneloop's own secret rules: each kind of secret as a pattern, the literal hints that let
`curation.scrub` try it only where it can match, and the validator that keeps prose out.

Token formats by their prefixes, private keys with or without their END line (or in base64),
credentials in URLs of any scheme, secret-named assignments in every common syntax, credential
files (`.netrc`, `.pgpass`, docker's `config.json`), passwords given to command-line clients,
Authorization headers, cloud keys by shape and card numbers that pass the Luhn check. How they
are applied (and merged with detect-secrets' plugins) is `curation.scrub`'s business; this
module only says what a secret looks like. Order matters: see `SECRET_RULES`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from curation.personal_data import luhn_valid

Validator = Callable[[re.Match[str]], bool]


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One kind of secret: its pattern, and lower-case literal hints at least one of which
    every match contains. The hint test (`in` on the lower-cased text) is far cheaper than the
    regex, which then runs only on the few texts that could hold this kind of secret.

    The redacted span is the pattern's `secret` group when it has one (the value, not the
    name before it), else the whole match; `valid`, when given, must accept the match."""

    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]
    #: Every match starts with one of the hints: in ASCII text (where lower-casing keeps
    #: positions) the pattern is tried only where a hint starts, not along the whole text.
    anchored: bool = True
    valid: Validator | None = None


#: Where a pattern's leading word boundary also holds: after an escaped line break (a
#: backslash and an `n` touching the token), as in a JSON string pasted as text or a repr.
_WORD_START = r"(?:\b|(?<=\\[nrt]))"


def _rule(
    kind: str, pattern: str, *hints: str, anchored: bool = True, valid: Validator | None = None
) -> SecretRule:
    if pattern.startswith(r"\b"):
        pattern = _WORD_START + pattern[2:]
    return SecretRule(kind, re.compile(pattern), hints, anchored, valid)


def _entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_secret(value: str) -> bool:
    """An unquoted word after "password:" or "is" that reads like a password, not prose: a
    digit, a symbol, or a capital after the first letter."""
    value = value.rstrip(".,;:!?)")
    if len(value) < 3 or value.startswith(("[REDACTED", "<", "${", "{{", "%(")):
        return False
    return any(c.isdigit() or not c.isalnum() for c in value) or any(c.isupper() for c in value[1:])


_PLACEHOLDERS = re.compile(
    r"(?i)^(?:\[REDACTED|\$\{|\$[A-Z_]|\{\{|<[^>]*>$|%\(|os\.environ|getenv|process\.env|"
    r"none$|null$|nil$|true$|false$|\*+$|x+$|\.\.\.$|changeme$|"
    "$|''$)"
)


def _assigned(match: re.Match[str]) -> bool:
    """A secret-named assignment holds a value, not a reference, a placeholder or prose."""
    groups = match.groupdict()
    quoted = groups.get("qsecret") is not None
    value = groups.get("qsecret") if quoted else groups.get("secret")
    if not value or _PLACEHOLDERS.match(value) or (not quoted and "(" in value):
        return False  # a placeholder, or a call that fetches the secret
    start = match.start()
    if groups["name"].lower() == "pass" and start and match.string[start - 1].isalnum():
        return False  # "bypass=", "compass:"
    if quoted or (groups.get("op", "=") in {"=", ":=", "=>"} and not groups.get("space")):
        return True
    return _looks_secret(value)


#: Nouns after which a quoted value is the password itself, whatever it reads like ("the
#: password is 'tiger lily'"); after "secret" or "token" a quoted phrase may be prose.
_PASSWORD_NOUNS = frozenset({"password", "passwd", "passphrase", "pwd", "pw", "pin", "passcode"})


def _said(match: re.Match[str]) -> bool:
    """ "The password is Xy9", "the password is: Xy9", "the password is 'Bl4ck Cat'": an
    unquoted value counts when it reads like a password, a quoted one after a password noun
    always (unless a placeholder)."""
    quoted = match.group("qsecret")
    if quoted is None:
        return _looks_secret(match.group("secret"))
    if not quoted.strip() or _PLACEHOLDERS.match(quoted):
        return False
    return match.group("noun").lower() in _PASSWORD_NOUNS or _looks_secret(quoted)


#: Words that follow "my password is" in prose about a password rather than in one: states,
#: qualities, function words. A plain lower-case word there is taken for the password itself
#: unless it is one of these or reads like one (-ed, -ing, -ly).
_PROSE_AFTER_IS = frozenset(
    """a an the not no too so very still also just now always never already almost about
    being been getting going on off in out up over under at for from to of with without and
    or but if when because since until as like than that this these those it its my your
    our their his her same different new old wrong incorrect right correct invalid valid
    bad good fine ok okay weak strong long short case sensitive required needed mandatory
    optional empty blank missing unknown secret private safe unsafe temporary expired stuck
    locked gone lost broken due different special simple easy hard complex complicated one
    two three four five six seven eight nine ten some any all none nothing something reset set
    forgot forgotten sent shown stolen known taken""".split()  # noqa: SIM905 (a word list reads better as words)
)


def _told(match: re.Match[str]) -> bool:
    """ "My password is hunter": after a first-person "password is", a word counts unless it
    is prose ("my password is wrong", "... is not working", "... is locked")."""
    if match.group("qsecret") is not None:  # quoted: taken as given, spaces and all
        return bool(match.group("qsecret").strip()) and not _PLACEHOLDERS.match(
            match.group("qsecret")
        )
    value = match.group("secret").rstrip(".,;:!?)\"'")
    lowered = value.lower()
    if len(value) < 3 or _PLACEHOLDERS.match(value) or value.startswith(("[REDACTED", "<")):
        return False
    return lowered not in _PROSE_AFTER_IS and not lowered.endswith(("ed", "ing", "ly"))


def _flag_value(match: re.Match[str]) -> bool:
    """A credential given on a command line, not a variable, placeholder or numeric id."""
    groups = match.groupdict()
    value = groups.get("qsecret") or groups.get("secret") or ""
    return bool(value) and not (
        _PLACEHOLDERS.match(value) or value.isdigit() or value.startswith("-")
    )


def _named_value(match: re.Match[str]) -> bool:
    """A value after a name that only credentials carry (netrc's `password`, kubeconfig's
    `client-key-data`): anything but a placeholder; a netrc entry without `login`/`account`
    (a weaker sign that the text is a netrc file) only when the value reads like a password."""
    groups = match.groupdict()
    value = groups.get("qsecret") or groups.get("secret") or ""
    if not value or _PLACEHOLDERS.match(value):
        return False
    return groups.get("login", "") is not None or _looks_secret(value)


_PORT_PATH = re.compile(r"\d+/")


def _url_password(match: re.Match[str]) -> bool:
    """`scheme://host:8080/path/@scope`: a port and a path, not a password (a password may
    hold `/`, but not start with digits and a slash: that is where a port ends)."""
    return _PORT_PATH.match(match.group("secret")) is None


_HEX_ADDRESS = re.compile(r"[0-9A-Fa-f:.]+")
_LINE_BREAK = re.compile(r"\n|\\+[nr]")  # a line break, or one escaped in a repr or JSON


def _pgpass(match: re.Match[str]) -> bool:
    """A `.pgpass` line (host:port:database:user:password). An IPv6 address has the same
    colons, and a one-line log record can look alike: on a line of its own any value counts,
    inside a sentence only one that reads like a password."""
    secret = match.group("secret")
    if _HEX_ADDRESS.fullmatch(match.group()) or _PLACEHOLDERS.match(secret):
        return False
    text, start, end = match.string, match.start(), match.end()
    before = _LINE_BREAK.split(text[max(0, start - 200) : start])[-1]
    after = _LINE_BREAK.split(text[end : end + 200], maxsplit=1)[0]
    return not (before.strip() or after.strip()) or _looks_secret(secret)


_SENTRY_KEY = re.compile(r"[0-9a-f]{32}")


def _sentry_dsn(match: re.Match[str]) -> bool:
    """A Sentry DSN: a 32-hex public key before `@`, or any key on a Sentry host."""
    key = match.group("secret").split(":", 1)[0]
    return _SENTRY_KEY.fullmatch(key) is not None or "sentry" in match.group("host").lower()


def _random_word(match: re.Match[str]) -> bool:
    """Random base62 (upper and lower case and digits), not an identifier."""
    token = match.group()
    return (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    )


_PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY")


def _base64_private_key(match: re.Match[str]) -> bool:
    """Base64 of a PEM block that is a private key (kubeconfig's `client-key-data`, a Helm
    value), not of a certificate or a public key."""
    head = match.group()[:96]
    try:
        decoded = base64.b64decode(head[: len(head) // 4 * 4])
    except (binascii.Error, ValueError):
        return False
    return _PEM_PRIVATE_KEY.match(decoded) is not None


def _discord_bot_token(match: re.Match[str]) -> bool:
    """A Discord bot token's first part is the bot's numeric id in base64."""
    head = match.group("id")
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return decoded.isdigit()


_WORD_RUN = re.compile(r"[a-z]{7,}")


def _mixed_token(match: re.Match[str]) -> bool:
    """A 40-character key: upper and lower case and digits, and random (not a path or an
    identifier, which hold runs of lower-case letters that random text seldom has)."""
    token = match.group()
    return (
        _WORD_RUN.search(token) is None
        and any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
        and _entropy(token) >= 4.0
    )


def _basic_credentials(match: re.Match[str]) -> bool:
    try:
        decoded = base64.b64decode(match.group("secret") + "==", validate=False)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def _card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


_NAMES = (
    r"(?:password|passwd|passphrase|pwd|pass|secret|token|credentials?|connection[_-]?string|"
    r"(?:api|access|private|account|auth|client|master|encryption|signing|storage|"
    r"subscription)[_-]?(?:key|secret|token))(?:[_-]?(?:access[_-]?)?key|[_-]?id)?"
)
#: Where a secret-named assignment's name can start: a bare "key" is too common a name
#: (`primary_key=True`), so keys are found by their compound names.
_NAME_HINTS = (
    "pass", "pwd", "secret", "token", "credential", "connection", "api_key", "api-key",
    "apikey", "access_key", "access-key", "accesskey", "private_key", "private-key",
    "privatekey", "account_key", "accountkey", "auth_key", "authkey", "client_key",
    "master_key", "encryption_key", "signing_key", "storage_key", "subscription_key",
)  # fmt: skip
#: Blanks between words, a line break escaped as `\n` among them; a word that stops there.
_GAP = r"(?:\s|\\+[nrt])+"
_WORD = r"(?:[^\s\\]|\\+(?![nrt]))+"
_VALUE = r"(?:(?P<quote>\\*[\"'])(?P<qsecret>[^\n]*?)(?P=quote)|(?P<secret>[^\s;,'\"<>&]+))"

# Order matters: where two matches overlap they are merged under the earlier rule's kind, so
# specific token formats come before generic ones (Anthropic before OpenAI, both before
# bearer tokens and assignments).
SECRET_RULES: tuple[SecretRule, ...] = (
    _rule(
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        "private key",
        anchored=False,
    ),
    _rule(
        # A key cut off before its END line: the header and every body line after it (base64,
        # headers such as Proc-Type, JSON's \n escapes between lines).
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?:\s|\\+[nr])*(?:[A-Za-z0-9+/=]+|[A-Za-z-]+: [^\n]*))*",
        "private key",
        anchored=False,
    ),
    _rule(
        "private_key",
        r"PuTTY-User-Key-File-\d:[\s\S]*?(?:Private-MAC: *[0-9a-fA-F]+|\Z)",
        "putty-user-key-file",
    ),
    _rule(
        # Base64 of a PEM private key ("-----BEGIN " is LS0tLS1CRUdJTi): kubeconfig's
        # client-key-data, Helm values, Kubernetes secrets.
        "private_key",
        r"LS0tLS1CRUdJTi[A-Za-z0-9+/]*={0,2}",
        "ls0tls1crudjti",
        valid=_base64_private_key,
    ),
    _rule(
        # kubeconfig's client key, even cut short (client-certificate-data is public).
        "private_key",
        r"(?i:client-key-data)[\"']?\s*:\s*[\"']?(?P<secret>[A-Za-z0-9+/]{8,}={0,2})",
        "client-key-data",
        valid=_named_value,
    ),
    # Slack: bot, user, app-level, refresh, legacy, and the browser session's client token
    # (xoxc-) and its URL-encoded `d` cookie (xoxd-).
    _rule("slack_token", r"\bxox(?:[abposrec]|e\.xox[bp])-[A-Za-z0-9-]{10,}", "xox"),
    _rule("slack_token", r"\bxoxd-[A-Za-z0-9%/+=_-]{10,}", "xoxd-"),
    _rule("slack_app_token", r"\bxapp-\d-[A-Za-z0-9-]{10,}", "xapp-"),
    _rule(
        "slack_webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+",
        "hooks.slack.com",
        anchored=False,
    ),
    _rule("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", "sk-ant-"),
    _rule("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", "sk-"),
    _rule(
        "aws_access_key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA|A3T[A-Z0-9])"
        r"[A-Z0-9]{12,}\b",
        "akia", "asia", "abia", "acca", "agpa", "aida", "aipa", "anpa", "anva", "apka",
        "aroa", "asca", "a3t",
    ),
    _rule(
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
        "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    ),
    _rule(
        # Every GitLab prefix (personal, deploy, runner, pipeline trigger, CI build, feed,
        # OAuth, incoming mail, agent, OAuth app) and runner registration tokens.
        "gitlab_token",
        r"\b(?:gl(?:pat|dt|rt|ptt|cbt|ft|soat|imt|agent|oas)-|GR1348941)[A-Za-z0-9_-]{20,}",
        "glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glft-", "glsoat-", "glimt-",
        "glagent-", "gloas-", "gr1348941",
    ),
    _rule("alibaba_access_key", r"\bLTAI[A-Za-z0-9]{12,20}\b", "ltai"),
    _rule("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}", "hf_"),
    _rule("npm_token", r"\bnpm_[A-Za-z0-9]{36}", "npm_"),
    _rule("digitalocean_token", r"\bdo[por]_v1_[a-f0-9]{64}", "dop_v1_", "doo_v1_", "dor_v1_"),
    _rule("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}", "aiza"),
    _rule("google_oauth_token", r"\bya29\.[0-9A-Za-z_-]{20,}", "ya29."),
    _rule("google_oauth_secret", r"\bGOCSPX-[A-Za-z0-9_-]{24,}", "gocspx-"),
    _rule("databricks_token", r"\bdapi[a-f0-9]{32,}(?:-\d+)?", "dapi"),
    _rule("shopify_token", r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32,}", "shpat_", "shpss_",
          "shpca_", "shppa_"),
    _rule("vault_token", r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}", "hvs.", "hvb.", "hvr."),
    _rule("groq_key", r"\bgsk_[A-Za-z0-9]{40,}", "gsk_"),
    _rule("notion_token", r"\bntn_[A-Za-z0-9]{40,}", "ntn_"),
    _rule("notion_token", r"\bsecret_[A-Za-z0-9]{40,}", "secret_",
          valid=_random_word),
    _rule("postman_key", r"\bPMAK-[A-Za-z0-9]{20,}-[A-Za-z0-9]{30,}", "pmak-"),
    _rule("sentry_token", r"\bsntry[su]_[A-Za-z0-9+/=_-]{30,}", "sntrys_", "sntryu_"),
    _rule("grafana_token", r"\b(?:glsa_[A-Za-z0-9_]{32,}|glc_[A-Za-z0-9+/]{32,}={0,2})",
          "glsa_", "glc_"),
    _rule("atlassian_token", r"\bATATT3[A-Za-z0-9_=-]{30,}", "atatt3"),
    _rule("pulumi_token", r"\bpul-[a-f0-9]{40}", "pul-"),
    _rule("okta_token", r"\b(?i:ssws)\s+(?P<secret>[A-Za-z0-9_-]{20,})", "ssws"),
    _rule("age_secret_key", r"\bAGE-SECRET-KEY-1[0-9A-Z]{50,}", "age-secret-key-1"),
    _rule(
        # A Twilio auth token is bare hex: only next to the word Twilio.
        "twilio_auth_token",
        r"(?i:twilio)[^\n]{0,80}?(?<![A-Za-z0-9])(?P<secret>[0-9a-fA-F]{32})(?![A-Za-z0-9])",
        "twilio",
    ),
    _rule(
        "discord_webhook",
        r"(?:https?://)?(?:[a-z]+\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/\d+/"
        r"[A-Za-z0-9_-]{20,}",
        "discord",
        anchored=False,
    ),
    _rule(
        # docker's config.json: "auth" is base64 of user:password.
        "docker_auth",
        r"(?<=\")(?i:auth)\\*\"\s*:\s*\\*\"(?P<secret>[A-Za-z0-9+/]{4,}={0,2})\\*\"",
        'auth"', 'auth\\"',
        valid=_basic_credentials,
    ),
    _rule(
        "stripe_key",
        r"\b(?:[sr]k_(?:live|test)_[A-Za-z0-9]{20,}|whsec_[A-Za-z0-9]{20,})",
        "k_live_",
        "k_test_",
        "whsec_",
        anchored=False,
    ),
    _rule("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", "eyj"),
    _rule(
        "azure_key",
        r"(?i:AccountKey|SharedAccessKey|SharedSecret|sig)=(?!\[REDACTED)(?P<secret>[^;\s&\"'<>]+)",
        "accountkey=", "sharedaccesskey=", "sharedsecret=", "sig=",
    ),
    _rule(
        "azure_client_secret",
        r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
        "q~",
        anchored=False,
    ),
    _rule(
        # A Sentry DSN's key is its userinfo, with no password after it.
        "sentry_dsn",
        r"https?://(?P<secret>[A-Za-z0-9]{6,}(?::[A-Za-z0-9]+)?)@(?P<host>[A-Za-z0-9.-]+)"
        r"(?::\d+)?/(?:[\w.-]+/)*\d+(?![\w/])",
        "http://", "https://",
        valid=_sentry_dsn,
    ),
    _rule(
        # The userinfo ends at the last @ before the host, so a password may hold @, #, /, +
        # and = (`postgres://app:p@ss#w0rd!@db`, `mongodb://root:Ab/cd+ef=@mongo`).
        "url_password",
        r"\b[A-Za-z][A-Za-z0-9+.-]*://(?!\[REDACTED)[^\s:/?#@<>|\"']*:(?!\[REDACTED)"
        r"(?P<secret>[^\s<>|\"'`]+)@(?=[A-Za-z0-9\[])",
        "://",
        anchored=False,
        valid=_url_password,
    ),
    _rule(
        "authorization_header",
        r"(?i:(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?"
        r"(?:(?i:basic|bearer|token|digest|negotiate|apikey|ssws|aws4-hmac-sha256)\s+)?+"
        r"(?!\[REDACTED)(?P<secret>[^\s\"']{6,})",
        "authorization",
    ),
    _rule("bearer_token", r"\b(?i:bearer)\s+(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)", "bearer"),
    _rule(
        "basic_auth",
        r"\b(?i:basic)\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})",
        "basic",
        valid=_basic_credentials,
    ),
    _rule(
        "secret_assignment",
        rf"(?i:(?P<name>{_NAMES}))(?:[_-]?(?i:id))?\\*[\"'\]]?(?P<space>\s*)"
        rf"(?P<op>:=|=>|=|:)\s*{_VALUE}",
        *_NAME_HINTS,
        valid=_assigned,
    ),
    _rule(
        "secret_assignment",
        rf"(?i:(?P<name>--?[a-z-]*(?:password|passwd|secret|token|api-key)))[ =]{_VALUE}",
        "-",
        valid=_assigned,
    ),
    _rule(
        # A .netrc entry: machine HOST login USER password PW, on one line or several (their
        # breaks may be escaped, as in a log line's repr or a JSON string).
        "netrc_password",
        rf"\b(?:machine{_GAP}{_WORD}|default(?={_GAP}(?:login|account)\b))"
        rf"(?P<login>(?:{_GAP}(?:login|account|port){_GAP}{_WORD})+)?{_GAP}password{_GAP}"
        rf"(?P<secret>{_WORD})",
        "machine", "default",
        valid=_named_value,
    ),
    _rule(
        # "the password is Xy9", "The password is: Xy9", "the password is 'Bl4ck Cat'", "the
        # password for the admin panel is letmein123".
        "password_said",
        r"(?i:\b(?P<noun>password|passwd|passphrase|pwd|pw|pin|passcode|token|secret)"
        r"(?:\s+(?:for|to|of|on|at|in)(?:\s+[\w@.'/-]+){1,4}?)?\s+(?:is|was)(?:\s*[:=]\s*|\s+))"
        r"(?:(?P<quote>[\"'])(?P<qsecret>[^\n]+?)(?P=quote)(?!\w)|(?P<secret>\S+))",
        "pass", "pw", "pin", "token", "secret",
        valid=_said,
    ),
    _rule(
        # "my password is hunter", "... is: hunter", "my new pw will be hunter", "I changed
        # my password to hunter": said in the first person, a plain word is one too.
        "password_said",
        r"(?i:\b(?:my|our)\s+(?:[\w-]+\s+){0,2}?"
        r"(?:password|passwd|passphrase|pwd|pw|pin|passcode)"
        r"(?:\s+(?:is\s+now|will\s+be|is|was)\s*[:=]?|\s*[:=]|\s+to)\s+)"
        r"(?:(?P<quote>[\"'])(?P<qsecret>[^\n]+?)(?P=quote)(?!\w)"
        r"|(?P<secret>[^\s,;]+?)(?=[.,;:!?)\"']*(?:\s|$)))",
        "pass", "pin", "pw",
        anchored=False,
        valid=_told,
    ),
    _rule(
        # Database and registry clients take a password as a flag: mysql -pS3cret (attached),
        # sshpass -p x, docker/podman/helm login -p x, redis-cli -a x.
        "command_line_password",
        r"\b(?:(?:mysql(?:dump|admin|import|sh)?|mariadb(?:-dump|-admin)?)\b[^\n|;&]*?\s-p"
        r"|(?:sshpass|(?:docker|podman|buildah|skopeo|helm\s+registry|oras)\s+login)\b"
        r"[^\n|;&]*?\s-p\s*"
        r"|redis-cli\b[^\n|;&]*?\s-a\s+)"
        r"(?:(?P<quote>['\"])(?P<qsecret>[^\n]*?)(?P=quote)|(?P<secret>[^\s'\"]+))",
        "mysql", "mariadb", "sshpass", "login", "redis-cli",
        anchored=False,
        valid=_flag_value,
    ),
    _rule(
        # curl -u user:password, --user=user:password (an id pair like 1000:1000 is not one).
        "command_line_password",
        r"(?<!\S)(?:-u|--user)(?:\s+|=)[^\s:'\"]+:(?P<secret>[^\s'\"]+)",
        "-u", "--user",
        anchored=False,
        valid=_flag_value,
    ),
    _rule(
        "cloud_secret_key",
        r"(?<![A-Za-z0-9/+=])(?:[A-Za-z0-9/+]{40}|[A-Za-z0-9/+]{86}==)(?![A-Za-z0-9/+=])",
        anchored=False,
        valid=_mixed_token,
    ),
    _rule(
        # A .pgpass line: host:port:database:user:password (`*` for any; `\:` escapes).
        "pgpass_password",
        r"(?:(?<![^\s\"'`])|(?<=\\[nr]))(?:\*|[A-Za-z0-9_.\[\]-]+):(?:\d{1,5}|\*):"
        r"(?:\*|[A-Za-z_][\w$.-]*):(?:\*|[A-Za-z_][\w$.@-]*):"
        r"(?P<secret>(?:\\+[:\\]|[^\s\\])+)",
        anchored=False,
        valid=_pgpass,
    ),
    _rule(
        # id (base64 digits) . timestamp . HMAC; detect-secrets' plugin takes ids of up to 26
        # characters and 27 of the HMAC's 27 to 38.
        "discord_bot_token",
        r"(?<![A-Za-z0-9_-])(?P<id>[MNO][A-Za-z0-9_-]{22,30})\.[A-Za-z0-9_-]{6,7}\."
        r"[A-Za-z0-9_-]{27,}",
        anchored=False,
        valid=_discord_bot_token,
    ),
    _rule(
        "card_number",
        r"(?<![\d-])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
        r"|\d{4}([ -]?)\d{6}\2\d{4,5}|\d{13,19})(?![\d-])",
        anchored=False,
        valid=_card,
    ),
    _rule(
        "card_security_code",
        r"(?i:\b(?:cvv2?|cvc2?|csc|cid|security code)\b)\s*[:=#]?\s*(?P<secret>\d{3,4})\b",
        "cvv", "cvc", "csc", "cid", "security code",
        anchored=False,
    ),
)  # fmt: skip

SECRET_KINDS: tuple[str, ...] = tuple(dict.fromkeys(rule.kind for rule in SECRET_RULES))
