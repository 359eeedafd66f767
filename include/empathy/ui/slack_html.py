"""A Slack message as Slack shows it, in HTML: Block Kit (header, section text and fields, context,
actions, divider, image) and mrkdwn (*bold*, _italic_, ~strike~, `code`, ```blocks```, > quotes,
<url|links>, <@mentions>, <#channels>, <!here>), from the same JSON the alert is sent with.

Everything in a message is escaped before any markup is added, and only http(s) and mailto links become
links: the JSON may carry customer text (redacted and escaped by the builder, and still data here).
"""
from __future__ import annotations

import re
from html import escape, unescape

from markupsafe import Markup

_TOKEN = re.compile(r"<([^<>\n]{1,2000})>|`([^`\n]{1,2000})`")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_SAFE_URL = re.compile(r"^(https?://|mailto:)[^\s\"'<>]+$", re.I)
MAX_TEXT = 12000   # Slack's own limits are lower; a preview never renders more


def _link(url: str, label: str | None) -> str:
    shown = escape(unescape(label if label else url))
    url = unescape(url)
    if not _SAFE_URL.match(url):
        return shown
    return f'<a href="{escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{shown}</a>'


def _special(inner: str) -> str:
    """What Slack shows for one ``<...>`` sequence."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return f'<span class="mention">@{escape(unescape(label or target[1:]))}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{escape(unescape(label or target[1:]))}</span>'
    if target.startswith("!"):
        word = target[1:].split("^", 1)[0]
        shown = label or ("@" + word if word in ("here", "channel", "everyone") else word)
        return f'<span class="mention">{escape(unescape(shown))}</span>'
    return _link(target, label or None)


def _inline(text: str) -> str:
    """One line of mrkdwn (no code blocks, no quote marker) as HTML."""
    pieces: list[str] = []

    def hold(match: re.Match) -> str:
        html = _special(match.group(1)) if match.group(1) is not None else \
            f"<code>{escape(unescape(match.group(2)))}</code>"
        pieces.append(html)
        return f"\x00{len(pieces) - 1}\x00"

    held = _TOKEN.sub(hold, text.replace("\x00", ""))
    html = escape(unescape(held), quote=False)
    html = _BOLD.sub(r"<b>\1</b>", html)
    html = _ITALIC.sub(r"<i>\1</i>", html)
    html = _STRIKE.sub(r"<s>\1</s>", html)
    return re.sub(r"\x00(\d+)\x00", lambda m: pieces[int(m.group(1))], html)


def mrkdwn(text) -> Markup:
    """Slack mrkdwn as HTML."""
    text = str(text or "")[:MAX_TEXT]
    out: list[str] = []
    parts = text.split("```")
    for i, part in enumerate(parts):
        if i % 2 == 1 and i < len(parts) - 1:   # inside a ``` block: shown as it is
            out.append(f"<pre>{escape(unescape(part.strip(chr(10))))}</pre>")
            continue
        if i % 2 == 1:                          # an unclosed ```: Slack shows the backticks
            part = "```" + part
        quote: list[str] = []
        lines: list[str] = []
        for line in part.split("\n"):
            m = re.match(r"^(?:&gt;|>)\s?(.*)$", line)
            if m:
                quote.append(_inline(m.group(1)))
                continue
            if quote:
                lines.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
                quote = []
            lines.append(_inline(line) + "<br>")
        if quote:
            lines.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
        html = "".join(lines)
        out.append(html[:-4] if html.endswith("<br>") else html)
    return Markup("".join(out))


def _text(obj) -> Markup:
    """A Block Kit text object (mrkdwn or plain_text)."""
    if not isinstance(obj, dict):
        return Markup(escape(str(obj or "")))
    if obj.get("type") == "mrkdwn":
        return mrkdwn(obj.get("text"))
    return Markup(escape(str(obj.get("text") or "")).replace("\n", "<br>"))


def _element(el) -> str:
    if not isinstance(el, dict):
        return ""
    kind = el.get("type")
    if kind == "button":
        label = _text(el.get("text"))
        url = str(el.get("url") or "")
        css = "button" + (" primary" if el.get("style") == "primary" else "")
        if _SAFE_URL.match(url):
            return (f'<a class="{css}" href="{escape(url, quote=True)}" target="_blank" '
                    f'rel="noopener noreferrer">{label}</a>')
        return f'<span class="{css}">{label}</span>'
    if kind == "image":
        return f'<span class="image">[image: {escape(str(el.get("alt_text") or ""))}]</span>'
    if kind in ("mrkdwn", "plain_text"):
        return str(_text(el))
    return f'<span class="unsupported">[{escape(str(kind))}]</span>'


def blocks_html(blocks) -> Markup:
    """Block Kit blocks as Slack lays them out."""
    out = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            out.append(f'<div class="sk-header">{_text(block.get("text"))}</div>')
        elif kind == "section":
            html = ""
            if block.get("text"):
                html += f'<div class="sk-text">{_text(block["text"])}</div>'
            if block.get("fields"):
                html += '<div class="sk-fields">' + "".join(
                    f'<div class="sk-field">{_text(f)}</div>' for f in block["fields"]) + "</div>"
            if block.get("accessory"):
                html += f'<div class="sk-accessory">{_element(block["accessory"])}</div>'
            out.append(f'<div class="sk-section">{html}</div>')
        elif kind == "context":
            out.append('<div class="sk-context">' + " ".join(_element(e) for e in block.get("elements") or [])
                       + "</div>")
        elif kind == "actions":
            out.append('<div class="sk-actions">' + " ".join(_element(e) for e in block.get("elements") or [])
                       + "</div>")
        elif kind == "divider":
            out.append('<hr class="sk-divider">')
        elif kind == "image":
            out.append(f'<div class="sk-image">[image: {escape(str(block.get("alt_text") or ""))}]</div>')
        else:
            out.append(f'<div class="unsupported">[{escape(str(kind))} block]</div>')
    return Markup("".join(out))


def links(blocks) -> list[str]:
    """Every URL the message's buttons and links point to (the page checks the link back to the user)."""
    found: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("url"), str) and _SAFE_URL.match(value["url"]):
                found.append(value["url"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            found.extend(m.group(1).split("|", 1)[0] for m in _TOKEN.finditer(value)
                         if m.group(1) and _SAFE_URL.match(m.group(1).split("|", 1)[0]))

    walk(blocks)
    return found
