"""Ingest: every rejection has a reason, every line is counted once, nothing is read twice."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from empathy import config, ingest, store

ROOT = Path(__file__).resolve().parents[1]


def event(mid="m1", **overrides) -> dict:
    base = {"type": "track", "messageId": mid, "userId": "u1", "timestamp": "2026-11-20T10:00:00Z",
            "event": "Element Clicked", "properties": {"element": "save", "path": "/settings"}}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def line_bytes(line) -> bytes:
    return line if isinstance(line, bytes) else (line if isinstance(line, str) else json.dumps(line)).encode()


def land(settings, name: str, lines, newline=b"\n") -> Path:
    path = settings.landing / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(line_bytes(line) + newline for line in lines)
    if name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


@pytest.mark.parametrize("line, expected", [
    ("this is not json", "not JSON"),
    (json.dumps(event("t1")) + " trailing words", "not JSON"),
    (json.dumps(event("t2")) + json.dumps(event("t3")), "not JSON"),
    (json.dumps(event("t4"))[:-1], "not JSON"),
    ('{"type": "track", "messageId": ', "not JSON"),
    ("[1, 2, 3]", "not a JSON object"),
    ('"just a string"', "not a JSON object"),
    ("null", "not a JSON object"),
    (event(messageId=None), "missing messageId"),
    (event(messageId=""), "missing messageId"),
    (event(messageId="   "), "missing messageId"),
    (event(userId=None), "missing userId and anonymousId"),
    (event(timestamp="last tuesday"), "unparseable timestamp"),
    (event(timestamp=1700000000), "unparseable timestamp"),
    (event(timestamp=None), "missing timestamp"),
    (event(timestamp="-infinity"), "timestamp out of range"),
    (event(timestamp="infinity"), "timestamp out of range"),
    (event(timestamp="-0044-03-15T12:00:00Z"), "timestamp out of range"),
    (event(timestamp="99999-01-01T00:00:00Z"), "timestamp out of range"),
    (event(timestamp="1970-01-01T00:00:00Z"), "timestamp out of range"),
    (event(timestamp="2999-01-01T00:00:00Z"), "timestamp out of range"),
    (event(type="purchase"), "unknown type"),
    (event(type=None), "missing type"),
    (event(event=None), "track call without event"),
    (event(event=" "), "track call without event"),
    (event(properties=[1, 2]), "properties is not an object"),
    (event(properties="clicked"), "properties is not an object"),
    (event(type="identify", event=None, properties=None, traits="vip"), "traits is not an object"),
    (event(context=7), "context is not an object"),
    (event(properties={"blob": "x" * 33_000}), "event over 32 KB"),
    ('{"type":"track","messageId":"m9","userId":"caf\xe9","timestamp":"2026-11-20T10:00:00Z","event":"X"}'
     .encode("latin-1"), "not UTF-8"),
])
def test_each_rejection_is_quarantined_with_its_reason(con, settings, line, expected):
    land(settings, "bad.jsonl", [event("ok-1"), line, event("ok-2")])
    report = ingest.ingest_landing(con, settings)

    assert report.totals()["loaded"] == 2
    assert report.totals()["quarantined"] == 1
    assert not report.notices
    (row,) = rows(con, "SELECT source_file, line_no, raw, reason, raw_bytes, raw_sha256 FROM quarantine")
    assert row[0] == "bad.jsonl" and row[1] == 2
    assert expected in row[3]
    raw = line_bytes(line)
    assert row[2] and row[2] == raw[:8192].decode("utf-8", "replace")[:len(row[2])]  # the line, kept for a person
    assert (row[4], row[5]) == (len(raw), hashlib.sha256(raw).hexdigest())  # and what finds it in the source


def test_loaded_events_are_typed_and_numbered_by_their_line(con, settings):
    """line_no is the line of the file (blank lines count); a BOM and Windows line endings are fine."""
    path = settings.landing / "crlf.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(event("a")).encode() + b"\r\n\r\n   \r\n"
                     + json.dumps(event("b", userId=None, anonymousId="anon-7", timestamp="2026-11-20T12:30:00+02:00",
                                        context={"groupId": "acct-3", "ip": "x"})).encode() + b"\r\n")
    report = ingest.ingest_landing(con, settings)
    assert (report.totals()["lines"], report.totals()["loaded"]) == (2, 2)
    assert rows(con, "SELECT message_id, line_no, user_id, group_id, strftime(ts, '%H:%M'), "
                     "properties->>'$.element' FROM events ORDER BY line_no") == [
        ("a", 1, "u1", None, "10:00", "save"), ("b", 4, "anon:anon-7", "acct-3", "10:30", "save")]


def test_anonymous_events_are_kept_under_an_anon_user(con, settings):
    land(settings, "a.jsonl", [event("m1", userId=None, anonymousId="abc-123")])
    ingest.ingest_landing(con, settings)
    assert rows(con, "SELECT user_id, anonymous_id FROM events") == [("anon:abc-123", "abc-123")]


def test_hostile_file_reconciles_exactly(con, settings):
    lines = [event("a"), event("a"), "", "   ", "garbage", event("b", timestamp="nope"), event("c"),
             b"\xff\xfe", event("d", type="group", event=None, groupId="acct-1", traits={"mrr": 1200}),
             event("c"), "[]", event("e", properties={"big": "y" * 40_000})]
    land(settings, "hostile.jsonl", lines)
    report = ingest.ingest_landing(con, settings)

    non_blank = sum(1 for line in lines if line_bytes(line).strip())
    (row,) = rows(con, "SELECT lines, loaded, duplicates, quarantined FROM ingested_files")
    assert row[0] == non_blank == 10
    assert row[1] + row[2] + row[3] == row[0]
    assert (row[1], row[2], row[3]) == (3, 2, 5)
    assert report.totals()["loaded"] == rows(con, "SELECT count(*) FROM events")[0][0] == 3
    assert rows(con, "SELECT count(*) FROM quarantine WHERE reason IS NULL OR reason = ''")[0][0] == 0


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
    assert rows(con, "SELECT count(*), count(DISTINCT message_id) FROM events") == [(3, 3)]


def test_within_one_run_the_first_line_of_a_message_wins(con, settings):
    land(settings, "b.jsonl", [event("x", userId="from-b"), event("y", userId="b-first"), event("y", userId="b-again")])
    land(settings, "a.jsonl", [event("z"), event("x", userId="from-a")])
    report = ingest.ingest_landing(con, settings)
    by_file = {f.file_name: (f.lines, f.loaded, f.duplicates) for f in report.files}
    assert by_file == {"a.jsonl": (2, 2, 0), "b.jsonl": (3, 1, 2)}
    assert rows(con, "SELECT message_id, user_id, source_file, line_no FROM events ORDER BY 1") == [
        ("x", "from-a", "a.jsonl", 2), ("y", "b-first", "b.jsonl", 2), ("z", "u1", "a.jsonl", 1)]


def test_every_json_lines_name_loads(con, settings):
    land(settings, "a.jsonl.gz", [event("g1"), event("g2")])
    land(settings, "b.json", [event("j1")])
    land(settings, "c.ndjson", [event("n1")])
    land(settings, "d.JSON.gz", [event("n2")])
    land(settings, "nested/e.jsonl", [event("s1")])
    totals = ingest.ingest_landing(con, settings).totals()
    assert (totals["files"], totals["loaded"], totals["errors"]) == (5, 6, 0)
    assert "nested/e.jsonl" in {r[0] for r in rows(con, "SELECT file_name FROM ingested_files")}


def test_a_damaged_gzip_is_refused_whole_and_said_so(con, settings):
    """Deflate notices damage late (garbage decodes for a while first), so nothing of a damaged file is
    trusted: it is refused with what to do, beside a good file that loads."""
    good = b"".join(json.dumps(event(f"g{i}", userId=f"u{i}")).encode() + b"\n" for i in range(3000))
    (settings.landing / "broken.jsonl.gz").write_bytes(gzip.compress(good)[:-3000] + b"not gzip any more" * 20)
    (settings.landing / "truncated.jsonl.gz").write_bytes(gzip.compress(good)[:5000])
    (settings.landing / "bad-header.jsonl.gz").write_bytes(b"\x1f\x8bnot really gzip")
    half = good.index(b"\n", len(good) // 2) + 1
    (settings.landing / "two-members.jsonl.gz").write_bytes(gzip.compress(good[:half]) + gzip.compress(good[half:]))
    land(settings, "fine.jsonl", [event("f1")])
    report = ingest.ingest_landing(con, settings)

    assert {f.file_name: f.loaded for f in report.files} == {"fine.jsonl": 1, "two-members.jsonl.gz": 3000}
    assert {(n.file_name, n.kind) for n in report.notices} == {
        ("broken.jsonl.gz", "damaged_gzip"), ("truncated.jsonl.gz", "damaged_gzip"), ("bad-header.jsonl.gz", "damaged_gzip")}
    assert all("land it under a new name" in text for text in report.errors)
    assert rows(con, "SELECT count(*) FROM events WHERE source_file LIKE 'broken%' OR source_file LIKE 'trunc%'") == [(0,)]
    again = ingest.ingest_landing(con, settings)
    assert (again.totals()["files"], again.errors) == (0, [])


def test_changed_file_is_reported_once_not_reread(con, settings):
    path = land(settings, "a.jsonl", [event("m1")])
    ingest.ingest_landing(con, settings)
    time.sleep(0.01)
    path.write_text(json.dumps(event("m1")) + "\n" + json.dumps(event("m2")) + "\n")
    report = ingest.ingest_landing(con, settings)

    assert report.errors and "changed after it was ingested" in report.errors[0]
    assert "under a new name" in report.errors[0]  # what to do
    assert rows(con, "SELECT count(*) FROM events")[0][0] == 1
    assert rows(con, "SELECT file_name, kind FROM ingest_errors") == [("a.jsonl", "changed")]
    assert ingest.ingest_landing(con, settings).errors == []  # told once, not every run


def test_touched_but_identical_file_is_not_an_error(con, settings):
    path = land(settings, "a.jsonl", [event("m1")])
    ingest.ingest_landing(con, settings)
    os.utime(path, (time.time() - 100, time.time() - 100))
    report = ingest.ingest_landing(con, settings)
    assert not report.errors and report.totals()["skipped_unchanged"] == 1


def test_temp_and_hidden_files_are_left_alone(con, settings):
    land(settings, "upload.jsonl.tmp", [event("t1")])
    land(settings, "upload.jsonl.part", [event("t2")])
    land(settings, ".hidden.jsonl", [event("h1")])
    land(settings, ".staging/x.jsonl", [event("h2")])
    report = ingest.ingest_landing(con, settings)
    assert report.totals()["files"] == 0 and not report.notices
    assert ingest.pending_files(settings) == []


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
    assert rows(con, "SELECT count(*) FROM events")[0][0] == total
    assert rows(con, "SELECT count(*) FROM quarantine")[0][0] == 0
    assert rows(con, "SELECT lines, loaded FROM ingested_files") == [(total, total)]


def test_pending_files_for_the_sensor(con, settings):
    land(settings, "a.jsonl", [event("m1")])
    assert ingest.pending_files(settings) == ["a.jsonl"]
    ingest.ingest_landing(con, settings)
    assert ingest.pending_files(settings) == []
    land(settings, "b.jsonl", [event("m2")])
    land(settings, "notes.csv", ["a,b"])  # reported by the next run, then no longer pending
    assert ingest.pending_files(settings) == ["b.jsonl", "notes.csv"]
    ingest.ingest_landing(con, settings)
    assert ingest.pending_files(settings) == []


SEGMENT_EXAMPLES = sorted((ROOT / "tests" / "data" / "segment_examples").glob("*.jsonl"))


@pytest.mark.parametrize("example", SEGMENT_EXAMPLES, ids=lambda p: p.stem)
def test_segment_spec_examples_load_as_they_are(tmp_path, monkeypatch, example):
    """Segment's published example payloads (they share one messageId, so each gets its own database)."""
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


def test_a_file_with_rejected_lines_loads_the_same_events_as_a_clean_one(tmp_path, monkeypatch):
    """A file that loads whole is read once; one with a blank and a bad line is read again for the reason.
    Both give the same events (the line numbers apart)."""
    events = [event(f"m{i}", userId=f"u{i % 7}", properties={"element": f"e{i}", "n": i}) for i in range(300)]
    events += [event("g1", type="group", event=None, groupId="acct-9", traits={"mrr": 1500}, properties=None),
               event("p1", type="page", event=None, name="Docs", context={"page": {"path": "/docs/x"}})]
    results = {}
    for variant, lines in (("clean", events), ("dirty", events[:5] + ["", "garbage"] + events[5:])):
        monkeypatch.setenv("EMPATHY_HOME", str(tmp_path / variant))
        monkeypatch.setenv("EMPATHY_LANDING_SETTLE_S", "0")
        settings = config.load()
        land(settings, "f.jsonl", lines)
        with store.connect(settings) as con:
            report = ingest.ingest_landing(con, settings)
            assert report.files[0].rechecked == (variant == "dirty")
            assert (report.totals()["loaded"], report.totals()["quarantined"]) == (len(events), variant == "dirty")
            results[variant] = con.execute(
                "SELECT message_id, user_id, type, event, name, ts, group_id, properties::VARCHAR, "
                "traits::VARCHAR, context::VARCHAR FROM events ORDER BY message_id").fetchall()
    assert results["clean"] == results["dirty"]


def test_every_ingest_sql_file_declares_the_parameters_it_takes(con):
    """The header's `takes:` line is what the statements really bind (so a caller knows what to pass)."""
    folder = ROOT / "include" / "empathy" / "ingest" / "sql"
    names = sorted(p.name for p in folder.glob("*.sql"))
    assert "validate.sql" in names and "load_events.sql" in names
    store.run(con, "ingest/validate.sql").fetchall()  # the macro the others use
    for name in names:
        used = set()
        for statement in con.extract_statements(store.sql(f"ingest/{name}")):
            used |= set(statement.named_parameters)
        assert set(store.header(f"ingest/{name}")["takes"]) == used, name
