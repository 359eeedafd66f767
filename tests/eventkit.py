"""A tiny builder of Segment-spec events for tests, and a bulk insert into ``events``.

Times are seconds after ``T0`` (``at=``), so a test reads like a journey:

    insert_events(con, [
        track("u1", "Element Clicked", at=0, element="Save", path="/settings"),
        page("u1", "/docs/quickstart", at=60),
    ])

The dicts are what a landing file holds (``messageId``, ``userId``, ``timestamp``, ...), so the same
journeys can be written to landing/ as JSON Lines (``write_jsonl``) and go through ingest.
"""
from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning
_ids = itertools.count(1)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def _call(kind: str, user: str, at_s: float, **fields) -> dict:
    msg = {"type": kind, "messageId": f"m{next(_ids):08d}", "timestamp": at(at_s).isoformat()}
    if user.startswith("anon:"):
        msg["anonymousId"] = user[5:]
    else:
        msg["userId"] = user
    msg.update({k: v for k, v in fields.items() if v is not None})
    return msg


def track(user: str, event: str, at: float = 0, context: dict | None = None, **properties) -> dict:
    return _call("track", user, at, event=event, properties=properties, context=context)


def page(user: str, path: str, at: float = 0, name: str | None = None, **properties) -> dict:
    return _call("page", user, at, name=name, properties={"path": path, **properties})


def identify(user: str, at: float = 0, **traits) -> dict:
    return _call("identify", user, at, traits=traits)


def group(user: str, group_id: str, at: float = 0, **traits) -> dict:
    return _call("group", user, at, groupId=group_id, traits=traits)


# Shorthands for the tracking plan's events.
def click(user, element, at=0, path="/app"):
    return track(user, "Element Clicked", at=at, element=element, path=path)


def api(user, status, at=0, endpoint="/v1/deploy", error=None):
    return track(user, "API Request", at=at, endpoint=endpoint, status_code=status, error_message=error)


def command(user, at=0, cmd="deploy"):
    return track(user, "Command Executed", at=at, command=cmd)


def search(user, query, at=0):
    return track(user, "Search Performed", at=at, query=query)


def ticket(user, ticket_id, text, at=0, subject=None):
    return track(user, "Support Ticket Created", at=at, ticket_id=ticket_id, text=text, subject=subject,
                 author="customer")


def message(user, ticket_id, text, at=0, author="customer"):
    return track(user, "Support Message Sent", at=at, ticket_id=ticket_id, text=text, author=author)


def resolved(user, ticket_id, at=0):
    return track(user, "Support Ticket Resolved", at=at, ticket_id=ticket_id, author="agent")


def payment(user, ok: bool, at=0, invoice_id="inv_1", amount=49.0, reason=None):
    return track(user, "Payment Succeeded" if ok else "Payment Failed", at=at, invoice_id=invoice_id,
                 amount=amount, currency="USD", reason=reason)


def _row(e: dict, ingested_at: datetime) -> dict:
    user = e.get("userId") or f"anon:{e['anonymousId']}"

    def dump(value):
        return None if value is None else json.dumps(value)

    return {
        "message_id": e["messageId"], "user_id": user, "anonymous_id": e.get("anonymousId"),
        "type": e["type"], "event": e.get("event"), "name": e.get("name"),
        "ts": datetime.fromisoformat(e["timestamp"]), "group_id": e.get("groupId"),
        "properties": dump(e.get("properties")), "traits": dump(e.get("traits")), "context": dump(e.get("context")),
        "source_file": "eventkit", "line_no": 0, "ingested_at": ingested_at,
    }


def insert_events(con, events: list[dict], ingested_at: datetime | None = None) -> int:
    """Bulk-insert Segment-spec dicts into ``events`` (as ingest would, minus validation). Returns the count."""
    if not events:
        return 0
    ingested_at = ingested_at or datetime.now(UTC)
    table = pa.Table.from_pylist([_row(e, ingested_at) for e in events])
    if hasattr(con, "complete"):
        con.complete()  # DuckDB refuses register() while an earlier result is unread
    con.register("_eventkit_rows", table)
    try:
        con.execute("""
            INSERT INTO events (message_id, user_id, anonymous_id, type, event, name, ts, group_id,
                                properties, traits, context, source_file, line_no, ingested_at)
            SELECT message_id, user_id, anonymous_id, type, event, name, ts, group_id,
                   properties::JSON, traits::JSON, context::JSON, source_file, line_no, ingested_at
            FROM _eventkit_rows""")
    finally:
        con.unregister("_eventkit_rows")
    return len(events)


def write_jsonl(path: Path, events: list[dict]) -> Path:
    """Write events as a landing file (JSON Lines)."""
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path
