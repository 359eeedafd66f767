"""The whole pipeline over a landing folder an attacker helped fill, and over a database with a row no
stage can use: two runs in a row succeed, every good line is loaded and every user scored, nothing outside
the folder is read, and the run report says what was refused and what was skipped."""
from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime, timedelta

from runner import run_window
from test_ingest_hostile import gzip_bomb

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_hostile_files_beside_the_demo_never_stop_a_run(settings, tmp_path):
    from empathy import demo, store

    demo.generate(settings.landing, seed=7, start=START)
    (settings.landing / "times.jsonl").write_text("".join(
        json.dumps({"type": "track", "messageId": f"t{i}", "userId": "u_dana", "event": "X", "timestamp": ts}) + "\n"
        for i, ts in enumerate(["-infinity", "infinity", "0044-03-15 BC", "99999-01-01"])))
    lines = b"".join(json.dumps({"type": "track", "messageId": f"c{i}", "userId": f"u_c{i}", "event": f"E{i * 7919}",
                                 "timestamp": "2026-11-29T10:00:00Z"}).encode() + b"\n" for i in range(2000))
    packed = gzip.compress(lines)
    (settings.landing / "corrupt.jsonl.gz").write_bytes(packed[: len(packed) // 2] + b"\x00" * 200)
    gzip_bomb(settings.landing / "bomb.jsonl.gz", 256 << 20)
    (tmp_path / "airflow.cfg").write_text("jwt_secret = hunter2\n")
    (settings.landing / "x.jsonl").symlink_to(tmp_path / "airflow.cfg")
    (settings.landing / os.fsdecode(b"\xff\xfe-odd.jsonl")).write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"type": "track", "messageId": "odd-1", "userId": "u_odd", "event": "Signed Up",
                                      "timestamp": "2026-11-29T10:00:00Z"}).encode() + b"\r\n")
    (settings.landing / "export.csv").write_text("user,event\nu1,click\n")
    (settings.landing / "array.json").write_text(json.dumps([{"type": "track"}], indent=2))

    first = run_window(settings, START, run_id="first")
    second = run_window(settings, START + timedelta(hours=1), run_id="second")
    with store.connect(settings, read_only=True) as con:
        users = {u for (u,) in con.execute("SELECT DISTINCT user_id FROM events").fetchall()}
        scored = {u for (u,) in con.execute("SELECT user_id FROM user_state").fetchall()}
        seen = "\n".join(str(v) for table in ("events", "quarantine", "ingest_errors", "actions")
                         for row in con.execute(f"SELECT * FROM {table}").fetchall() for v in row)
    assert set(demo.EXPECTED) | {"u_odd"} <= users and scored == users
    assert "hunter2" not in seen
    for name in ("corrupt.jsonl.gz", "bomb.jsonl.gz", "x.jsonl", "export.csv", "array.json"):
        assert name in first["report"], name     # the report names each refused file, with what to do
    assert "new file(s)" in second["report"] and second["prepare"]["decided"]


def test_a_stored_row_no_stage_can_use_is_skipped_and_reported(settings):
    """An event with an impossible timestamp, loaded by an older version or by hand, fails no run."""
    from empathy import demo, store

    demo.generate(settings.landing, seed=7, start=START)
    run_window(settings, START, run_id="before")
    with store.connect(settings) as con:
        con.execute("INSERT INTO events (message_id, user_id, type, event, ts, properties, source_file, line_no, "
                    "ingested_at) VALUES ('bad-1', 'u_dana', 'track', 'Signed Up', '-infinity', '{}', 'old.jsonl', 1, "
                    "now()), ('bad-2', 'u_new', 'track', 'Element Clicked', '0044-03-15 (BC)', '{}', 'old.jsonl', 2, now())")
    out = run_window(settings, START + timedelta(hours=1), run_id="after")
    assert "2 stored event(s) have an impossible timestamp" in out["report"]
    with store.connect(settings, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM user_state WHERE user_id = 'u_new'").fetchall() == [(0,)]
