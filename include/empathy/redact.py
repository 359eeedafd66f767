"""PII redaction: one function for everything that leaves the machine (LLM requests, Slack) and for what the UI shows.

What is replaced, in this order (each by a placeholder the reader understands):

- ``[EMAIL]``   email addresses;
- ``[IBAN]``    IBANs in any case and grouping (upper case shaped like an IBAN always; lower or mixed case
  when the ISO 7064 check digits are right, via python-stdnum);
- ``[CARD]``    payment cards: 13-19 digits with any separators (spaces, dashes, dots, underscores) that pass
  Luhn, or printed in a card layout (4-4-4-4, 4-6-5) whether or not Luhn passes;
- ``[SSN]``     US social security numbers, 3-2-4 digits with any spacing or dashes;
- ``[PHONE]``   phone numbers, international and national formats, found by Google's libphonenumber
  (``phonenumbers``) for the regions in ``PHONE_REGIONS``; a guard keeps order ids, ticket numbers,
  dates, amounts, IP and version numbers;
- ``[ADDRESS]`` street addresses as far as a pattern can (``12 Baker Street``, ``Hauptstraße 5``,
  ``12 rue de la Paix``, ``Via Roma 12``, PO boxes, UK postcodes, US state + ZIP);
- ``[NAME]``    the person's own names and email (their identify traits; see ``names_from_traits``).

It errs on the side of redacting: a false positive costs the reader a word, a false negative leaks a
person. ``bench/redact.py`` measures both the false positives on ordinary customer text and the speed.
"""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban as stdnum_iban
from stdnum import luhn

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
CARD = "[CARD]"
IBAN = "[IBAN]"
SSN = "[SSN]"
ADDRESS = "[ADDRESS]"
NAME = "[NAME]"

# National formats are read as in these regions (international ones, +CC or 00CC, from anywhere):
# United States/Canada, United Kingdom, France, Germany, India, Spain, Italy, the Netherlands,
# Australia, Brazil.
PHONE_REGIONS = ("US", "GB", "FR", "DE", "IN", "ES", "IT", "NL", "AU", "BR")
NAME_TRAITS = ("name", "firstName", "lastName", "first_name", "last_name", "email")

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")

# --- IBAN --------------------------------------------------------------------------------------------
# Country code, two check digits, then 11-30 alphanumerics: compact, or in groups of (usually) four.
_IBAN_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")


def _iban(match: re.Match) -> str:
    found = match.group(0)
    # The greedy match may have swallowed following words ("... 00 please"): the longest prefix of whole
    # groups with valid check digits wins; else the longest upper-case one shaped like an IBAN (an IBAN
    # with a typo is still an IBAN to a reader).
    pieces = re.split(r"([ \-])", found)
    heads = ["".join(pieces[:end]) for end in range(len(pieces), 0, -2)]
    for head in heads:
        compact = re.sub(r"[ \-]", "", head)
        if 15 <= len(compact) <= 34 and stdnum_iban.is_valid(compact.upper()):
            return IBAN + found[len(head):]
    for head in heads:
        compact = re.sub(r"[ \-]", "", head)
        if 15 <= len(compact) <= 34 and compact.isupper() and sum(c.isdigit() for c in compact) >= 6:
            return IBAN + found[len(head):]
    return found


# --- cards -------------------------------------------------------------------------------------------
_CARD_SEP = r"(?:[ \-._]{1,2})"
_CARD_RE = re.compile(rf"(?<![\w+.\-])\d(?:{_CARD_SEP}?\d){{12,18}}(?![\w])")
# Written the way cards are printed (4-4-4-4, Amex 4-6-5), one separator throughout: a card to any reader.
_CARD_LAYOUT_RE = re.compile(r"\d{4}([ \-._]{1,2})\d{4}\1\d{4}\1\d{4}|\d{4}([ \-._]{1,2})\d{6}\2\d{5}")


def _card(match: re.Match) -> str:
    """The longest run of whole digit groups (13-19 digits) that passes Luhn becomes [CARD]."""
    found = match.group(0)
    layout = _CARD_LAYOUT_RE.match(found)
    if layout:
        return CARD + found[layout.end():]
    pieces = re.split(r"([ \-._]{1,2})", found)  # digit groups and the separators between them
    for end in range(len(pieces), 0, -2):
        head = "".join(pieces[:end])
        digits = re.sub(r"\D", "", head)
        if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            return CARD + found[len(head):]
    return found


# --- SSN ---------------------------------------------------------------------------------------------
_SSN_RE = re.compile(r"(?<![\w\-.])(\d{3})(?:\s*-\s*|\s+)(\d{2})(?:\s*-\s*|\s+)(\d{4})(?![\w\-])")


def _ssn(match: re.Match) -> str:
    area, group, serial = match.groups()
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return match.group(0)
    return SSN


# --- phone numbers -----------------------------------------------------------------------------------
_DIGIT = re.compile(r"\d")
# A run of digits and the separators phone numbers use, up to 28 characters: where the matcher looks.
_PHONE_RUN = re.compile(r"\+?\(?\d(?:[\s().\-/]{0,3}\d){6,17}\)?")
MAX_PHONE_WINDOWS = 64
# What comes right before a number that makes it an identifier, not a phone number.
_ID_BEFORE = re.compile(
    r"(?i)(?:\b(?:order|invoice|inv|ticket|case|ref|reference|id|no|nr|num|tracking|transaction|txn|"
    r"receipt|po|sku|build|version|ver|error|code|port|pin|otp|serial|batch|job|request|req|issue|bug|pr|"
    r"commit|item|product|part|model|user|customer|member|acct|ip)\b\.?\s*[:#]?\s*|#\s*|[A-Za-z]-|[A-Za-z_/\\.]"
    r"|[$€£¥]\s*|\bv)$")
# What right after a number says it is an amount or a measure.
_UNIT_AFTER = re.compile(r"(?i)^\s*(?:%|ms\b|s\b|sec|kb\b|mb\b|gb\b|tb\b|px\b|usd\b|eur\b|gbp\b|inr\b|[$€£¥])")
_PHONE_CUE = re.compile(
    r"(?i)(?:phone|tel|telephone|mobile|mob|cell|call|ring|text|sms|whatsapp|fax|number|contact|reach)"
    r"\b[^.\n]{0,20}$")
_DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_DECIMAL = re.compile(r"^\d+(?:[.,]\d+)$|,")
_FORMATTED = re.compile(r"^(?:\+|00|\(|0)|[\s\-.()/]")


def _is_phone(text: str, start: int, end: int, valid: bool) -> bool:
    """The guard: is ``text[start:end]`` (a possible number to libphonenumber) a phone number here?"""
    raw = text[start:end]
    digits = len(_DIGIT.findall(raw))
    if not 7 <= digits <= 15:
        return False
    before, after = text[max(0, start - 24):start], text[end:end + 6]
    if _DATE.match(raw) or _IPV4.match(raw) or _DECIMAL.search(raw):
        return False
    if _UNIT_AFTER.match(after) or (after[:1] in (":", ".") and after[1:2].isdigit()):
        return False  # 12 ms, 50 %, a time or the start of an IP/version number
    if _ID_BEFORE.search(before) and not raw.startswith("+"):
        return False  # order 4155552671, T-1234567, INV-..., #1234567, $1500000, v1.2.3
    if raw.startswith(("+", "00")) or _PHONE_CUE.search(before):
        return True
    # No cue: a number written like a phone number (grouped, or with a trunk prefix) that is valid in
    # one of the regions, or grouped in a way only phone numbers are (US 555-0199).
    if _FORMATTED.search(raw):
        return valid or bool(re.fullmatch(r"\(?\d{3}\)?[\s\-.]\d{3}[\s\-.]\d{4}|\d{3}-\d{4}", raw.strip()))
    return False


def _balanced(text: str, start: int, end: int) -> tuple[int, int]:
    """A match that took one bracket of a pair ("Ada (020 7946 0958)") gives it back."""
    raw = text[start:end]
    if raw.startswith("(") and ")" not in raw:
        start += 1
    if raw.endswith(")") and "(" not in raw:
        end -= 1
    return start, end


def _phone_spans(text: str) -> list[tuple[int, int]]:
    """Phone number spans: libphonenumber's matcher, region by region, over each digit run that could be one
    (a bounded window each, so a page of digits costs a bounded time; past ``MAX_PHONE_WINDOWS`` runs, a
    run the guard accepts is taken as a phone number without asking the library: erring on redaction)."""
    found: dict[tuple[int, int], bool] = {}
    for n, run in enumerate(_PHONE_RUN.finditer(text)):
        if len(_DIGIT.findall(run.group(0))) < 7:
            continue
        if n >= MAX_PHONE_WINDOWS:
            found[run.span()] = True
            continue
        for region in PHONE_REGIONS:
            for m in PhoneNumberMatcher(run.group(0), region, leniency=Leniency.POSSIBLE):
                span = (run.start() + m.start, run.start() + m.end)
                found[span] = found.get(span, False) or phonenumbers.is_valid_number(m.number)
    spans = sorted((s for s, valid in ((_balanced(text, *s), v) for s, v in found.items())
                    if _is_phone(text, s[0], s[1], valid)),
                   key=lambda s: (s[0], -(s[1] - s[0])))
    kept: list[tuple[int, int]] = []
    for start, end in spans:  # longest first at each start; no overlaps
        if not kept or start >= kept[-1][1]:
            kept.append((start, end))
    return kept


def _redact_phones(text: str) -> str:
    spans = _phone_spans(text)
    for start, end in reversed(spans):
        text = text[:start] + PHONE + text[end:]
    return text


# --- street addresses --------------------------------------------------------------------------------
# Suffixes that are street words only; and those that are everyday words too (a capital is then required:
# "12 Baker Way" is an address, "2 different way" is not).
_STREET_ONLY = r"street|avenue|ave|road|rd|boulevard|blvd|lane|ln|terrace|crescent|parkway|pkwy|highway|hwy"
_STREET_WORDY = r"st|way|place|pl|close|drive|dr|court|ct|square|sq|circle|cir|trail|row|mews|grove|gardens|walk|hill|park"
_UNIT = r"(?:,?\s+(?:apt|apartment|suite|ste|unit|flat|floor|fl|#)\.?\s*[\w-]{1,6})?"
# 12 Baker Street, 221b baker st., 1600 Pennsylvania Avenue NW, Apt 4 (one to three words before the suffix)
_ADDRESS_EN = re.compile(
    rf"(?<![\w.,])\d{{1,5}}[A-Za-z]?(?:[-/]\d{{1,5}})?,?\s+((?:(?:\d{{1,3}}(?:st|nd|rd|th)|[A-Za-z][\w'’.-]*)\s+){{1,3}})"
    rf"(?i:({_STREET_ONLY})|({_STREET_WORDY}))\b(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?(?i:{_UNIT})")
_NOT_STREET_WORDS = {
    "the", "a", "an", "on", "in", "at", "of", "to", "for", "and", "or", "my", "our", "your", "their", "this",
    "that", "times", "time", "days", "day", "hours", "minutes", "weeks", "months", "years", "seats", "users",
    "steps", "step", "more", "less", "is", "are", "was", "it", "we", "i", "you", "they", "not", "no", "all",
    "per", "by", "with", "from", "way", "ways", "errors", "tries", "attempts", "clicks", "people", "other",
    "am", "pm", "gmt", "utc", "est", "pst", "cet",
}
_END_OF_ADDRESS = r"(?=\s*(?:[,.;:)\n]|$|\d{4,5}\b))"
# Hauptstraße 5, Hauptstr. 5, Berliner Straße 12a, Kerkstraat 12
_ADDRESS_DE_NL = re.compile(
    r"(?<!\w)(?:[A-ZÄÖÜ][\wäöüß-]*?(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|straat|laan|gracht|"
    r"plein|steeg)|[A-ZÄÖÜ][\wäöüß-]*\s(?:Straße|Strasse|Str\.|Weg|Gasse|Platz|Allee|Damm|Ufer))"
    r"\s+\d{1,4}\s?[a-z]?(?!\w)")
# 12 rue de la Paix, 5 bis avenue Foch
_ADDRESS_FR = re.compile(
    r"(?<!\w)\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|av\.|boulevard|bd|place|chemin|allée|allee|impasse|"
    r"quai|route|cours)\s+(?:(?:de|du|des|la|le|les|d'|l')\s*)*[A-ZÀ-Ý][\w'’-]*(?:\s+[A-ZÀ-Ý][\w'’-]*){0,3}")
# Via Roma 12, Calle Mayor 5, Rua Augusta 10 (the number ends the address: "Via Slack 2 times" is not one)
_ADDRESS_SOUTH = re.compile(
    r"(?<!\w)(?:Calle|Via|Viale|Avenida|Rua|Piazza|Corso|Carrer|Plaza|Paseo|Largo|Travessa)\s+"
    r"(?:(?:de|del|la|los|las|di|da|do|dos|della)\s+)*[A-ZÀ-Ý][\w'’-]*(?:\s+[A-ZÀ-Ý][\w'’-]*){0,3},?\s*\d{1,4}"
    + _END_OF_ADDRESS)
_PO_BOX = re.compile(r"(?i)(?<!\w)(?:P\.?\s?O\.?\s*Box|Postfach)\s+\d{1,6}(?!\w)")
_UK_POSTCODE = re.compile(r"(?<![\w/-])[A-Z]{1,2}\d[A-Z\d]?\s?\d(?!GB|MB|KB|TB)[A-Z]{2}(?![\w/-])")
# Springfield, IL 62704 (after a place name and a comma: a bare "ID 12345" is an id)
_US_STATE_ZIP = re.compile(
    r"(?<=[a-z], )(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|"
    r"NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)\s+\d{5}(?:-\d{4})?(?!\w)")


_ADDRESS_TAIL = re.compile(r"\[ADDRESS\](?:,?\s*(?:\[ADDRESS\]|\d{4,5}(?:\s+[A-ZÀ-Ý][\w-]+)?(?!\w)))+")


def _street_en(match: re.Match) -> str:
    words = match.group(1).split()
    if {w.lower().strip(".'’") for w in words} & _NOT_STREET_WORDS:
        return match.group(0)
    if match.group(3) and not words[0][:1].isupper():  # an everyday word as suffix: needs a capital
        return match.group(0)
    return ADDRESS


def _redact_addresses(text: str) -> str:
    text = _ADDRESS_EN.sub(_street_en, text)
    for pattern in (_ADDRESS_DE_NL, _ADDRESS_FR, _ADDRESS_SOUTH, _PO_BOX, _UK_POSTCODE, _US_STATE_ZIP):
        text = pattern.sub(ADDRESS, text)
    # One address, however many parts matched (street, then postcode and town: "[ADDRESS], 10115 Berlin").
    return _ADDRESS_TAIL.sub(ADDRESS, text)


# --- the person's own names --------------------------------------------------------------------------
# Role mailboxes: their local part is a word of the product, not a person ("billing@acme.io").
_ROLE_MAILBOXES = {"info", "admin", "support", "billing", "sales", "contact", "hello", "team", "ops", "dev",
                   "noreply", "no-reply", "office", "accounts", "finance", "help", "mail", "security", "it", "hr"}
# Names that are also everyday words: a lower-case "will" or "page" in a text is the word, not the person.
COMMON_WORD_NAMES = {
    "will", "may", "june", "mark", "bill", "grace", "hope", "joy", "faith", "rose", "summer", "page", "frank",
    "chase", "hunter", "miles", "sky", "dawn", "amber", "ruby", "art", "gene", "rich", "young", "brown",
    "green", "white", "black", "long", "short", "king", "price", "cash", "bell", "wood", "stone", "hill",
    "lane", "field", "banks", "drew", "sue", "day", "north", "west", "case", "key", "early", "close",
}


def names_from_traits(traits: dict | None) -> list[str]:
    """The values to redact from a user's identify traits: ``name``, ``firstName``, ``lastName`` (and their
    snake_case spellings) and ``email``. Non-strings and blanks are skipped."""
    out = []
    for key in NAME_TRAITS:
        value = (traits or {}).get(key)
        if isinstance(value, str) and value.strip():
            out.append(" ".join(value.split()))
    return list(dict.fromkeys(out))


def name_parts(names) -> tuple[str, ...]:
    """Full names and their parts of 3+ letters, longest first (so a full name becomes one [NAME]).
    An email among the names also yields its local part (``jane.doe``), unless that is a role mailbox."""
    found: set[str] = set()
    for name in names or ():
        name = " ".join(str(name or "").split())
        if sum(c.isalpha() for c in name) < 3:
            continue
        found.add(name)
        if "@" in name:
            local = name.split("@", 1)[0]
            if sum(c.isalpha() for c in local) >= 3 and local.lower() not in _ROLE_MAILBOXES:
                found.add(local)
            continue
        tokens = name.split(" ")
        for part in tokens + [p for t in tokens if "-" in t for p in t.split("-")]:
            part = part.strip(".,;:()\"")
            if sum(c.isalpha() for c in part) >= 3:
                found.add(part)
                if "'" in part or "\u2019" in part:  # O'Brien: also "Brien"
                    tail = re.split(r"['\u2019]", part)[-1]
                    if len(tail) >= 3:
                        found.add(tail)
    return tuple(sorted(found, key=lambda s: (-len(s), s.lower())))


@lru_cache(maxsize=4096)
def _names_re(parts: tuple[str, ...]) -> re.Pattern | None:
    if not parts:
        return None
    alternatives = "|".join(r"\s+".join(re.escape(w) for w in p.split(" ")) for p in parts)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _name(match: re.Match) -> str:
    found = match.group(0)
    if found.islower() and found in COMMON_WORD_NAMES:
        return found
    return NAME


# --- the entry points --------------------------------------------------------------------------------
def redact(text: str, names=()) -> str:
    """``text`` with emails, IBANs, cards, SSNs, phone numbers, street addresses and the given names
    (a user's ``names_from_traits``) replaced by placeholders."""
    if not text or not isinstance(text, str):
        return text
    text = _EMAIL_RE.sub(EMAIL, text)
    if any(c.isdigit() for c in text):
        text = _IBAN_RE.sub(_iban, text)
        text = _CARD_RE.sub(_card, text)
        text = _SSN_RE.sub(_ssn, text)
        text = _redact_phones(text)
        text = _redact_addresses(text)
    pattern = _names_re(name_parts(names))
    if pattern is not None:
        text = pattern.sub(_name, text)
    return text


def redact_data(value, names=()):
    """``redact`` applied to every string inside a JSON-like value (dict keys stay as they are)."""
    if isinstance(value, str):
        return redact(value, names)
    if isinstance(value, dict):
        return {k: redact_data(v, names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, names) for v in value]
    return value
