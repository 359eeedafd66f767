"""The evidence summary the LLM sees: one short line per signal, in words, redacted, bounded.

A user's evidence arrives as the score stage builds it: ``{signal: {"count", "last_at", "examples":
[detail, ...]}, "intents": {intent: {"sources", "examples"}}}`` (a value that is already a string or a
list of strings, e.g. the catalogue's words, is kept as it is). The model needs what happened, not the
bookkeeping, so the lines drop timestamps, internal keys and any value the customer's own texts already
carry (a ticket's latest text is sent once, as a text), and stop at ``MAX_LINES`` lines of at most
``MAX_LINE_CHARS`` characters. No time reference is kept: the same evidence tomorrow is the same
request, so the cache answers it.
"""
from __future__ import annotations

import re

from empathy.redact import redact

MAX_LINES = 10
MAX_LINE_CHARS = 160
MAX_VALUE_CHARS = 60
MAX_EXAMPLES = 2
MAX_LIST_ITEMS = 3
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_DROPPED_KEYS = {"idx", "ts", "at", "last_at", "first_at", "seen_at", "prepared_at", "key", "message_id", "user_id",
                 "account_id", "kind"}


REDACT_MARGIN = 200  # characters past a cut that are still redacted, so PII across the cut is caught whole


def cut(text: str, limit: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "\u2026"


def redacted(text: str, limit: int, names=()) -> str:
    """``text`` redacted, then cut to ``limit``: a cut never splits a phone or card number (which would then
    go unrecognised), and a 32 KB text costs the redaction of its first ``limit`` + ``REDACT_MARGIN`` only."""
    text = str(text or "")
    return cut(redact(text[: limit + REDACT_MARGIN], names), limit)


def _already_sent(value: str, sent: list[str]) -> bool:
    low = value.lower()
    return len(low) >= 12 and any(low in s for s in sent)


def _value(value, sent: list[str], names=()) -> str | None:
    """One detail value in words, redacted before it is cut (a cut must not split a phone number), or None
    when it says nothing new."""
    if value is None or value == "" or value == [] or value is False:
        return None
    if value is True:
        return "yes"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (int,)):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [v for v in (_value(x, sent, names) for x in list(value)[:MAX_LIST_ITEMS]) if v]
        more = len(value) - MAX_LIST_ITEMS
        return (",".join(items) + (f",+{more}" if more > 0 else "")) if items else None
    if isinstance(value, dict):
        return None  # nested detail: too deep for a one-line summary
    text = str(value)
    if _ISO_TIME.match(text):
        return None
    text = redacted(text, MAX_LINE_CHARS, names)
    return None if _already_sent(text, sent) else cut(text, MAX_VALUE_CHARS)


def _detail(detail, sent: list[str], names) -> str:
    if not isinstance(detail, dict):
        return _value(detail, sent, names) or ""
    parts = []
    for key, value in detail.items():
        if key in _DROPPED_KEYS:
            continue
        shown = _value(value, sent, names)
        if shown is not None:
            parts.append(f"{key}" if shown == "yes" else f"{key}={shown}")
    return " ".join(parts)


def _intent_lines(intents: dict, sent: list[str], names) -> list[str]:
    lines = []
    for name, entry in intents.items():
        entry = entry if isinstance(entry, dict) else {}
        sources = _value(sorted({str(s) for s in entry.get("sources") or [] if s}), sent, names)
        examples = [e for e in (_value(x, sent, names) for x in (entry.get("examples") or [])[:MAX_LIST_ITEMS]) if e]
        line = f"intent {name}" + (f" from {sources}" if sources else "")
        lines.append(line + (": " + " | ".join(examples) if examples else ""))
    return lines


def lines(evidence: dict | None, texts: list[str] = (), names=()) -> list[str]:
    """The evidence as short redacted lines (``names``: the person's own, see ``redact.names_from_traits``).

    ``texts`` are the customer texts sent beside it, redacted: values they already contain are not repeated."""
    sent = [str(t).lower() for t in texts]
    out: list[str] = []
    for signal, entry in (evidence or {}).items():
        if signal == "intents" and isinstance(entry, dict):
            out.extend(_intent_lines(entry, sent, names))
        elif isinstance(entry, dict) and "examples" in entry:
            count = entry.get("count")
            head = f"{signal} x{count}" if isinstance(count, int) and count > 1 else str(signal)
            details = [d for d in (_detail(x, sent, names) for x in (entry.get("examples") or [])[:MAX_EXAMPLES]) if d]
            out.append(head + (": " + "; ".join(details) if details else ""))
        else:
            shown = _value(entry, sent, names)
            out.append(f"{signal}: {shown}" if shown is not None else str(signal))
    more = len(out) - MAX_LINES
    out = out[:MAX_LINES] + ([f"+{more} more signals"] if more > 0 else [])
    # Keys are ours, values were redacted one by one; the signal names of an unknown shape are redacted here.
    return [cut(redact(line, names), MAX_LINE_CHARS) for line in out]
