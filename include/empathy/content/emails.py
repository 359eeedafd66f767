"""Drip emails: Jinja templates per tone, rendered with tokens, then filled with values we have checked.

Templates are rendered with *tokens* (``[[FIRST_NAME]]``, ``[[FRICTION]]``) in place of anything that
comes from the user, and the values are substituted afterwards. So customer data never passes through
Jinja, an LLM rewrite sees only the template's own words, and what is substituted is what we wrote or
what passed a strict check: a first name that looks like a name, a friendly name for a page, button or
API ("the Save button on the Integrations page") derived from the raw value, never the raw value
itself, never a URL, an address or anything a mail client would turn into a link. The HTML links only
the campaign's own URLs and the unsubscribe link.
"""
from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from empathy.content.campaigns import TONES, Campaign
from empathy.signals import catalog

ASM_UNSUBSCRIBE_URL = "<%asm_group_unsubscribe_raw_url%>"  # SendGrid substitutes the group's link
TOKEN_FIRST_NAME = "[[FIRST_NAME]]"
TOKEN_FRICTION = "[[FRICTION]]"
_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+")

# What a customer-supplied name may look like to be shown to them: letters (any script), spaces, and a
# few joining marks; nothing a mail client links (no dots between letters, no @, no digits-only).
_NAME_OK = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '\u2019-])*$")
_WORDS_OK = re.compile(r"^[^\W_](?:[\w '\u2019&+-])*$")
_LINKISH = re.compile(r"(?i)(?:https?|ftp|mailto|javascript|data):|www\.|@|[a-z0-9-]\.[a-z]{2,}|\.\.|/|\\")
_ID_SEGMENT = re.compile(r"(?i)^(?:\d+|[0-9a-f]{8,}|[0-9a-f-]{16,}|v\d+)$")


# --- values a customer may see -------------------------------------------------------------------------
def first_name(name) -> str | None:
    """The first word of the name when it reads as a name (letters only, short), else None ("there")."""
    word = " ".join(str(name or "").split()).split(" ")[0] if name else ""
    if not word or len(word) > 30 or not _NAME_OK.match(word) or _LINKISH.search(word):
        return None
    return word


def element_name(raw) -> str | None:
    """A clicked element's label, shown quoted, when it is a short plain label ("Save integration")."""
    text = " ".join(str(raw or "").split())
    if not text or len(text) > 40 or _LINKISH.search(text) or not _WORDS_OK.match(text) or text.isdigit():
        return None
    return f"\u201c{text}\u201d"


def page_name(raw) -> str | None:
    """A page's friendly name from its path: /docs/cli/authentication -> "CLI authentication"; ids,
    query strings and hosts are dropped; None when nothing readable is left (or it looks like an address)."""
    text = str(raw or "").strip()
    if not text or len(text) > 300:
        return None
    parts = urlsplit(text if "://" in text else "x://h" + ("" if text.startswith("/") else "/") + text)
    segments = [p for p in parts.path.split("/") if p and not _ID_SEGMENT.match(p)]
    if any("." in p or "@" in p or "\\" in p for p in segments):
        return None   # a domain, a file or an address: not a page name a customer should see
    meaningful = [p for p in segments if p.lower() not in _GENERIC_SEGMENTS]
    chosen = meaningful[-2:] or segments[-1:]
    words = []
    for seg in chosen:
        seg = re.sub(r"[-_+]+", " ", seg).strip()
        if not seg or not re.fullmatch(r"[A-Za-z][A-Za-z0-9 ]*", seg):
            return None
        words.append(seg if seg.isupper() else seg.lower())
    if not words:
        return None
    phrase = re.sub(r"\b(cli|sdk|api|sso|csv|pdf)\b", lambda m: m.group(1).upper(), " ".join(words))
    return phrase[:1].upper() + phrase[1:] if len(phrase) <= 40 else None


_GENERIC_SEGMENTS = {"docs", "app", "settings", "account", "en", "api"}


def api_name(raw) -> str | None:
    """An endpoint list's friendly name: ["/v1/exports"] -> "the exports API"."""
    items = raw if isinstance(raw, list | tuple) else [raw]
    names = [n for n in (page_name(x) for x in items[:2]) if n]
    return ("the " + " and ".join(names) + " API") if names else None


def email_value(spec: str, raw) -> str | None:
    """How a catalogue email template shows a value: only through a friendly-name check."""
    return {"element": element_name, "page": page_name, "api": api_name}.get(spec, lambda _: None)(raw)


def friction_label(signal: str, data: dict) -> str | None:
    """The friction point in the customer's words: the first of the catalogue's labels that renders."""
    sig = catalog.BY_NAME.get(signal)
    for template in (sig.email if sig else ()):
        text = catalog.render(template, data or {}, email_value)
        if text:
            return text
    return None


def friction_for(evidence: list[dict], looking_for: list[str], state: str | None, campaign: Campaign) -> dict | None:
    """What a supportive email helps with: what the user was looking for (billing -> the direct link to
    invoices), else their first friction point that has a troubleshooting page. ``evidence``: typed rows
    ({signal, polarity, data}) in friction order."""
    links = campaign.links or {}
    looking = links.get("looking") or {}
    if state in ("frustrated", "confused") or (state == "at_risk" and looking_for):
        for intent in looking_for:
            if looking.get(intent):
                label = {"billing": "your invoices and billing settings",
                         "security_review": "our security documents"}.get(intent, "what you were looking for")
                return {"signal": f"looking:{intent}", "label": label, "link": looking[intent], "looking": True}
    trouble = links.get("troubleshooting") or {}
    for e in evidence:
        if e.get("polarity", 0) < 0 and trouble.get(e["signal"]):
            label = friction_label(e["signal"], e.get("data") or {}) or "something"
            return {"signal": e["signal"], "label": label, "link": trouble[e["signal"]], "looking": False}
    return None


# --- rendering -------------------------------------------------------------------------------------------
@dataclass
class Draft:
    """One email before the footer: subject and body with tokens; ``values`` fills the tokens."""
    campaign: str
    template: str
    tone: str
    subject: str
    body: str
    values: dict
    rewritten: str | None = None
    rewrite: str = "template"          # template | llm
    rewrite_note: str = "no rewrite configured"


@functools.lru_cache(maxsize=16)
def _env(root: str):
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(root) / "templates")),
                              undefined=jinja2.StrictUndefined, autoescape=False,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)


def template_path(campaign: Campaign, template: str, tone: str) -> tuple[str, str]:
    """(relative template file, tone actually used): a tone without its own file uses standard."""
    if tone in TONES and (campaign.root / "templates" / template / f"{tone}.j2").exists():
        return f"{template}/{tone}.j2", tone
    return f"{template}/standard.j2", "standard"


@functools.lru_cache(maxsize=512)
def _render_tokens(campaign: Campaign, template: str, tone: str, friction_key: tuple | None) -> tuple[str, str, str]:
    """Subject and body with tokens (cached: most emails of a step share one rendering)."""
    rel, used_tone = template_path(campaign, template, tone)
    tpl = _env(str(campaign.root)).get_template(rel)
    friction = dict(friction_key) if friction_key else None
    ctx = {"product": campaign.product, "links": campaign.links, "contact": campaign.contact, "offer": campaign.offer,
           "first_name": TOKEN_FIRST_NAME,
           "friction": {**friction, "label": TOKEN_FRICTION} if friction else None}
    context = tpl.new_context(ctx)
    subject = " ".join("".join(tpl.blocks["subject"](context)).split())
    body = _tidy("".join(tpl.blocks["body"](context)))
    return subject, body, used_tone


def render(campaign: Campaign, template: str, tone: str, first: str | None = None,
           friction: dict | None = None) -> Draft:
    """Render ``template`` in ``tone``; ``first`` and the friction label are filled in by ``finish``."""
    key = tuple(sorted((k, v) for k, v in friction.items() if k != "label")) if friction else None
    subject, body, used_tone = _render_tokens(campaign, template, tone, key)
    values = {TOKEN_FIRST_NAME: first_name(first) or "there",
              TOKEN_FRICTION: (friction or {}).get("label") or "something"}
    return Draft(campaign.name, template, used_tone, subject, body, values)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _fill(text: str, values: dict) -> str:
    for token, value in values.items():
        text = text.replace(token, value)
    return text


def unsubscribe_url(settings, user_id: str, asm_group_id: int | None) -> str:
    """SendGrid's group unsubscribe link when an ``asm_group_id`` is configured, else settings.unsubscribe_url."""
    if asm_group_id:
        return ASM_UNSUBSCRIBE_URL
    return settings.unsubscribe_url.replace("{user_id}", quote(str(user_id), safe=""))


def finish(draft: Draft, product: str, unsubscribe: str) -> dict:
    """Subject and plain text with the tokens filled and the unsubscribe footer appended; ``tokens`` keeps
    what a later rewrite needs to finish the email again (the tokenised body, the values, the footer)."""
    subject = _fill(draft.subject, draft.values)
    footer = f"You are receiving this email because you have an account with {product}. Unsubscribe: {unsubscribe}"
    return {"subject": subject, "text": finished_text(draft.rewritten or draft.body, draft.values, footer),
            "unsubscribe_url": unsubscribe, "tokens": {"body": draft.body, "values": draft.values, "footer": footer}}


def finished_text(body: str, values: dict, footer: str) -> str:
    """A body with its tokens filled, and the footer: the footer is appended after any rewrite."""
    return f"{_fill(body, values)}\n\n--\n{footer}\n"


def html_page(subject: str, text: str, allowed_links: set[str]) -> str:
    """The HTML version of a finished plain-text email: paragraphs, bullets, and links only for the URLs
    in ``allowed_links`` (ours); any other text, URL-like or not, is escaped text."""
    body, _, footer = text.rstrip("\n").rpartition("\n--\n")
    if not body:
        body, footer = text, ""
    parts = []
    for para in re.split(r"\n\s*\n", body.strip()):
        lines = para.splitlines()
        if lines and all(line.startswith("- ") for line in lines):
            parts.append("<ul>" + "".join(f"<li>{_linkify(line[2:], allowed_links)}</li>" for line in lines) + "</ul>")
        else:
            parts.append("<p>" + "<br>".join(_linkify(line, allowed_links) for line in lines) + "</p>")
    foot = f'<p style="color:#888;font-size:12px">{_linkify(footer, allowed_links)}</p>' if footer else ""
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(subject)}</title></head>"
            f"<body style=\"font-family:sans-serif;max-width:600px;margin:auto\">{''.join(parts)}<hr>{foot}"
            f"</body></html>")


def _linkify(line: str, allowed: set[str]) -> str:
    out, pos = [], 0
    for m in _URL.finditer(line):
        url = m.group(0).rstrip(".,;:!?")
        if url not in allowed:
            continue
        out.append(html.escape(line[pos:m.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        pos = m.start() + len(url)
    out.append(html.escape(line[pos:]))
    return "".join(out)


def urls(text: str) -> set[str]:
    return {m.group(0).rstrip(".,;:!?") for m in _URL.finditer(text)}
