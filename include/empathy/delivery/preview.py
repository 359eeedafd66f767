"""Previews in ``$EMPATHY_HOME/outbox/``: what was sent, or would have been, in a form a person can open.

- ``outbox/email/<action_id>.html``: the email as the recipient would see it, under a banner with
  to, subject, category, tone and why it was chosen. Opens in any browser; the body renders in a
  sandboxed iframe so nothing in it can run.
- ``outbox/slack/<action_id>.json``: the alert's ``channel``, ``text`` and Block Kit ``blocks``
  (paste ``blocks`` into Slack's Block Kit Builder to see it).
- ``outbox/holds.jsonl``: one line per hold/release.
- ``outbox/index.html``: every preview, newest first, linked (rebuilt from ``outbox/previews.jsonl``).

Previews are written for real sends too, so the outbox always shows what left the machine.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path

import msgspec
from jinja2 import Environment

from empathy.files import write_atomic

_append_lock = threading.Lock()  # send() writes previews from several threads


@contextlib.contextmanager
def _appending(path: Path, mode: str):
    """``path`` opened to append, locked against this process's other threads and against other processes
    (a bulk run's previews are written by two at once): each batch's lines stay whole and together."""
    with _append_lock, path.open(mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh
            fh.flush()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
_encoder = msgspec.json.Encoder()
_env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

EMAIL_PAGE = _env.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ d.subject or '(no subject)' }} - {{ mode }}</title>
<style>
 body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f6}
 header{background:{{ '#fff4d6' if mode == 'simulated' else '#e3f6e8' }};padding:12px 20px;border-bottom:1px solid #ccc}
 table{border-collapse:collapse;font-size:14px} td{padding:2px 12px 2px 0;vertical-align:top}
 td:first-child{color:#666} iframe{width:100%;height:70vh;border:0;background:#fff}
 pre{white-space:pre-wrap;padding:0 20px}
</style></head><body>
<header><strong>{{ 'Simulated: not sent' if mode == 'simulated' else 'Sent through SendGrid' }}</strong>
<table>
<tr><td>To</td><td>{{ d.to_email or '(none)' }}</td></tr>
<tr><td>Subject</td><td>{{ d.subject }}</td></tr>
<tr><td>Category</td><td>{{ d.category }}</td></tr>
<tr><td>Tone</td><td>{{ d.tone }}</td></tr>
{% if d.campaign %}<tr><td>Campaign</td><td>{{ d.campaign }}{% if d.step is not none %} / step {{ d.step }}{% endif %}</td></tr>{% endif %}
<tr><td>Why</td><td>{{ row.reason }}</td></tr>
<tr><td>User</td><td>{{ row.user_id }}{% if row.account_id %} (account {{ row.account_id }}){% endif %}</td></tr>
<tr><td>Action</td><td><code>{{ row.action_id }}</code></td></tr>
</table></header>
{% if html %}<iframe sandbox srcdoc="{{ html }}" title="email body"></iframe>{% endif %}
{% if text %}<details {{ '' if html else 'open' }}><summary>Plain-text version</summary><pre>{{ text }}</pre></details>{% endif %}
</body></html>
""")

INDEX_PAGE = _env.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Empathy outbox</title>
<style>body{font-family:system-ui,sans-serif;margin:20px} td,th{padding:3px 10px;text-align:left;font-size:14px}
tr:nth-child(even){background:#f4f4f6}</style></head><body>
<h1>Empathy outbox</h1><p>{{ entries|length }} previews, newest first. Simulated ones never left the machine.</p>
<table><tr><th>when</th><th>kind</th><th>mode</th><th>user</th><th>what</th><th>preview</th></tr>
{% for e in entries %}<tr><td>{{ e.at }}</td><td>{{ e.kind }}</td><td>{{ e.mode }}</td><td>{{ e.user_id }}</td>
<td>{{ e.title }}</td><td>{% if e.path %}<a href="{{ e.path }}">{{ e.path }}</a>{% endif %}</td></tr>
{% endfor %}</table></body></html>
""")


def _safe_name(action_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in action_id)


# Preview paths are plain strings: a bulk run writes one per email, and path objects cost more than the write.
def email(outbox: Path, row: dict, mode: str) -> str:
    """Write the email preview; ``mode`` is ``simulated`` or ``live``. Returns its path."""
    d = row.get("detail") or {}
    page = EMAIL_PAGE.render(row=row, d=d, mode=mode, html=d.get("html") or "", text=d.get("text") or "")
    path = os.path.join(outbox, "email", f"{_safe_name(row['action_id'])}.html")
    write_atomic(path, page)
    return path


def slack_alert(outbox: Path, row: dict, channel: str, mode: str) -> str:
    """Write the alert's Block Kit JSON. Returns its path."""
    d = row.get("detail") or {}
    doc = {"channel": channel, "text": d.get("text", ""), "blocks": d.get("blocks") or [],
           "action_id": row["action_id"], "mode": mode, "reason": row.get("reason")}
    path = os.path.join(outbox, "slack", f"{_safe_name(row['action_id'])}.json")
    write_atomic(path, msgspec.json.format(msgspec.json.encode(doc), indent=2))   # UTF-8, as Slack shows it
    return path


def holds(outbox: Path, rows: list[dict]) -> Path:
    """Append holds and releases as JSON lines (their preview: they take effect inside Empathy)."""
    path = outbox / "holds.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _appending(path, "a") as fh:
        for row in rows:
            line = {k: row.get(k) for k in ("action_id", "kind", "user_id", "account_id", "reason", "as_of", "run_id")}
            line["mode"] = "simulated" if row.get("simulate") else "live"
            fh.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
    return path


def hold(outbox: Path, row: dict, mode: str) -> Path:
    """One hold/release claimed for the SendGrid mirror: its preview line."""
    return holds(outbox, [{**row, "simulate": mode == "simulated"}])


def entry(outbox: Path, row: dict, path: Path | str | None, mode: str, at: str) -> dict:
    """One preview's line in the manifest the index is built from (``path`` inside ``outbox``)."""
    d = row.get("detail") or {}
    title = {"email": lambda: f"[{d.get('category')}/{d.get('tone')}] {d.get('subject')}",
             "slack_alert": lambda: f"{d.get('channel')}: {d.get('text', '')[:120]}"}.get(
        row["kind"], lambda: row.get("reason") or "")()
    return {"action_id": row["action_id"], "kind": row["kind"], "user_id": row.get("user_id"), "mode": mode,
            "title": title, "path": _inside(outbox, path) if path else None, "at": at}


def _inside(outbox: Path, path: Path | str) -> str:
    """``path`` relative to ``outbox`` (a prefix cut, not pathlib's relative_to: one per preview)."""
    path, root = os.fspath(path), os.fspath(outbox).rstrip(os.sep) + os.sep
    if path.startswith(root):
        return path[len(root):]
    return str(Path(path).relative_to(outbox))


def note(outbox: Path, entries: list[dict]) -> None:
    """Add a batch's previews to the manifest in one append (a line per preview; opening the file for
    each one, under the lock the sending threads share, cost more than writing the previews)."""
    if not entries:
        return
    outbox.mkdir(parents=True, exist_ok=True)
    lines = b"".join(_encoder.encode(e) + b"\n" for e in entries)
    with _appending(outbox / "previews.jsonl", "ab") as fh:
        fh.write(lines)


INDEX_LATEST = 1000   # the index is for a person opening the folder: the Empathy page shows every preview


def write_index(outbox: Path) -> Path | None:
    """Rebuild ``outbox/index.html`` from the manifest's latest ``INDEX_LATEST`` previews (the latest entry
    per action wins): its cost stays flat however many previews the outbox holds."""
    manifest = outbox / "previews.jsonl"
    if not manifest.exists():
        return None
    with manifest.open("rb") as fh:   # the tail of the manifest: about INDEX_LATEST lines
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - INDEX_LATEST * 400))
        tail = fh.read().decode("utf-8", "replace").splitlines()[1 if size > INDEX_LATEST * 400 else 0:]
    latest: dict[str, dict] = {}
    for line in tail:
        if line.strip():
            entry = json.loads(line)
            latest[entry["action_id"]] = entry
    entries = sorted(latest.values(), key=lambda e: e["at"], reverse=True)[:INDEX_LATEST]
    path = outbox / "index.html"
    write_atomic(path, INDEX_PAGE.render(entries=entries))
    return path
