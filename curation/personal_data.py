"""Personal data in training examples: found, redacted where a model only reads it, and never
rewritten where a model learns to say it.

The policy (the README's "Personal data" paragraph says it for people):

- prompts (system, user and tool messages, and earlier assistant turns that are context):
  personal data is replaced in exports by a marker of its kind (`[EMAIL]`); the model reads
  these turns but is not trained to write them, so it does not learn to say a marker;
- trained replies (the approved target, an imported turn of weight 1) are never rewritten: a
  reply that holds personal data goes to a person, who decides. A reviewer approving it sees
  what was found and must say `keep_personal_data` (or edit the reply); an import names the line
  and keeps it only when told `--keep-personal-data`;
- the team's own public contact details (a help-desk address and phone number) go on an allow
  list (`TUNELOOP_PII_ALLOW_LIST`): they are kept everywhere and never need a decision.

What counts: email addresses; phone numbers as Google's libphonenumber (the `phonenumbers`
package) finds valid ones, national formats read in `phone_regions` (so dates, IP addresses,
version numbers and ticket numbers are not phones); US social security numbers (dashed, or
written otherwise where called one: "SSN 123 45 6789"); IBANs that pass
their mod-97 check; card numbers that pass the Luhn check; IP addresses outside the private,
loopback, link-local and shared ranges (an office DNS server is infrastructure, a home address
identifies a person); street addresses (a number, a name and a street word, as "221B Baker
Street") and UK postcodes. Names of people are not found: that needs a language model (Presidio
would want a spaCy model downloaded), which an offline install does not have.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

KINDS = ("email", "phone", "ssn", "iban", "card", "ip_address", "address", "postcode")
#: The marker each kind becomes in a prompt.
MARKERS = {kind: f"[{kind.upper()}]" for kind in KINDS}

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
#: An SSN written without dashes ("123 45 6789", "123456789") is an SSN only where it is called
#: one: nine digits alone are as often a case or order number.
_SSN_NAMED = re.compile(
    r"(?i:\b(?:ssn|ss#|social[ -]security(?:[ -](?:number|no\.?|#))?)(?!\w))"
    r"(?:\s*(?:is|was|:|#|=|number|no\.?)\s*|\s+)"
    r"(?P<ssn>(?!000|666|9\d\d)\d{3}([ .]?)(?!00)\d{2}\2(?!0000)\d{4})(?![\d-])"
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_STREET_WORDS = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Close|Court|Ct|Place|"
    "Square|Sq|Terrace|Crescent|Gardens|Grove|Row|Walk|Mews|Parade|Hill|Loop|Circle|Cir|"
    "Highway|Hwy|Parkway|Pkwy|Trail|Plaza|Alley|Quay|Wharf"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,? (?:[A-Z][A-Za-z'-]+ ){{1,3}}(?:{_STREET_WORDS})\b\.?"
    r"|\b(?:Rua|Avenida|Travessa|Largo|Praça) (?:d[aeo]s? )?(?:[A-ZÀ-Ý][\w'-]+ ?){1,4},? \d{1,5}"
)
_POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) ?\d[ABD-HJLNP-UW-Z]{2}\b")
#: What every address and postcode holds (a number then a capitalised word, a capital by a
#: digit, a Portuguese street word): one scan that spares most texts the two patterns.
_PLACE_HINT = re.compile(
    r"\d[A-Za-z]?,? [A-Z]|[A-Z]\d|\d[A-Z]|(?:Rua|Avenida|Travessa|Largo|Praça) "
)
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


def _iban_valid(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


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
            if _iban_valid(m.group()):
                yield Finding("iban", m.start(), m.end(), m.group())
        for m in _CARD.finditer(text):
            compact = re.sub(r"\D", "", m.group())
            if 13 <= len(compact) <= 19 and luhn_valid(compact):
                yield Finding("card", m.start(), m.end(), m.group())
    if digits >= 4 and "." in text:
        for m in _IPV4.finditer(text):
            if _personal_ip(m.group()):
                yield Finding("ip_address", m.start(), m.end(), m.group())
    if text.count(":") >= 2:
        for m in _IPV6.finditer(text):
            if _personal_ip(m.group()):
                yield Finding("ip_address", m.start(), m.end(), m.group())
    if text.islower() or _PLACE_HINT.search(text) is None:
        return  # every address and postcode has a capital letter (islower: none in the text)
    for m in _ADDRESS.finditer(text):
        yield Finding("address", m.start(), m.end(), m.group().rstrip(" ,"))
    for m in _POSTCODE.finditer(text):
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
