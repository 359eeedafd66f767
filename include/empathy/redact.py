"""PII redaction: what leaves the machine for an LLM never carries an email, phone, card, IBAN or name.

Redaction runs before anything is sent (and before anything is hashed for the LLM cache), so a
leak would need a bug here, not a forgotten call elsewhere. It errs on the side of redacting: a
false positive costs the model a word, a false negative leaks a person. Patterns are compiled once;
name patterns once per distinct name list.
"""
from __future__ import annotations

import re
from functools import lru_cache

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
CARD = "[CARD]"
IBAN = "[IBAN]"
SSN = "[SSN]"
NAME = "[NAME]"

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Country code, two check digits, then 11-30 alphanumerics: compact, or in groups of four
# (uppercase only, so a following lowercase word is never swallowed).
_IBAN_RE = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?:[ \-]?[A-Z0-9]{4}){2,7}(?:[ \-]?[A-Z0-9]{1,4})?)\b")
# 13-19 digits, optionally separated by single spaces or dashes; Luhn decides (see _card).
_CARD_RE = re.compile(r"(?<![\w+])\d(?:[ \-]?\d){12,18}(?!\w)")
_PHONE_RE = re.compile(
    r"(?:(?<![\w+])(?:\+|00)\d{1,3}[\s.\-]?(?:\(\d{1,4}\)[\s.\-]?)?\d{1,4}(?:[\s.\-]?\d{2,4}){1,5}(?!\w))"  # international
    r"|(?:(?<![\w+])(?:1[\s.\-])?(?:\(\d{3}\)\s?|\d{3}[\s.\-])\d{3}[\s.\-]\d{4}(?!\w))"            # US: (555) 123-4567
    r"|(?:(?<![\w+\-.])\d{3}-\d{4}(?![\w\-]))"                                                # US local: 555-0199
)
_SSN_RE = re.compile(r"(?<![\w\-])\d{3}-\d{2}-\d{4}(?![\w\-])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Written the way cards are printed (4-4-4-4, Amex 4-6-5): a card to any reader, Luhn or not.
_CARD_LAYOUT_RE = re.compile(r"\d{4}([ \-])\d{4}\1\d{4}\1\d{4}|\d{4}([ \-])\d{6}\2\d{5}")


def _card(match: re.Match) -> str:
    """The longest run of whole digit groups (13-19 digits) that passes Luhn becomes [CARD]."""
    found = match.group(0)
    layout = _CARD_LAYOUT_RE.match(found)
    if layout:
        return CARD + found[layout.end():]
    pieces = re.split(r"([ \-])", found)  # digit groups and the separators between them
    for end in range(len(pieces), 0, -2):
        head = "".join(pieces[:end])
        digits = re.sub(r"\D", "", head)
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            return CARD + found[len(head):]
    return found


def _iban(match: re.Match) -> str:
    # An IBAN has digits after its check digits; a run of letters like "DE12ABCDEFGHIJKL" still
    # redacts (IBAN-like), but a plain word with two digits in it must not.
    body = re.sub(r"[ \-]", "", match.group(0))
    return IBAN if 15 <= len(body) <= 34 and sum(c.isdigit() for c in body) >= 6 else match.group(0)


def _phone(match: re.Match) -> str:
    digits = sum(c.isdigit() for c in match.group(0))
    return PHONE if 7 <= digits <= 15 else match.group(0)


def name_parts(names) -> tuple[str, ...]:
    """Full names and their parts of 3+ letters, longest first (so a full name becomes one [NAME])."""
    found: set[str] = set()
    for name in names or ():
        name = " ".join(str(name or "").split())
        if sum(c.isalpha() for c in name) < 3:
            continue
        found.add(name)
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


def redact(text: str, names=()) -> str:
    """``text`` with emails, IBANs, card numbers, SSNs, phone numbers and the given names replaced by placeholders."""
    if not text:
        return text
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _IBAN_RE.sub(_iban, text)
    text = _CARD_RE.sub(_card, text)
    text = _SSN_RE.sub(SSN, text)
    text = _PHONE_RE.sub(_phone, text)
    pattern = _names_re(name_parts(names))
    if pattern is not None:
        text = pattern.sub(NAME, text)
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
