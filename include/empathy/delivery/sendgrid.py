"""Emails through SendGrid's v3 ``mail/send`` with the official SDK, and the optional hold mirror.

The SDK does not retry, so tenacity does: on 429 and 5xx, waiting what ``Retry-After`` asks
(bounded by ``delivery_max_retry_after_s``) or backing off exponentially, at most
``delivery_retries`` times. Timeouts and connection errors are not retried within the run (the
mail may have been accepted); the action is left ``failed`` for the next run. SendGrid has no
idempotency key: ``custom_args.action_id`` rides on every message (and on every event webhook
post), so a duplicate can be spotted and traced.
"""
from __future__ import annotations

import json
from urllib.parse import quote

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Asm, Category, CustomArg, From, GroupId, Mail, MailSettings, SandBoxMode, To
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt

UNSUBSCRIBE_WORDS = ("unsubscribe", "<%asm_group_unsubscribe_raw_url%>")


class SendGridDeliveryError(Exception):
    """SendGrid refused or could not be reached; the message says why (never the key)."""


def client(info, timeout_s: float) -> SendGridAPIClient:
    sg = SendGridAPIClient(api_key=info.api_key, host=info.host)
    sg.client.timeout = timeout_s
    return sg


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _retryable(max_wait_s: float):
    def check(exc: BaseException) -> bool:
        if not isinstance(exc, HTTPError):
            return False
        status = getattr(exc, "status_code", 0)
        if status != 429 and status < 500:
            return False
        wait = _retry_after(exc)
        return wait is None or wait <= max_wait_s
    return retry_if_exception(check)


def _wait(state: RetryCallState) -> float:
    asked = _retry_after(state.outcome.exception()) if state.outcome else None
    return asked if asked is not None else min(0.5 * 2 ** (state.attempt_number - 1), 8.0)


def _with_retries(settings, fn, *args):
    wrapped = retry(retry=_retryable(settings.delivery_max_retry_after_s), wait=_wait,
                    stop=stop_after_attempt(settings.delivery_retries + 1), reraise=True)(fn)
    try:
        return wrapped(*args)
    except HTTPError as exc:
        raise SendGridDeliveryError(f"sendgrid HTTP {exc.status_code}: {_error_text(exc)}") from None
    except SendGridDeliveryError:
        raise
    except Exception as exc:  # noqa: BLE001 - timeouts, resets: the outcome is unknown
        raise SendGridDeliveryError(f"sendgrid request failed: {type(exc).__name__}: {exc}") from None


def _error_text(exc: HTTPError) -> str:
    try:
        errors = json.loads(exc.body.decode("utf-8")).get("errors") or []
        return "; ".join(f"{e.get('field') or ''}: {e.get('message')}" for e in errors)[:500] or "no detail"
    except (ValueError, AttributeError):
        return "unreadable error body"


def _has_unsubscribe(body: str) -> bool:
    low = body.lower()
    return any(word in low for word in UNSUBSCRIBE_WORDS)


def build_mail(row: dict, info, settings) -> dict:
    """The v3 payload: to, from, subject, text+html, custom_args, categories, asm or an unsubscribe link, sandbox."""
    d = row["detail"]
    html, text = d.get("html") or "", d.get("text") or ""
    if info.asm_group_id is None and d.get("category") != "transactional":
        # the policy's templates carry the footer; this is the guarantee when a body lacks it
        link = settings.unsubscribe_url.format(user_id=quote(str(row["user_id"]), safe=""))
        if html and not _has_unsubscribe(html):
            html += f'<p style="font-size:12px;color:#666"><a href="{link}">Unsubscribe</a></p>'
        if text and not _has_unsubscribe(text):
            text += f"\n\nUnsubscribe: {link}\n"
    mail = Mail(from_email=From(info.from_email, info.from_name), to_emails=To(d["to_email"]),
                subject=d.get("subject") or "", plain_text_content=text or None, html_content=html or None)
    args = {"action_id": row["action_id"], "user_id": str(row["user_id"])}
    for key in ("campaign", "step", "tone"):
        if d.get(key) is not None:
            args[key] = str(d[key])
    mail.custom_arg = [CustomArg(k, v) for k, v in args.items()]
    categories = [c for c in dict.fromkeys([d.get("category"), row["kind"]]) if c]
    mail.category = [Category(c) for c in categories]
    if info.asm_group_id is not None:
        mail.asm = Asm(GroupId(info.asm_group_id))
    mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(bool(settings.sendgrid_sandbox)))
    return mail.get()


def send(sg: SendGridAPIClient, payload: dict, settings) -> str | None:
    """POST mail/send; returns the X-Message-Id (None in sandbox mode if SendGrid gives none)."""
    def once():
        resp = sg.client.mail.send.post(request_body=payload)
        if resp.status_code not in (200, 202):
            raise SendGridDeliveryError(f"sendgrid answered HTTP {resp.status_code}")
        if resp.body and resp.body.strip():
            try:
                json.loads(resp.body)
            except ValueError:
                raise SendGridDeliveryError("sendgrid answered with an unreadable body") from None
        return resp.headers.get("X-Message-Id")
    return _with_retries(settings, once)


def mirror_hold(sg: SendGridAPIClient, group_id: int, email: str, hold: bool, settings) -> None:
    """Add (hold) or remove (release) the address in the suppression group that stands for holds."""
    def once():
        groups = sg.client.asm.groups._(str(group_id)).suppressions
        if hold:
            groups.post(request_body={"recipient_emails": [email]})
        else:
            groups._(quote(email, safe="")).delete()
    _with_retries(settings, once)
