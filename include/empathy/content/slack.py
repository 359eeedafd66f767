"""Concierge alerts as Slack shows them: Block Kit built with ``slack_sdk.models.blocks`` (which checks
Slack's limits), every customer value redacted, defanged and mrkdwn-escaped, so an account name, an
element or a ticket can neither mention, link nor format; only our own words and links do.

The alert names the friction point in words (the catalogue's Slack templates), what the user was looking
for when that explains it ("lost looking for invoices", with the direct link, not a retention offer),
the suggested next step, and a button back to the user's page in the Airflow UI.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from empathy import redact
from empathy.signals import catalog

HEADER_MAX, SECTION_MAX, FIELD_MAX, TEXT_MAX = 150, 3000, 2000, 3000
VALUE_MAX = 160            # one customer value inside a line
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{6,20}$")
_DOMAIN = re.compile(r"(?i)\b([a-z0-9-]+)((?:\.[a-z0-9-]+)*)\.([a-z]{2,})\b")
_SCHEME = re.compile(r"(?i)\b(h)(tt)(ps?)(:)//")


def channel_for(manager, fallback: str) -> tuple[str, str | None]:
    """The account manager's Slack user id when the trait holds one (U..., W...), else the fallback
    channel, with why (a channel name or anything else in the trait is never where an alert goes)."""
    value = str(manager or "").strip()
    if SLACK_USER_ID.match(value):
        return value, None
    if not value:
        return fallback, "the account has no account manager"
    return fallback, "account_manager_slack_id is not a Slack user id"


def defang(text: str) -> str:
    """URLs and domain names made unclickable: https://evil.example/x -> hxxps[://]evil[.]example/x."""
    text = _SCHEME.sub(lambda m: "hxxp" + m.group(3)[2:] + "[://]", text)
    return _DOMAIN.sub(lambda m: m.group(1) + m.group(2).replace(".", "[.]") + "[.]" + m.group(3), text)


def escape(text, limit: int = VALUE_MAX) -> str:
    """A customer value, safe inside mrkdwn: no <links|labels>, <!channel>, <@mentions>, &-entities,
    code fences; @words cannot notify; URLs defanged; whitespace collapsed; at most ``limit`` chars."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    text = defang(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("`", "'").replace("@", "@\u2060")


def slack_value(spec: str, raw) -> str | None:
    """How the catalogue's Slack templates show a value (every one escaped)."""
    if spec == "if":
        return "" if raw else None
    if spec == "code":
        items = raw if isinstance(raw, list | tuple) else [raw]
        shown = [f"`{escape(x, 80)}`" for x in items[:3] if x not in (None, "")]
        return ", ".join(shown) if shown else None
    if spec == "list":
        items = raw if isinstance(raw, list | tuple) else [raw]
        shown = [escape(x, 60) for x in items[:5] if x not in (None, "")]
        return ", ".join(shown) if shown else None
    if spec == "quote":
        return "\u201c" + escape(raw, 200) + "\u201d"
    if spec == "int":
        try:
            return str(int(round(float(raw))))
        except (TypeError, ValueError):
            return None
    return escape(raw)


@dataclass
class Alert:
    """What a concierge alert is about (values as stored: the builder redacts and escapes them)."""
    account_id: str
    account_name: str | None
    mrr: float | None
    user_id: str
    state: str
    confidence: float | None
    evidence: list[dict]                # typed rows {signal, polarity, data}, in friction order
    looking_for: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    pii_names: list[str] = field(default_factory=list)
    links: dict = field(default_factory=dict)     # the product's own links (looking -> {billing: url})
    user_url: str | None = None
    as_of: str = ""
    simulation: str | None = None


def friction_lines(alert: Alert, limit: int = 4) -> list[str]:
    """The friction point in words, customer values redacted and escaped."""
    lines = []
    looking = [catalog.INTENT_BY_NAME[i] for i in alert.looking_for if i in catalog.INTENT_BY_NAME]
    if looking and alert.state != "at_risk":
        lines.append(f"Lost {looking[0].words}, not leaving")
    for e in alert.evidence:
        sig = catalog.BY_NAME.get(e["signal"])
        if e.get("polarity", 0) >= 0 or sig is None or not sig.slack:
            continue
        # only the values the line shows are redacted: the rest of the evidence is never read
        raw = e.get("data") if isinstance(e.get("data"), dict) else {}
        data = redact.redact_data({f: raw[f] for f in catalog.fields(sig.slack) if f in raw}, alert.pii_names)
        line = catalog.render(sig.slack, data, slack_value)
        if line:
            lines.append(line)
        if len(lines) >= limit:
            break
    return lines or ["No single friction point in the evidence; the overall trend is negative."]


def next_step(alert: Alert) -> str:
    """What the account manager should do: for a user lost looking for something, the direct link;
    else the first friction point's step; else a personal check-in. Our words, our links only."""
    if alert.state != "at_risk":
        for name in alert.looking_for:
            intent = catalog.INTENT_BY_NAME.get(name)
            link = (alert.links.get("looking") or {}).get(name)
            if intent and intent.looking and link:
                return intent.next_step.replace("{link}", f"<{link}|{link.split('://', 1)[-1]}>")
    for e in alert.evidence:
        sig = catalog.BY_NAME.get(e["signal"])
        if e.get("polarity", 0) < 0 and sig and sig.next_step:
            return sig.next_step
    return "Reach out personally: ask how it is going and what would help."


def _mrr(mrr) -> str:
    return f"{mrr:,.0f}/month" if isinstance(mrr, int | float) else "unknown"


def build(alert: Alert) -> tuple[str, list[dict]]:
    """The alert's top-level text (notifications, and the fallback where blocks do not show) and its
    Block Kit blocks, within Slack's limits."""
    account = escape(alert.account_name or alert.account_id, 80)
    user = escape(alert.user_id, 80)
    conf = f"{alert.confidence or 0:.2f}"
    friction = friction_lines(alert)
    step = next_step(alert)
    text = (f"{account} (MRR {_mrr(alert.mrr)}): user {user} is {alert.state} (confidence {conf}). "
            f"Friction: {friction[0]} Next step: {step}")[:TEXT_MAX]
    # plain text: Slack parses no markup there; angle brackets become look-alikes all the same
    header_account = " ".join(defang(str(alert.account_name or alert.account_id)).split())
    header_account = (header_account.replace("<", "\u2039").replace(">", "\u203a").replace("@", "@\u2060")
                      .replace("`", "'"))
    header = f"{header_account[:HEADER_MAX - 24]} needs a human touch"
    context = f"Empathy \u00b7 as of {alert.as_of} UTC"
    others = [escape(m, 40) for m in alert.members if m != alert.user_id]
    if others:
        context += " \u00b7 also affected: " + ", ".join(others[:5]) + (f" (+{len(others) - 5})" if len(others) > 5 else "")
    if alert.simulation:
        context += f" \u00b7 SIMULATION ({alert.simulation}): not sent"
    blocks = [
        HeaderBlock(text=PlainTextObject(text=header[:HEADER_MAX], emoji=False)),
        SectionBlock(fields=[
            MarkdownTextObject(text=f"*User*\n`{user}`"[:FIELD_MAX]),
            MarkdownTextObject(text=f"*Account*\n{account} (`{escape(alert.account_id, 60)}`)"[:FIELD_MAX]),
            MarkdownTextObject(text=f"*Value*\nMRR {_mrr(alert.mrr)}"),
            MarkdownTextObject(text=f"*State*\n{alert.state} (confidence {conf})"),
        ]),
        SectionBlock(text=MarkdownTextObject(text=_clip("*Friction point*\n" + "\n".join(f"\u2022 {x}" for x in friction)))),
        SectionBlock(text=MarkdownTextObject(text=_clip(f"*Suggested next step*\n{step}"))),
    ]
    if alert.user_url:
        blocks.append(ActionsBlock(elements=[ButtonElement(text="Open in Empathy", url=alert.user_url,
                                                           action_id="empathy_open_user")]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_clip(context))]))
    for block in blocks:
        block.validate_json()   # raises SlackObjectFormationError past any limit: a bug here, never sent
    return text, [b.to_dict() for b in blocks]


def _clip(text: str, limit: int = SECTION_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def user_url(base_url: str | None, user_id: str) -> str | None:
    """The user's page in the Airflow UI (``[api] base_url`` + /empathy/users/<id>)."""
    if not base_url:
        return None
    return base_url.rstrip("/") + "/empathy/users/" + quote(str(user_id), safe="")


__all__ = ["Alert", "SlackObjectFormationError", "build", "channel_for", "escape", "defang", "user_url"]
