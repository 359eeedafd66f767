"""Customer text as the page shows it: redacted (the same ``empathy.redact`` as for Slack and the LLM) and
bounded, and a user's evidence in words.

A refresh renders every changed user, and at 100k users that is many texts, most of them seen before (the
same ticket in every window until it is answered, the same templated sentence for thousands of users). So
the patterns' part of the redaction is remembered per text (a bounded LRU); the person's own names are
looked for only in texts that contain one of them.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re

import msgspec

from empathy import redact
from empathy.signals import catalog

REDACT_MARGIN = 200    # characters past a cut that are still redacted, so a cut never splits a number
TEXT_LIMIT = 600       # one sentence of evidence, a reason, an error
VALUE_LIMIT = 400      # one customer value inside the evidence (the catalogue cuts quotes at 200)


_JSON = msgspec.json.Decoder()   # every rendered user's reasons: ~2x the standard library's json.loads


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class Redactor:
    """``redact.redact(text, names)`` with a bounded memory of the texts it has seen."""

    def __init__(self, cache_size: int = 50_000):
        self._patterns = functools.lru_cache(maxsize=cache_size)(redact.redact) if cache_size else redact.redact
        self._words: dict[tuple, str] = {}
        self._words_max = max(cache_size, 1)

    def text(self, value, names: tuple = (), limit: int = TEXT_LIMIT):
        """A customer text redacted, then cut to ``limit``; anything that is not a string passes unchanged."""
        if not isinstance(value, str) or not value:
            return value
        out = self._patterns(value[: limit + REDACT_MARGIN])
        parts = _name_parts(names)
        if parts:
            low = out.lower()
            if any(p.lower() in low for p in parts):
                out = redact.redact(out, names)
        return _cut(out, limit)

    def words(self, signal: str, data: dict, names: tuple = ()) -> str:
        """A signal's catalogue sentence filled from ``data``, every customer value redacted as it is put in.
        Remembered per (signal, the values its sentence uses, names): thousands of users share the same
        evidence ("1 command, 3 API calls") though its times and other fields differ, and a refresh of 100k
        users would otherwise fill the same sentence again and again."""
        sig = catalog.BY_NAME.get(signal)
        used = catalog.fields(sig.words) if sig else ()
        values = tuple((v.__class__, v) for v in (data.get(f) for f in used))   # 1, 1.0 and True read apart
        if not all(v is None or isinstance(v, str | int | float) for _, v in values):   # a list or object: as text
            values = json.dumps([v for _, v in values], default=str)
        key = (signal, values, names)
        text = self._words.get(key)
        if text is None:
            text = (catalog.render(sig.words, data, lambda spec, raw: catalog.plain_value(spec, self.data(raw, names)))
                    if sig else None) or signal.replace("_", " ")
            if len(self._words) >= self._words_max:
                self._words.pop(next(iter(self._words)))   # the oldest first (insertion order): bounded memory
            self._words[key] = text
        return text

    def data(self, value, names: tuple = ()):
        """Every string inside a JSON-like value redacted (as ``redact.redact_data``), each bounded."""
        if isinstance(value, str):
            return self.text(value, names, VALUE_LIMIT)
        if isinstance(value, dict):
            return {k: self.data(v, names) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v, names) for v in value[:50]]
        return value


@functools.lru_cache(maxsize=4)
def redactor(cache_size: int) -> Redactor:
    """The process's redactor (its memory of texts outlives one refresh: a task may run several)."""
    return Redactor(cache_size)


@functools.lru_cache(maxsize=4096)
def _name_parts(names: tuple) -> tuple:
    return redact.name_parts(names) if names else ()


def person_names(profile: dict) -> tuple:
    """The names (and email) a user's texts are redacted of: their identify traits."""
    return tuple(redact.names_from_traits({k: profile.get(k) for k in ("name", "first_name", "last_name", "email")}))


def evidence(reasons, names: tuple, redactor: Redactor) -> list[dict]:
    """``user_state.reasons`` as the page lists them: each in words (the rule's own sentence, or the signal's
    catalogue template, as ``empathy.state.in_words`` reads them) with every customer value redacted as it
    is put in, and its signal, family, polarity, time and whether it decided the state."""
    if isinstance(reasons, str):
        try:
            reasons = _JSON.decode(reasons)
        except ValueError:
            reasons = [reasons]

    out = []
    for r in reasons if isinstance(reasons, list) else [reasons]:
        if not isinstance(r, dict):
            out.append({"signal": "reason", "words": redactor.text(str(r), names)})
            continue
        signal = str(r.get("signal") or "")
        if r.get("detail"):
            text = redactor.text(str(r["detail"]), names)
        else:
            data = r.get("data") if isinstance(r.get("data"), dict) else {}
            text = redactor.words(signal, data, names)
        out.append({"signal": signal, "family": r.get("family"), "polarity": r.get("polarity"),
                    "deciding": bool(r.get("deciding")), "at": r.get("at"), "words": _cut(text, TEXT_LIMIT)})
    return out


def names_in(names: tuple, text: str) -> tuple:
    """``names`` when any of them (or a part of one) occurs in ``text``, else (): most evidence never names
    the person, and looking for names costs more than the rest of the redaction."""
    low = (text or "").lower()
    for name in names:
        name = str(name).lower()
        for token in re.split(r"[\s.\-'_+]+", name.split("@", 1)[0]):   # an email: its local part only
            if len(token) >= 3 and token in low:
                return names
    return ()


def email_key(email) -> str | None:
    """What the page keeps of an email address: a hash to find the user by it, never the address."""
    if not isinstance(email, str) or "@" not in email:
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def email_domain(email) -> str | None:
    if not isinstance(email, str) or "@" not in email:
        return None
    return _cut(email.rsplit("@", 1)[1].strip().lower(), 80) or None
