"""Hostile lines: what the ingest must quarantine (and one redelivery it must count as a duplicate, not
load), so the demo shows the quarantine working instead of hoping nobody sends garbage. The file is never
compressed: it holds bytes that are not UTF-8 and a line over 32 KB on purpose."""
from __future__ import annotations

import json
from datetime import timedelta

from empathy.demo.journey import World, iso_ms


def hostile_lines(world: World, duplicate_of: dict) -> list[tuple[str, bytes]]:
    """(case, raw line) pairs. `duplicate_of` is a good event repeated verbatim (a redelivery)."""
    ts = iso_ms(world.start - timedelta(hours=1))

    def line(**ev) -> bytes:
        return json.dumps(ev, ensure_ascii=False).encode()

    mid = world.message_id
    cases = [
        ("not_json", b'{"type": "track", "event": "Element Clicked", "userId": "u_gus", "properties": {"elem'),
        ("json_array", json.dumps([{"type": "track", "event": "Element Clicked", "userId": "u_gus",
                                    "messageId": mid(), "timestamp": ts}]).encode()),
        ("not_an_object", b'42'),
        ("missing_message_id", line(type="track", userId="u_gus", timestamp=ts, event="Element Clicked",
                                    properties={"element": "Pricing", "path": "/pricing"})),
        ("missing_user", line(type="track", messageId=mid(), timestamp=ts, event="Element Clicked",
                              properties={"element": "Pricing", "path": "/pricing"})),
        ("bad_timestamp", line(type="track", messageId=mid(), userId="u_gus", timestamp="yesterday at noon",
                               event="Element Clicked", properties={"element": "Pricing"})),
        ("unknown_type", line(type="purchase", messageId=mid(), userId="u_gus", timestamp=ts,
                              properties={"sku": "A-1"})),
        ("track_without_event", line(type="track", messageId=mid(), userId="u_gus", timestamp=ts,
                                     properties={"element": "Pricing"})),
        ("properties_not_object", line(type="track", messageId=mid(), userId="u_gus", timestamp=ts,
                                       event="Element Clicked", properties="Pricing button")),
        ("traits_not_object", line(type="identify", messageId=mid(), userId="u_gus", timestamp=ts,
                                   traits=["gus@vandelay.example"])),
        ("over_32kb", line(type="track", messageId=mid(), userId="u_nadia", timestamp=ts,
                           event="Support Message Sent",
                           properties={"ticket_id": "T-1042", "author": "customer",
                                       "text": "Log dump: " + "ERROR export failed; " * 2000})),
        ("invalid_utf8", b'{"type": "track", "messageId": "' + mid().encode() + b'", "userId": "u_gus", '
                         b'"timestamp": "' + ts.encode() + b'", "event": "Search Performed", '
                         b'"properties": {"query": "caf\xe9 \xff export"}}'),
        ("blank_line", b"   "),  # not an event at all: counted nowhere
        ("duplicate_message_id", json.dumps(duplicate_of, ensure_ascii=False).encode()),
    ]
    return cases


# Hostile cases and what the ingest should do with each (blank lines are not counted at all).
HOSTILE_OUTCOMES = {
    "not_json": "quarantined", "json_array": "quarantined", "not_an_object": "quarantined",
    "missing_message_id": "quarantined", "missing_user": "quarantined", "bad_timestamp": "quarantined",
    "unknown_type": "quarantined", "track_without_event": "quarantined", "properties_not_object": "quarantined",
    "traits_not_object": "quarantined", "over_32kb": "quarantined", "invalid_utf8": "quarantined",
    "blank_line": "ignored", "duplicate_message_id": "duplicate",
}

