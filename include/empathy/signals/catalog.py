"""The signal catalogue: every behavioural signal Empathy knows, in one place.

Per signal: its family (what it means for the state rules), polarity and weight (its pull on the
sentiment trend), how it reads in words (reasons, the Empathy page), in Slack (the concierge alert's
friction line), in a customer email (a friendly label, never a raw value), and the next step an account
manager should take. The detector SQL (``signals/sql/<file>.sql``) finds the signal; the state rules
(``state/sql/rules.sql``) and the policy read its family, polarity and weight from the table
``signal_catalog``, which ``store.migrate`` writes from this module. Adding a signal touches this file, its
SQL and a test (docs/states.md shows an example).

Templates are ``str.format`` strings over the signal's ``detail`` fields, with two additions: a
``[...]`` segment is kept only when every field in it has a value, and a format spec names how a value is
shown (``list``, ``quote``, ``int``, ``code``, and the email-only ``element``/``page``/``api``). Each channel
decides what a spec means and escapes every value it inserts (see ``empathy.content``): the words around
the values are ours, the values are the customer's.
"""
from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

# Families: how the state rules read a signal.
FRUSTRATION = "frustration"    # something is broken for them now (cleared only by behavioural recovery)
LEAVING = "leaving"            # a sign of leaving on its own
LEAVING_HINT = "leaving_hint"  # a sign of leaving unless something else explains it (the cancel page)
SUPPORT = "support"            # an open ticket: its customer text decides what it means
CONFUSION = "confusion"        # stuck, not leaving
RECOVERY = "recovery"          # a behavioural recovery from friction
ENGAGEMENT = "engagement"      # healthy use (a faint positive)
INTENT = "intent"              # what they are trying to do
TEXT = "text"                  # what the customer wrote (scored by the text scorer)
META = "meta"                  # bookkeeping rows (profile)
FAMILIES = (FRUSTRATION, LEAVING, LEAVING_HINT, SUPPORT, CONFUSION, RECOVERY, ENGAGEMENT, INTENT, TEXT, META)


@dataclass(frozen=True)
class Signal:
    name: str
    family: str
    polarity: int            # -1 negative, 0 neutral, +1 positive (the sentiment trend)
    weight: float            # strength in the trend (x min(count, 3), decayed by age)
    detector: str | None     # the SQL file in signals/sql/ that finds it (None: written elsewhere)
    words: str               # for people: reasons, the Empathy page, the run report
    slack: str = ""          # the concierge alert's friction line (mrkdwn; values escaped)
    email: tuple[str, ...] = ()  # friendly labels for customer copy, first that renders wins
    next_step: str = ""      # what the account manager should do about it
    link: str = ""           # key of the campaign's troubleshooting link for this friction


# In friction order: the first negative signal a user shows is "the friction point".
SIGNALS: tuple[Signal, ...] = (
    Signal("payment_failed", LEAVING, -1, 1.5, "billing",
           "{failures} failed payment(s) not followed by a success[ ({reason})]",
           "{failures:int} failed payment(s) not settled[ ({reason})]",
           ("your payment",),
           "Reach out about the failed payment and help them update the payment method before the account lapses.",
           "payment_failed"),
    Signal("subscription_cancelled", LEAVING, -1, 2.0, "cancellation",
           "cancelled the subscription[: {reason}]",
           "Cancelled the subscription[: _{reason:quote}_]",
           ("your plan",),
           "Call them: ask what was missing and whether anything would change their mind."),
    Signal("open_ticket", SUPPORT, -1, 0.5, "tickets",
           "ticket {ticket_id} unresolved[: {latest_customer_text:quote}]",
           "Open ticket {ticket_id:code}[ {subject:quote}][: > {latest_customer_text:quote}]",
           ("your support request",),
           "Reply personally to the open ticket today and own it until it is resolved.",
           "open_ticket"),
    Signal("cancel_page", LEAVING_HINT, -1, 0.5, "cancellation",
           "visited {path} ({visits}x)",
           "Visited the cancel page {path:code}",
           ("your plan",),
           "Call them before they cancel: ask what is missing and what would make them stay.",
           "cancel_page"),
    Signal("api_error_streak", FRUSTRATION, -1, 1.0, "api_error_streaks",
           "{errors} failed API requests in a row on {endpoints:list}[ (status {statuses:list})]"
           "[: {error_message:quote}][{ongoing:if}; still failing]",
           "{errors:int} failed API calls in a row on {endpoints:code}[ (HTTP {statuses:list})]"
           "[: _{error_message:quote}_][{ongoing:if} - still failing]",
           ("your requests to {endpoints:api}", "your API requests"),
           "Check the failing endpoint with engineering, then reach out with a fix or a workaround.",
           "api_error_streak"),
    Signal("rage_clicks", FRUSTRATION, -1, 1.0, "rage_clicks",
           "clicked {element:quote} on {path} rapidly ({bursts}x)",
           "Rage clicks on {element:code} at {path:code} ({bursts:int}x)",
           ("the {element:element} button on the {path:page} page", "the {element:element} button",
            "a button on the {path:page} page", "a button that did not respond"),
           "Offer a 15-minute screen-share: that element is not doing what they expect.",
           "rage_clicks"),
    Signal("search_loop", CONFUSION, -1, 0.5, "search_loops",
           "searched {searches} times without using a result: {queries:list}",
           "{searches:int} searches without using a result",
           ("finding what you were searching for",),
           "Send them a direct answer or a short walkthrough: they cannot find what they need.",
           "search_loop"),
    Signal("docs_dwell", CONFUSION, -1, 0.5, "docs_dwell",
           "read {path} for {longest_s:int} s without running a command",
           "Stuck reading {path:code} ({longest_s:int} s, no command after)",
           ("our guide to {path:page}", "a page in our docs"),
           "Send them a direct answer or a short walkthrough: they are stuck in the docs.",
           "docs_dwell"),
    Signal("recovered_after_errors", RECOVERY, 1, 1.0, "api_error_streaks",
           "recovered after {after_errors} errors: {by}"),
    Signal("payment_recovered", RECOVERY, 1, 1.0, "billing",
           "payment succeeded after {failures_settled} failure(s)"),
    Signal("ticket_resolved", RECOVERY, 1, 1.0, "tickets",
           "ticket {ticket_id} resolved"),
    Signal("email_engaged", ENGAGEMENT, 1, 0.25, "engagement",
           "{event} {times}x"),
    Signal("productive_use", ENGAGEMENT, 1, 0.2, "engagement",
           "{commands} commands and {api_ok} successful API calls on {active_days} day(s)"),
    Signal("intent", INTENT, 0, 0.0, "intents",
           "{intent} intent from {source}: {examples:list}"),
    Signal("customer_text", TEXT, 0, 0.0, None,
           "customer wrote ({kind}[, score {score:+.2f}]): {text:quote}",
           "Wrote: > {text:quote}"),
    Signal("profile", META, 0, 0.0, None, "profile"),
)

BY_NAME: dict[str, Signal] = {s.name: s for s in SIGNALS}
DETECTORS: tuple[str, ...] = tuple(dict.fromkeys(s.detector for s in SIGNALS if s.detector))
FRICTION_ORDER: tuple[str, ...] = tuple(s.name for s in SIGNALS if s.polarity < 0)
TEXT_WEIGHT = 1.5   # a customer's own words weigh more than one behavioural signal in the trend


@dataclass(frozen=True)
class Intent:
    """What a user is trying to do. A *looking* intent explains friction on the way (a power user lost
    looking for invoices is not leaving); cancellation is a sign of leaving when the user says it."""
    name: str
    looking: bool
    words: str          # "lost looking for invoices"
    next_step: str      # for the account manager; {link} is the campaign's link named `link`
    link: str = ""


INTENTS: tuple[Intent, ...] = (
    Intent("billing", True, "looking for invoices and billing settings",
           "They are looking for their invoices, not leaving: send the direct link to billing and invoices "
           "({link}) and offer to walk them through it.", "billing"),
    Intent("security_review", True, "running a security review (SOC 2, DPA, trust center)",
           "Send the trust center and the SOC 2 report ({link}) and offer a call with security.", "trust_center"),
    Intent("cancellation", False, "asking about cancelling",
           "Call them before they cancel: ask what is missing and what would make them stay."),
)
INTENT_BY_NAME: dict[str, Intent] = {i.name: i for i in INTENTS}
LOOKING_INTENTS: tuple[str, ...] = tuple(i.name for i in INTENTS if i.looking)


# --- templates ---------------------------------------------------------------------------------------
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_FIELDS = string.Formatter()

ValueFn = Callable[[str, object], "str | None"]   # (spec, value) -> text, or None when it cannot be shown


@functools.lru_cache(maxsize=256)
def fields(template: str) -> tuple[str, ...]:
    """The data fields a template reads, sorted: all its filled text depends on (so a renderer redacts or
    remembers only those)."""
    return tuple(sorted({name for _, name, _, _ in _FIELDS.parse(template.replace("[", "").replace("]", "")) if name}))


def render(template: str, data: dict, value: ValueFn) -> str | None:
    """Fill ``template`` from ``data``; ``value(spec, raw)`` turns each field into text (and escapes it).
    An optional ``[...]`` segment is dropped when any field in it has no value; None when a required one has none."""
    def fill(part: str) -> str | None:
        out = []
        for literal, name, spec, _ in _FIELDS.parse(part):
            out.append(literal)
            if name is None:
                continue
            raw = data.get(name)
            text = None if raw is None or raw is False or raw == "" or raw == [] else value(spec or "", raw)
            if text is None:
                return None
            out.append(text)
        return "".join(out)

    pieces, pos = [], 0
    for m in _SEGMENT.finditer(template):
        pieces.append((template[pos:m.start()], False))
        pieces.append((m.group(1), True))
        pos = m.end()
    pieces.append((template[pos:], False))
    out = []
    for part, optional in pieces:
        text = fill(part)
        if text is None:
            if optional:
                continue
            return None
        out.append(text)
    return "".join(out)


def plain_value(spec: str, raw) -> str | None:
    """Values as a person reads them in the Empathy page or a table (the page escapes HTML itself)."""
    if spec == "if":
        return "" if raw else None
    if spec == "list":
        items = [str(x) for x in (raw if isinstance(raw, list | tuple) else [raw]) if x not in (None, "")]
        if not items:
            return None
        shown = ", ".join(items[:3])
        return shown + (f" (+{len(items) - 3} more)" if len(items) > 3 else "")
    if spec == "quote":
        text = " ".join(str(raw).split())
        return "\u201c" + (text[:197] + "..." if len(text) > 200 else text) + "\u201d"
    if spec == "int":
        try:
            return str(int(round(float(raw))))
        except (TypeError, ValueError):
            return None
    if spec and spec[0] in "+-.0123456789":
        try:
            return format(float(raw), spec)
        except (TypeError, ValueError):
            return None
    text = " ".join(str(raw).split())
    return text[:200]


def words(signal: str, data: dict) -> str:
    """One piece of evidence in plain words (unknown signals read as their name)."""
    sig = BY_NAME.get(signal)
    if sig is None:
        return signal.replace("_", " ")
    return render(sig.words, data or {}, plain_value) or signal.replace("_", " ")


def catalog_rows() -> list[dict]:
    """The catalogue as rows of the table ``signal_catalog`` (what SQL joins on)."""
    return [{"signal": s.name, "family": s.family, "polarity": s.polarity, "weight": s.weight,
             "friction_rank": FRICTION_ORDER.index(s.name) if s.name in FRICTION_ORDER else None,
             "detector": s.detector, "words": s.words} for s in SIGNALS]
