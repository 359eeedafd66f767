"""Stand-in for the SendGrid v3 endpoints the relay uses.

- ``POST /v3/mail/send``: validates the v3 payload the way SendGrid documents it and answers 202
  with an ``X-Message-Id`` header (200 in sandbox mode: validated, never delivered), or 400 with
  ``{"errors": [{"message", "field"}]}``; 401 without the right Bearer key.
- ``POST /v3/asm/groups/{id}/suppressions`` and ``DELETE .../suppressions/{email}``: the
  suppression group that mirrors holds.

Point the connection's host at ``server.base_url``. Accepted mail is kept in ``server.mails``.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
from urllib.parse import unquote

from standins.base import Reply, Request, Standin

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SUPPRESSIONS = re.compile(r"^/v3/asm/groups/(\d+)/suppressions(?:/([^/?]+))?$")


def _errors(*pairs) -> Reply:
    return Reply(400, {"errors": [{"message": m, "field": f, "help": None} for f, m in pairs]})


def validate_mail(body) -> list[tuple[str, str]]:
    """(field, message) for every rule of the v3 mail/send payload the body breaks."""
    if not isinstance(body, dict):
        return [("", "The request body must be a JSON object.")]
    problems = []
    pers = body.get("personalizations")
    if not isinstance(pers, list) or not pers:
        problems.append(("personalizations", "The personalizations field is required and must have at least one personalization."))
        pers = []
    for i, p in enumerate(pers):
        tos = p.get("to") if isinstance(p, dict) else None
        if not isinstance(tos, list) or not tos:
            problems.append((f"personalizations.{i}.to", "The to array is required for all personalization objects."))
            continue
        for j, to in enumerate(tos):
            if not isinstance(to, dict) or not EMAIL.match(str(to.get("email", ""))):
                problems.append((f"personalizations.{i}.to.{j}.email", "Does not contain a valid address."))
    sender = body.get("from")
    if not isinstance(sender, dict) or not EMAIL.match(str(sender.get("email", ""))):
        problems.append(("from.email", "The from email does not contain a valid address."))
    has_subject = isinstance(body.get("subject"), str) and body["subject"].strip()
    if not has_subject and not all(isinstance(p, dict) and p.get("subject") for p in pers):
        problems.append(("subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."))
    content = body.get("content")
    if not isinstance(content, list) or not content:
        problems.append(("content", "Unless a valid template_id is provided, the content parameter is required."))
    else:
        types = []
        for k, c in enumerate(content):
            if not isinstance(c, dict) or not c.get("type") or not isinstance(c.get("value"), str) or not c["value"]:
                problems.append((f"content.{k}", "Each content object needs a type and a non-empty value."))
            else:
                types.append(c["type"])
        if "text/plain" in types and types.index("text/plain") != 0:
            problems.append(("content", "If present, text/plain content must be first, followed by text/html."))
    custom = body.get("custom_args")
    if custom is not None and (not isinstance(custom, dict) or not all(
            isinstance(v, str) for v in custom.values())):
        problems.append(("custom_args", "Custom args must be an object of string values."))
    cats = body.get("categories")
    if cats is not None and not (isinstance(cats, list) and len(cats) <= 10 and all(
            isinstance(c, str) and 0 < len(c) <= 255 for c in cats) and len(set(cats)) == len(cats)):
        problems.append(("categories", "Up to 10 unique categories, each a string of at most 255 characters."))
    asm = body.get("asm")
    if asm is not None and (not isinstance(asm, dict) or not isinstance(asm.get("group_id"), int)):
        problems.append(("asm.group_id", "The asm group_id must be an integer."))
    sandbox = (body.get("mail_settings") or {}).get("sandbox_mode")
    if sandbox is not None and not isinstance((sandbox or {}).get("enable"), bool):
        problems.append(("mail_settings.sandbox_mode.enable", "Enable must be a boolean."))
    return problems


class SendGridStandin(Standin):
    def __init__(self, api_key: str = "SG.test-key"):
        super().__init__()
        self.api_key = api_key
        self.mails: list[dict] = []  # accepted payloads, each with its "_message_id"
        self.suppressions: dict[int, set[str]] = {}
        self._ids = itertools.count(1)
        self._mail_lock = threading.Lock()

    def connection(self, **extra) -> str:
        """Airflow connection `sendgrid_default` (JSON, for AIRFLOW_CONN_SENDGRID_DEFAULT) pointing here."""
        return json.dumps({"conn_type": "email", "host": self.base_url, "password": self.api_key,
                           "extra": {"from_email": "care@empathy.test", **extra}})

    def action_ids(self) -> list[str]:
        """The Empathy action_id (custom_args) of every mail accepted, in order."""
        return [r.json["custom_args"]["action_id"] for r in self.served("/v3/mail/send")]

    def handle(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"errors": [{"field": None, "message": "authorization required"}]})
        path = request.path.split("?")[0]
        if path == "/v3/mail/send" and request.method == "POST":
            return self._mail_send(request)
        match = SUPPRESSIONS.match(path)
        if match:
            return self._suppressions(request, int(match.group(1)), match.group(2))
        return Reply(404, {"errors": [{"field": None, "message": "not found"}]})

    def _mail_send(self, request: Request) -> Reply:
        try:
            body = request.json
        except ValueError:
            return _errors(("", "Bad Request: the body is not valid JSON."))
        problems = validate_mail(body)
        if problems:
            return _errors(*problems)
        with self._mail_lock:
            message_id = f"sgmsg-{next(self._ids):05d}"
            self.mails.append({**body, "_message_id": message_id})
        sandbox = ((body.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable")
        return Reply(200 if sandbox else 202, b"", {"X-Message-Id": message_id})

    def _suppressions(self, request: Request, group: int, email: str | None) -> Reply:
        members = self.suppressions.setdefault(group, set())
        if request.method == "POST" and email is None:
            emails = (request.json or {}).get("recipient_emails")
            if not isinstance(emails, list) or not all(isinstance(e, str) and EMAIL.match(e) for e in emails):
                return _errors(("recipient_emails", "recipient_emails must be a list of addresses."))
            members.update(emails)
            return Reply(201, {"recipient_emails": emails})
        if request.method == "DELETE" and email is not None:
            members.discard(unquote(email))
            return Reply(204, b"")
        return Reply(405, {"errors": [{"field": None, "message": "method not allowed"}]})
