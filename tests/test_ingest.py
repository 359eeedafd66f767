"""Ingest: every rejection has a reason, every line is counted once, nothing is read twice."""
from __future__ import annotations

import gzip
import json
import os
import threading
import time
from pathlib import Path

import pytest

from empathy import config, ingest

ROOT = Path(__file__).resolve().parents[1]


def event(mid="m1", **overrides) -> dict:
    base = {"type": "track", "messageId": mid, "userId": "u1", "timestamp": "2026-11-20T10:00:00Z",
            "event": "Element Clicked", "properties": {"element": "save", "path": "/settings"}}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def land(settings, name: str, lines, mode="w") -> Path:
    path = settings.landing / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join((line if isinstance(line, bytes) else
                     (line if isinstance(line, str) else json.dumps(line)).encode()) + b"\n" for line in lines)
    if name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def reasons(con) -> dict[int, str]:
    return dict(con.execute("SELECT line_no, reason FROM quarantine").fetchall())


@pytest.mark.parametrize("line, expected", [
    ("this is not json", "not JSON"),
    (json.dumps(event("t1")) + " trailing words", "not JSON"),
    (json.dumps(event("t2")) + json.dumps(event("t3")), "not JSON"),
    (json.dumps(event("t4"))[:-1], "not JSON"),
    ('{"type": "track", "messageId": ', "not JSON"),
    ("[1, 2, 3]", "not a JSON object"),
    ('"just a string"', "not a JSON object"),
    (event(messageId=None), "missing messageId"),
    (event(messageId=""), "missing messageId"),
    (event(userId=None), "missing userId and anonymousId"),
    (event(timestamp="last tuesday"), "unparseable timestamp"),
    (event(timestamp=1700000000), "unparseable timestamp"),
    (event(timestamp=None), "missing timestamp"),
    (event(type="purchase"), "unknown type"),
    (event(type=None), "missing type"),
    (event(event=None), "track call without event"),
    (event(properties=[1, 2]), "properties is not an object"),
    (event(properties="clicked"), "properties is not an object"),
    (event(type="identify", event=None, properties=None, traits="vip"), "traits is not an object"),
    (event(properties={"blob": "x" * 33_000}), "over 32 KB"),
    ('{"type":"track","messageId":"m9","userId":"caf\xe9","timestamp":"2026-11-20T10:00:00Z","event":"X"}'
     .encode("latin-1"), "not UTF-8"),
])
def test_each_rejection_is_quarantined_with_its_reason(con, settings, line, expected):
    land(settings, "bad.jsonl", [event("ok-1"), line, event("ok-2")])
    report = ingest.ingest_landing(con, settings)

    assert report.totals()["loaded"] == 2
    assert report.totals()["quarantined"] == 1
    (row,) = con.execute("SELECT source_file, line_no, raw, reason FROM quarantine").fetchall()
    assert row[0] == "bad.jsonl" and row[1] == 2
    assert expected in row[3]
    assert row[2]  # the raw line is kept for a person to inspect


def test_anonymous_events_are_kept_under_an_anon_user(con, settings):
    land(settings, "a.jsonl", [event("m1", userId=None, anonymousId="abc-123")])
    ingest.ingest_landing(con, settings)
    assert con.execute("SELECT user_id, anonymous_id FROM events").fetchall() == [("anon:abc-123", "abc-123")]


def test_hostile_file_reconciles_exactly(con, settings):
    lines = [event("a"), event("a"), "", "   ", "garbage", event("b", timestamp="nope"), event("c"),
             b"\xff\xfe", event("d", type="group", event=None, groupId="acct-1", traits={"mrr": 1200}),
             event("c"), "[]", event("e", properties={"big": "y" * 40_000})]
    land(settings, "hostile.jsonl", lines)
    report = ingest.ingest_landing(con, settings)

    non_blank = sum(1 for line in lines if (line.strip() if isinstance(line, (str, bytes)) else True))
    (row,) = con.execute("SELECT lines, loaded, duplicates, quarantined FROM ingested_files").fetchall()
    assert row[0] == non_blank == 10
    assert row[1] + row[2] + row[3] == row[0]
    assert (row[1], row[2], row[3]) == (3, 2, 5)
    assert report.totals()["loaded"] == con.execute("SELECT count(*) FROM events").fetchall()[0][0] == 3
    assert con.execute("SELECT count(*) FROM quarantine WHERE reason IS NULL OR reason = ''").fetchall()[0][0] == 0


def test_dedup_across_files_and_reruns(con, settings):
    land(settings, "2026-11-20T10.jsonl", [event("m1"), event("m2")])
    first = ingest.ingest_landing(con, settings).totals()
    assert (first["loaded"], first["duplicates"]) == (2, 0)

    again = ingest.ingest_landing(con, settings).totals()
    assert again["files"] == 0 and again["loaded"] == 0 and again["skipped_unchanged"] == 1

    land(settings, "2026-11-20T11.jsonl", [event("m2"), event("m3")])  # m2 arrives a second time
    second = ingest.ingest_landing(con, settings)
    assert [f.file_name for f in second.files] == ["2026-11-20T11.jsonl"]  # only the new file was read
    assert (second.totals()["loaded"], second.totals()["duplicates"]) == (1, 1)
    assert con.execute("SELECT count(*), count(DISTINCT message_id) FROM events").fetchall() == [(3, 3)]


def test_gzip_and_json_extensions_load(con, settings):
    land(settings, "a.jsonl.gz", [event("g1"), event("g2")])
    land(settings, "b.json", [event("j1")])
    land(settings, "notes.txt", ["not an event file"])
    totals = ingest.ingest_landing(con, settings).totals()
    assert (totals["files"], totals["loaded"]) == (2, 3)


def test_corrupt_gzip_is_quarantined_not_crashing(con, settings):
    (settings.landing / "broken.jsonl.gz").write_bytes(b"\x1f\x8bnot really gzip")
    land(settings, "fine.jsonl", [event("f1")])
    totals = ingest.ingest_landing(con, settings).totals()
    assert totals["loaded"] == 1 and totals["quarantined"] == 1
    assert "gzip" in con.execute("SELECT reason FROM quarantine").fetchall()[0][0]


def test_changed_file_is_reported_not_reread(con, settings):
    path = land(settings, "a.jsonl", [event("m1")])
    ingest.ingest_landing(con, settings)
    time.sleep(0.01)
    path.write_text(json.dumps(event("m1")) + "\n" + json.dumps(event("m2")) + "\n")
    report = ingest.ingest_landing(con, settings)

    assert report.errors and "changed after it was ingested" in report.errors[0]
    assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] == 1
    assert con.execute("SELECT file_name FROM ingest_errors").fetchall() == [("a.jsonl",)]


def test_touched_but_identical_file_is_not_an_error(con, settings):
    path = land(settings, "a.jsonl", [event("m1")])
    ingest.ingest_landing(con, settings)
    os.utime(path, (time.time() - 100, time.time() - 100))
    report = ingest.ingest_landing(con, settings)
    assert not report.errors and report.totals()["skipped_unchanged"] == 1


def test_temp_and_hidden_files_are_left_alone(con, settings):
    land(settings, "upload.jsonl.tmp", [event("t1")])
    land(settings, ".hidden.jsonl", [event("h1")])
    assert ingest.ingest_landing(con, settings).totals()["files"] == 0


def test_file_arriving_while_a_run_is_going_loads_once_and_whole(con, settings, monkeypatch):
    """A writer appends in bursts while ingest runs again and again: the file is deferred until it
    settles, then loaded exactly once, complete, with nothing quarantined and no 'changed' error."""
    monkeypatch.setenv("EMPATHY_LANDING_SETTLE_S", "0.3")
    settings = config.load()
    path = settings.landing / "2026-11-20T12.jsonl"
    total = 2_000

    def writer():
        with path.open("w") as out:
            for i in range(total):
                out.write(json.dumps(event(f"w{i}")))
                if i % 400 == 399:
                    out.flush()
                    time.sleep(0.1)
                out.write("\n")

    thread = threading.Thread(target=writer)
    thread.start()
    reports = []
    while thread.is_alive():
        reports.append(ingest.ingest_landing(con, settings))
        time.sleep(0.02)
    thread.join()
    time.sleep(0.35)
    reports.append(ingest.ingest_landing(con, settings))

    assert any(r.deferred for r in reports[:-1])
    assert not any(r.errors for r in reports)
    assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] == total
    assert con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0] == 0
    assert con.execute("SELECT lines, loaded FROM ingested_files").fetchall() == [(total, total)]


def test_pending_files_for_the_sensor(con, settings):
    land(settings, "a.jsonl", [event("m1")])
    assert ingest.pending_files(settings) == ["a.jsonl"]
    ingest.ingest_landing(con, settings)
    assert ingest.pending_files(settings) == []
    land(settings, "b.jsonl", [event("m2")])
    assert ingest.pending_files(settings) == ["b.jsonl"]


SEGMENT_EXAMPLES = sorted((ROOT / "tests" / "data" / "segment_examples").glob("*.jsonl"))


@pytest.mark.parametrize("example", SEGMENT_EXAMPLES, ids=lambda p: p.stem)
def test_segment_spec_examples_load_as_they_are(tmp_path, monkeypatch, example):
    """Segment's published example payloads (they share one messageId, so each gets its own database)."""
    from empathy import store

    monkeypatch.setenv("EMPATHY_HOME", str(tmp_path))
    monkeypatch.setenv("EMPATHY_LANDING_SETTLE_S", "0")
    settings = config.load()
    settings.landing.mkdir(parents=True)
    text = example.read_text()
    (settings.landing / example.name).write_text(text)
    with store.connect(settings) as con:
        totals = ingest.ingest_landing(con, settings).totals()
        assert totals["quarantined"] == 0, con.execute("SELECT reason FROM quarantine").fetchall()
        assert totals["loaded"] == sum(1 for line in text.splitlines() if line.strip())
        assert con.execute("SELECT DISTINCT type FROM events").fetchall() == [(example.stem,)]


def test_segment_examples_are_present():
    assert {p.stem for p in SEGMENT_EXAMPLES} >= {"track", "identify", "page", "group"}


def test_fast_and_exact_paths_load_the_same_events(tmp_path, monkeypatch):
    """A clean file takes DuckDB's reader, a file with one blank line the line-by-line path: same rows."""
    from empathy import store

    events = [event(f"m{i}", userId=f"u{i % 7}", properties={"element": f"e{i}", "n": i}) for i in range(300)]
    events += [event("g1", type="group", event=None, groupId="acct-9", traits={"mrr": 1500}, properties=None),
               event("p1", type="page", event=None, name="Docs", context={"page": {"path": "/docs/x"}})]
    results = {}
    for variant, lines in (("fast", events), ("exact", events[:5] + [""] + events[5:])):
        monkeypatch.setenv("EMPATHY_HOME", str(tmp_path / variant))
        monkeypatch.setenv("EMPATHY_LANDING_SETTLE_S", "0")
        settings = config.load()
        land(settings, "f.jsonl", lines)
        with store.connect(settings) as con:
            report = ingest.ingest_landing(con, settings)
            assert report.files[0].path == variant
            assert report.totals()["loaded"] == len(events)
            results[variant] = con.execute(
                "SELECT message_id, user_id, type, event, name, ts, group_id, properties::VARCHAR, "
                "traits::VARCHAR, context::VARCHAR FROM events ORDER BY message_id").fetchall()
    assert results["fast"] == results["exact"]


def test_a_line_of_spaces_sends_the_file_down_the_exact_path(con, settings):
    land(settings, "spaces.jsonl", [event("s1"), "   \t", event("s2")])
    report = ingest.ingest_landing(con, settings)
    assert report.files[0].path == "exact"
    assert (report.totals()["lines"], report.totals()["loaded"]) == (2, 2)
