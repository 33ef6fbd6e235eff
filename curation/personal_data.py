"""Personal data in training examples: found, redacted where a model only reads it, and never
rewritten where a model learns to say it.

The policy (the README's "Personal data" paragraph says it for people), for every text of a
message (`curation.message_texts`: content and its text parts, refusal, the arguments of tool
and function calls):

- prompts (system, user and tool messages, and earlier assistant turns that are context, a DPO
  line's input): personal data is replaced in exports by a marker of its kind (`[EMAIL]`); the
  model reads these turns but is not trained to write them, so it does not learn to say a
  marker;
- trained replies (the approved target, an imported turn of weight 1, both outputs of a DPO
  line) are never rewritten: a reply that holds personal data goes to a person, who decides. A
  reviewer approving it sees what was found and must say `keep_personal_data` (or edit the
  reply); an import names the line and keeps it only when told `--keep-personal-data`;
- the team's own public contact details (a help-desk address and phone number) go on an allow
  list (`TUNELOOP_PII_ALLOW_LIST`): they are kept everywhere and never need a decision.

What counts: email addresses, whatever letters they are written in; phone numbers as Google's
libphonenumber (the `phonenumbers` package) finds valid ones, national formats read in
`phone_regions` (so dates, IP addresses, version numbers and ticket numbers are not phones); US
social security numbers (dashed, or in any spacing where called one: "SSN 123 45 6789", "SSN is:
123456789"); IBANs of a country that uses them, of its length, that pass their mod-97 check;
card numbers that pass the Luhn check; IP addresses outside the private, loopback, link-local
and shared ranges (an office DNS server is infrastructure, a home address identifies a person),
unless a version word comes before ("version 1.0.0.1", "upgrade to 4.2.1.3"); street addresses
(a number, a name and a street word, as "221B Baker Street" or "42 elm st") and UK postcodes of
a real postcode area, in upper or lower case. Names of people are not found: that needs a
language model (Presidio would want a spaCy model downloaded), which an offline install does not
have.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from curation.personal_data_formats import IBAN_LENGTHS, UK_POSTCODE_AREAS

KINDS = ("email", "phone", "ssn", "iban", "card", "ip_address", "address", "postcode")
#: The marker each kind becomes in a prompt.
MARKERS = {kind: f"[{kind.upper()}]" for kind in KINDS}

#: The whole local part, whatever its letters ("josé.silva@exemplo.pt"), and a domain whose
#: labels may be non-ASCII too (internationalised addresses, RFC 6531).
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[^\W_][\w-]*\.)+[^\W\d_]{2,}(?![\w-])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
#: An SSN written without dashes ("123 45 6789", "123456789") is an SSN only where it is called
#: one: nine digits alone are as often a case or order number. Between the name and the number
#: any spacing and punctuation ("SSN is: 123456789", "SSN - 123 45 6789", "my SSN, 123...").
_SSN_NAMED = re.compile(
    r"(?i:\b(?:ssn|ss#|social[ -]security(?:[ -](?:number|no\.?|#))?)(?!\w))"
    r"(?i:[\s:#=,.()\-\u2010-\u2015]|\b(?:is|was|number|no|num)\b){0,12}"
    r"(?P<ssn>(?!000|666|9\d\d)\d{3}[ .\-]?(?!00)\d{2}[ .\-]?(?!0000)\d{4})(?![\d-])"
)
#: Upper or lower case; a candidate counts when its country uses IBANs, it has that country's
#: length and it passes mod-97 (`_iban_end`).
_IBAN = re.compile(r"(?i)\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
#: A dotted quad right after one of these words is a version, not an address ("version
#: 1.0.0.1", "v1.0.0.1", "upgrade to 4.2.1.3", "Android 10.0.0.1"), and so is one with a
#: pre-release suffix ("1.0.0.1-beta").
_VERSION_BEFORE = re.compile(
    r"(?i)(?:\b(?:versions?|ver|v|releases?|rel|builds?|firmware|fw|patch|kernel|driver|"
    r"bios|sdk|os|ios|ipados|macos|android|chrome|chromium|firefox|safari|windows)\.?"
    r"|\b(?:upgrad|updat|downgrad|bump|pinn|roll(?:ed|ing)? back|rollback)"
    r"(?:e|es|ed|ing)?\s+to)\s*(?:[:=#]\s*|is\s+|was\s+)?v?$"
)
_VERSION_AFTER = re.compile(r"(?i)[-+~](?:alpha|beta|rc|dev|pre|preview|snapshot|build)")
#: Street words a number and a name (each word capitalised: "221B Baker Street") end with;
#: after such a name in any case only those of `_LOWER_STREET_WORDS` ("42 Elm st", not
#: "Windows 11 Pro drive").
_STREET_WORDS = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Close|Court|Ct|Place|"
    "Square|Sq|Terrace|Crescent|Gardens|Grove|Row|Walk|Mews|Parade|Hill|Loop|Circle|Cir|"
    "Highway|Hwy|Parkway|Pkwy|Trail|Plaza|Alley|Quay|Wharf"
)
#: All in lower case ("42 elm st"), an address needs a street word that is not also an everyday
#: word ("a 2 minute walk", "a 4 TB drive"), and a name of one or two words that are not small
#: words ("3 times down the road") or street words ("a 2 way street").
_LOWER_STREET_WORDS = (
    "street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|terrace|crescent|highway|hwy|parkway|pkwy"
)
_NOT_NAMES = (
    "the|a|an|to|of|on|in|at|by|for|from|into|onto|off|up|down|along|across|over|per|with|"
    "and|or|but|my|your|our|his|her|their|its|this|that|these|those|is|are|was|were|be|"
    "way|lane|road|street|more|other|each|every|all|some"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,? (?:[A-Z][A-Za-z'-]+ ){{1,3}}"
    rf"(?:{_STREET_WORDS}|{_STREET_WORDS.upper()}|(?i:{_LOWER_STREET_WORDS}))\b\.?"
    rf"|\b\d{{1,5}}[a-z]?,? (?:(?!(?:{_NOT_NAMES})\b)[a-z][a-z'-]+ ){{1,2}}"
    rf"(?i:{_LOWER_STREET_WORDS})\b\.?"
    r"|\b(?:Rua|Avenida|Travessa|Largo|Praça) (?:d[aeo]s? )?(?:[A-ZÀ-Ý][\w'-]+ ?){1,4},? \d{1,5}"
)
#: Upper or lower case ("NW1 6XE", "nw1 6xe"); the letters before the first digit must be a UK
#: postcode area.
_POSTCODE = re.compile(
    r"(?i)\b(?P<area>[A-Z]{1,2})\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b|\bGIR ?0AA\b"
)
#: What every address and postcode holds but a Portuguese one, which names its street word:
#: a digit by a letter ("NW1", "6XE", "221B") or before a word ("42 elm st", "1, Infinite").
#: One scan, led by a digit, that spares most texts the two patterns.
_PLACE_HINT = re.compile(r"\d(?:,? ?[A-Za-z]|(?<=[A-Za-z]\d))")
_PORTUGUESE_STREETS = ("Rua ", "Avenida ", "Travessa ", "Largo ", "Praça ")
_DIGITS = re.compile(r"\d")
#: Ranges that name machines of an organisation, not people (RFC 1918, loopback, link-local,
#: shared address space, ULA); documentation ranges stand for public addresses and count.
_INFRASTRUCTURE = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "0.0.0.0/32",
        "255.255.255.255/32",
        "224.0.0.0/4",
        "::1/128",
        "::/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data: its kind, where it is, and the text found."""

    kind: str
    start: int
    end: int
    text: str

    def __str__(self) -> str:
        shown = self.text.encode("utf-8", "backslashreplace").decode()
        return f"{self.kind} {shown!r}"


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (card numbers, ISO/IEC 7812-1)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _iban_end(text: str, start: int, end: int) -> int | None:
    """Where the IBAN that a match of `_IBAN` at `start` starts ends, or None when it is not
    one: its country's length decides how much of the match it is (a word after it may have
    the shape of one more group), and that much must end a word and pass mod-97."""
    length = IBAN_LENGTHS.get(text[start : start + 2].upper())
    if length is None:
        return None
    taken, stop = 0, start
    while stop < end and taken < length:
        taken += text[stop] != " "
        stop += 1
    if taken < length or (stop < len(text) and text[stop].isalnum()):
        return None
    compact = text[start:stop].replace(" ", "").upper()
    moved = compact[4:] + compact[:4]
    return stop if int("".join(str(int(c, 36)) for c in moved)) % 97 == 1 else None


def _is_version(text: str, start: int, end: int) -> bool:
    """Whether the dotted quad at `start` is a version number by the words around it."""
    return bool(
        _VERSION_BEFORE.search(text, max(0, start - 40), start) or _VERSION_AFTER.match(text, end)
    )


def _personal_ip(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not any(address.version == net.version and address in net for net in _INFRASTRUCTURE)


def _compact(text: str) -> str:
    return re.sub(r"[\s().-]", "", text).casefold()


@dataclass(frozen=True)
class PersonalDataPolicy:
    """What counts as personal data, and what a team keeps (`allow_list`: its own public
    contact details, compared as the kind is: addresses case-insensitively, phone numbers as
    E.164 numbers whatever their format, the rest without spaces)."""

    allow_list: tuple[str, ...] = ()
    #: Regions (ISO 3166 codes) whose national phone formats are read: "(415) 555-2671" is a US
    #: number, "020 7946 0958" a UK one. A number with its +country code is read anywhere.
    phone_regions: tuple[str, ...] = ("US", "GB")
    _cache: dict[str, tuple[Finding, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __hash__(self) -> int:
        # Export's text cache is keyed by the policy: hash it once, not on every lookup.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.allow_list, self.phone_regions))
            self.__dict__["_hash"] = cached
        return cached

    @cached_property
    def _allowed(self) -> frozenset[str]:
        allowed: set[str] = set()
        for entry in self.allow_list:
            allowed.add(_compact(entry))
            allowed.update(self._phone_numbers(entry))
            with contextlib.suppress(ValueError):
                allowed.add(str(ipaddress.ip_address(entry.strip())))
        return frozenset(allowed)

    def _phone_numbers(self, text: str) -> set[str]:
        import phonenumbers  # imported when first needed: its metadata is large

        found = set()
        for region in self.phone_regions:
            try:
                number = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                continue
            found.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        return found

    def _allowed_finding(self, finding: Finding) -> bool:
        allowed = self._allowed
        if not allowed:
            return False
        if finding.kind == "phone":
            return bool(self._phone_numbers(finding.text) & allowed)
        if finding.kind == "ip_address":
            return str(ipaddress.ip_address(finding.text)) in allowed
        return _compact(finding.text) in allowed

    def find(self, text: str) -> list[Finding]:
        """Every piece of personal data in `text` that the allow list does not keep, in order
        and without overlaps (the earlier, then the longer, wins)."""
        cached = self._cache.get(text)
        if cached is None:
            found = sorted(_candidates(text, self.phone_regions), key=lambda f: (f.start, -f.end))
            kept: list[Finding] = []
            for finding in found:
                if (not kept or finding.start >= kept[-1].end) and not self._allowed_finding(
                    finding
                ):
                    kept.append(finding)
            cached = tuple(kept)
            if len(self._cache) < 4096:  # the system prompt and common texts repeat
                self._cache[text] = cached
        return list(cached)

    def redact(self, text: str) -> str:
        """`text` with each finding replaced by its kind's marker (`[PHONE]`)."""
        findings = self.find(text)
        for finding in reversed(findings):
            text = f"{text[: finding.start]}{MARKERS[finding.kind]}{text[finding.end :]}"
        return text

    def describe(self, texts: Iterable[str]) -> list[str]:
        """Each finding in `texts`, as people read it (`email 'jane@x.example'`)."""
        return [str(finding) for text in texts for finding in self.find(text)]


def _candidates(text: str, regions: tuple[str, ...]) -> Iterator[Finding]:
    """Every match of every kind; cheap tests first, so most texts cost a few scans."""
    if "@" in text:
        yield from (Finding("email", m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text))
    digits = len(_DIGITS.findall(text)) if not text.isascii() else _ascii_digits(text)
    if digits == 0:
        return
    if digits >= 7:
        yield from _phones(text, regions)
        for m in _SSN.finditer(text):
            yield Finding("ssn", m.start(), m.end(), m.group())
        for m in _SSN_NAMED.finditer(text):
            yield Finding("ssn", m.start("ssn"), m.end("ssn"), m.group("ssn"))
        for m in _IBAN.finditer(text):
            stop = _iban_end(text, m.start(), m.end())
            if stop is not None:
                yield Finding("iban", m.start(), stop, text[m.start() : stop])
        for m in _CARD.finditer(text):
            compact = re.sub(r"\D", "", m.group())
            if 13 <= len(compact) <= 19 and luhn_valid(compact):
                yield Finding("card", m.start(), m.end(), m.group())
    if digits >= 4 and "." in text:
        for m in _IPV4.finditer(text):
            if _personal_ip(m.group()) and not _is_version(text, m.start(), m.end()):
                yield Finding("ip_address", m.start(), m.end(), m.group())
    if text.count(":") >= 2:
        for m in _IPV6.finditer(text):
            if _personal_ip(m.group()):
                yield Finding("ip_address", m.start(), m.end(), m.group())
    if _PLACE_HINT.search(text) is None and not any(w in text for w in _PORTUGUESE_STREETS):
        return
    for m in _ADDRESS.finditer(text):
        yield Finding("address", m.start(), m.end(), m.group().rstrip(" ,"))
    for m in _POSTCODE.finditer(text):
        if m.group("area") is None or m.group("area").upper() in UK_POSTCODE_AREAS:
            yield Finding("postcode", m.start(), m.end(), m.group())


def _ascii_digits(text: str) -> int:
    raw = text.encode("ascii")
    return len(raw) - len(raw.translate(None, b"0123456789"))


def _phones(text: str, regions: tuple[str, ...]) -> Iterator[Finding]:
    """Valid phone numbers (libphonenumber's VALID leniency: a number of a real plan, not any
    run of digits), read with each region's national format."""
    import phonenumbers

    seen: set[tuple[int, int]] = set()
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.VALID
        ):
            if (match.start, match.end) not in seen:
                seen.add((match.start, match.end))
                yield Finding("phone", match.start, match.end, match.raw_string)
