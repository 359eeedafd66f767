"""Concierge alerts to Slack: ``chat.postMessage`` through the provider hook's slack_sdk WebClient.

Retries are the client's own (see ``empathy.connections.slack_client``): 429 waits out
``Retry-After``, 500/503 back off. Slack has no idempotency key, so the action_id travels in the
message ``metadata`` (event type ``empathy_action``): a duplicate after a crash can be found and
traced to its decision.
"""
from __future__ import annotations

from slack_sdk.errors import SlackApiError


class SlackDeliveryError(Exception):
    """Slack refused or could not be reached; the message says why (never the token)."""


def channel_for(row: dict, fallback: str) -> str:
    """The account manager's id (or the channel policy chose), else the configured fallback channel."""
    return (row.get("detail") or {}).get("channel") or fallback


def post(client, row: dict, channel: str) -> str:
    """Post the alert; returns Slack's ``ts`` (the message id). Raises SlackDeliveryError."""
    d = row.get("detail") or {}
    text = d.get("text") or row.get("reason") or "Empathy alert"  # the notification / fallback text
    try:
        resp = client.chat_postMessage(
            channel=channel, text=text, blocks=d.get("blocks") or None,
            unfurl_links=False, unfurl_media=False,
            metadata={"event_type": "empathy_action", "event_payload": {"action_id": row["action_id"]}})
    except SlackApiError as exc:
        data = exc.response.data if exc.response is not None else None
        error = data.get("error") if isinstance(data, dict) else None
        status = exc.response.status_code if exc.response is not None else "?"
        raise SlackDeliveryError(f"slack HTTP {status}: {error or 'unexpected response'}") from None
    except Exception as exc:  # noqa: BLE001 - timeouts, resets, undecodable bodies: the outcome is unknown
        raise SlackDeliveryError(f"slack request failed: {type(exc).__name__}: {exc}") from None
    ts = resp.get("ts")
    if not ts:
        raise SlackDeliveryError("slack answered ok without a message ts")
    return ts
