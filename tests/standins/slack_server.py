"""Stand-in for the Slack Web API method the relay uses: ``POST /api/chat.postMessage``.

Answers the way Slack does: HTTP 200 with ``{"ok": true, "channel", "ts", "message"}``, or 200 with
``{"ok": false, "error": ...}`` for a bad token, channel or payload. Rate limits are scripted with
``ratelimit_next()`` (HTTP 429, ``Retry-After``, ``{"ok": false, "error": "ratelimited"}``), like
Slack's own. Point a connection's extra ``base_url`` at ``server.api_url``.
"""
from __future__ import annotations

import itertools
import json
import threading
from email import policy as email_policy
from email.parser import BytesParser
from urllib.parse import parse_qs

from standins.base import Reply, Request, Standin

CHANNEL_IDS = {"#empathy-alerts": "C0EMPATHY"}


class SlackStandin(Standin):
    def __init__(self, token: str = "xoxb-test-token"):
        super().__init__()
        self.token = token
        self.messages: list[dict] = []  # every message accepted, in order
        self._ts = itertools.count(1)
        self._msg_lock = threading.Lock()

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def connection(self) -> str:
        """Airflow connection `slack_api_default` (JSON, for AIRFLOW_CONN_SLACK_API_DEFAULT) pointing here."""
        return json.dumps({"conn_type": "slack", "password": self.token, "extra": {"base_url": self.api_url}})

    def action_ids(self) -> list[str]:
        """The Empathy action_id of every message posted (answered, not faulted), in order."""
        return [json.loads(r.body)["metadata"]["event_payload"]["action_id"] for r in self.served("chat.postMessage")]

    def ratelimit_next(self, retry_after: int = 1, times: int = 1) -> None:
        self.fail_next(429, retry_after=retry_after, times=times, body={"ok": False, "error": "ratelimited"})

    @staticmethod
    def _params(request: Request) -> dict:
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            return request.json or {}
        if ctype.startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in parse_qs(request.text).items()}
        if ctype.startswith("multipart/form-data"):  # what WebClient.api_call(data=...) sends
            message = BytesParser(policy=email_policy.HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + request.body)
            return {part.get_param("name", header="content-disposition"): part.get_content()
                    for part in message.iter_parts()}
        raise ValueError(f"unsupported content type {ctype!r}")

    def handle(self, request: Request) -> Reply:
        if request.method != "POST" or not request.path.startswith("/api/chat.postMessage"):
            return Reply(404, {"ok": False, "error": "unknown_method"})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        try:
            params = self._params(request)
        except ValueError:
            return Reply(200, {"ok": False, "error": "invalid_form_data"})
        channel = params.get("channel")
        if not channel:
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except json.JSONDecodeError:
                return Reply(200, {"ok": False, "error": "invalid_blocks_format"})
        if blocks is not None and (not isinstance(blocks, list) or not all(
                isinstance(b, dict) and b.get("type") for b in blocks)):
            return Reply(200, {"ok": False, "error": "invalid_blocks"})
        if not params.get("text") and not blocks:
            return Reply(200, {"ok": False, "error": "no_text"})
        channel_id = CHANNEL_IDS.get(channel, channel.lstrip("#@"))
        with self._msg_lock:
            ts = f"1700000000.{next(self._ts):06d}"
            message = {"type": "message", "ts": ts, "text": params.get("text", ""), "blocks": blocks or [],
                       "bot_id": "B0STANDIN", "metadata": params.get("metadata")}
            self.messages.append({"channel": channel, **message})
        return Reply(200, {"ok": True, "channel": channel_id, "ts": ts, "message": message})
