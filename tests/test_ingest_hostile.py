"""Untrusted input never stops Empathy: each class of hostile input beside good files, and two runs in a row.

Memory is checked where Python holds it (tracemalloc: bytes, numpy and Arrow buffers made from them), with
small chunk settings, against inputs many times larger: the bound comes from the settings, not the input.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import tracemalloc
import zlib

import pandas  # noqa: F401  (pyarrow imports it on first use: not inside a traced window)
import pytest

from empathy import ingest
from empathy.ingest import landing, reader

GOOD = [{"type": "track", "messageId": f"good-{i}", "userId": f"u{i % 5}", "timestamp": "2026-11-20T10:00:00Z",
         "event": "Element Clicked", "properties": {"element": "save"}} for i in range(50)]


def write_good(settings, name="good.jsonl"):
    (settings.landing / name).write_text("".join(json.dumps(e) + "\n" for e in GOOD))


def all_text(con) -> str:
    """Every text a reader of the database can see in the ingest's tables."""
    parts = []
    for table in ("events", "quarantine", "ingested_files", "ingest_errors"):
        for row in con.execute(f"SELECT * FROM {table}").fetchall():
            parts += [str(v) for v in row]
    return "\n".join(parts)


def gzip_bomb(path, expanded: int, block: bytes = b" " * (1 << 20)) -> None:
    """A small .gz that expands to `expanded` bytes, written without holding them."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        for _ in range(expanded // len(block)):
            out.write(z.compress(block))
        out.write(z.flush())


def test_impossible_timestamps_never_get_in_and_the_next_run_is_fine(con, settings):
    write_good(settings)
    stamps = ["-infinity", "infinity", "0044-03-15 BC", "-0044-03-15T00:00:00Z", "294276-12-31T23:59:59Z",
              "99999-01-01", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "2999-12-31T00:00:00Z", "epoch"]
    (settings.landing / "times.jsonl").write_text("".join(
        json.dumps({"type": "track", "messageId": f"t{i}", "userId": "u1", "event": "X", "timestamp": ts}) + "\n"
        for i, ts in enumerate(stamps)))
    first = ingest.ingest_landing(con, settings)
    assert first.totals()["loaded"] == len(GOOD)
    assert first.totals()["quarantined"] == len(stamps)
    ok = con.execute("SELECT bool_and(isfinite(ts) AND ts >= TIMESTAMPTZ '2000-01-01' AND ts <= now() + INTERVAL 8 DAY) "
                     "FROM events").fetchall()[0][0]
    assert ok
    reasons = {r for (r,) in con.execute("SELECT reason FROM quarantine").fetchall()}
    assert all(r.startswith(("timestamp out of range", "unparseable timestamp")) for r in reasons), reasons
    second = ingest.ingest_landing(con, settings)
    assert second.totals()["files"] == 0 and not second.errors


def test_the_accepted_window_is_a_setting(con, settings):
    settings = settings.replace(ingest_ts_min="2026-11-21T00:00:00Z")
    write_good(settings)  # all on 2026-11-20: before the window now
    report = ingest.ingest_landing(con, settings)
    assert (report.totals()["loaded"], report.totals()["quarantined"]) == (0, len(GOOD))
    assert "accepted: 2026-11-21 00:00" in con.execute("SELECT any_value(reason) FROM quarantine").fetchall()[0][0]


def test_a_gzip_bomb_is_refused_early_and_cheaply(con, settings):
    """256 MiB of spaces in a ~250 KB .gz: refused once it has expanded past the ratio, after a few MiB."""
    write_good(settings)
    gzip_bomb(settings.landing / "bomb.jsonl.gz", 256 << 20)
    settings = settings.replace(ingest_chunk_bytes=1 << 20)
    tracemalloc.start()
    report = ingest.ingest_landing(con, settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.totals()["loaded"] == len(GOOD)
    assert [(n.file_name, n.kind) for n in report.notices] == [("bomb.jsonl.gz", "gzip_bomb")]
    assert "EMPATHY_INGEST_MAX_GZIP_RATIO" in report.errors[0]
    assert peak < 8 << 20, peak  # a few chunks, not the 256 MiB it would expand to
    assert not ingest.ingest_landing(con, settings).errors  # reported once


def test_a_file_over_the_size_limit_is_refused_whole(con, settings):
    settings = settings.replace(ingest_max_file_bytes=1 << 20)
    write_good(settings)
    big = json.dumps(GOOD[0]).replace("good-0", "big-%d")
    (settings.landing / "big.jsonl").write_text("".join(big % i + "\n" for i in range(20_000)))  # ~2.4 MB
    gzip_bomb(settings.landing / "big.jsonl.gz", 4 << 20, block=(json.dumps(GOOD[0]) + "\n").encode() * 100)
    report = ingest.ingest_landing(con, settings.replace(ingest_max_gzip_ratio=100000))
    assert {(n.file_name, n.kind) for n in report.notices} == {("big.jsonl", "too_large"), ("big.jsonl.gz", "too_large")}
    assert report.totals()["loaded"] == len(GOOD)
    assert con.execute("SELECT count(*) FROM events WHERE source_file LIKE 'big%'").fetchall() == [(0,)]


def test_a_huge_line_is_rejected_without_being_held_and_keeps_a_bounded_prefix(con, settings):
    """A 24 MiB line with 1 MiB chunks: quarantined with its length and hash; the prefix is bounded."""
    write_good(settings)
    body = b'{"type": "track", "properties": {"blob": "' + b"\xc3\xa9" * (12 << 20) + b'"}}'
    (settings.landing / "long.jsonl").write_bytes(json.dumps(GOOD[0]).replace("good-0", "before").encode() + b"\n"
                                                 + body + b"\n" + json.dumps(GOOD[1]).replace("good-1", "after").encode())
    settings = settings.replace(ingest_chunk_bytes=1 << 20, quarantine_raw_bytes=65536)
    tracemalloc.start()
    report = ingest.ingest_landing(con, settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.totals()["loaded"] == len(GOOD) + 2  # the lines around it load
    (line_no, raw, raw_bytes, sha, reason), = con.execute(
        "SELECT line_no, raw, raw_bytes, raw_sha256, reason FROM quarantine").fetchall()
    assert (line_no, raw_bytes, sha) == (2, len(body), hashlib.sha256(body).hexdigest())
    assert reason.startswith("event over 32 KB")
    assert len(raw.encode()) <= 65536 and raw.startswith('{"type": "track"')
    assert peak < 8 << 20, peak  # chunks, not the line


def test_memory_follows_the_chunk_setting_not_the_file(con, settings):
    """A 40 MB file read 1 MiB at a time: Python holds a few chunks (those DuckDB is still parsing), not the file."""
    line = json.dumps(GOOD[0]).replace("good-0", "m-%d") + "\n"
    with (settings.landing / "many.jsonl").open("w") as out:
        for start in range(0, 280_000, 10_000):
            out.write("".join(line % i for i in range(start, start + 10_000)))
    assert (settings.landing / "many.jsonl").stat().st_size > 40 << 20
    settings = settings.replace(ingest_chunk_bytes=1 << 20)
    tracemalloc.start()
    report = ingest.ingest_landing(con, settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.totals()["loaded"] == 280_000
    assert peak < 16 << 20, peak


def test_a_symlink_is_never_followed(con, settings, tmp_path):
    """`ln -s $AIRFLOW_HOME/airflow.cfg landing/x.jsonl`: refused with a reason; the secret is never read."""
    secret = tmp_path / "airflow.cfg"
    secret.write_text('{"type": "track", "messageId": "jwt_secret=hunter2", "userId": "u", "event": "X", '
                      '"timestamp": "2026-11-20T10:00:00Z"}\njwt_secret = hunter2\n')
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    (outside_dir / "events.jsonl").write_text(secret.read_text())
    write_good(settings)
    (settings.landing / "x.jsonl").symlink_to(secret)
    (settings.landing / "folder").symlink_to(outside_dir, target_is_directory=True)
    (settings.landing / "dangling.jsonl").symlink_to(tmp_path / "missing")
    for _ in range(2):
        report = ingest.ingest_landing(con, settings)
    assert "hunter2" not in all_text(con)
    kinds = {r for r in con.execute("SELECT file_name, kind FROM ingest_errors").fetchall()}
    assert kinds == {("x.jsonl", "symlink"), ("folder", "symlink"), ("dangling.jsonl", "symlink")}
    assert con.execute("SELECT count(*) FROM events").fetchall() == [(len(GOOD),)]
    assert not report.errors  # the second run does not tell it again


def test_a_file_swapped_for_a_link_after_the_listing_is_not_read(con, settings, tmp_path):
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps(GOOD[0]).replace("good-0", "secret") + "\n")
    write_good(settings, "a.jsonl")
    (entry,) = landing.scan(settings.landing)
    (settings.landing / "a.jsonl").unlink()
    (settings.landing / "a.jsonl").symlink_to(secret)
    with pytest.raises(landing.NotRegular):
        with landing.open_entry(settings.landing, entry):
            pass
    stream = reader.LandingStream(settings.landing, [entry], settings)
    assert stream.reader().read_all().num_rows == 0 and stream.scans[0].changed


def test_what_is_not_a_regular_file_is_refused_without_being_opened(con, settings):
    write_good(settings)
    os.mkfifo(settings.landing / "pipe.jsonl")  # opening it for reading would block the run
    report = ingest.ingest_landing(con, settings)
    assert [(n.file_name, n.kind) for n in report.notices] == [("pipe.jsonl", "not_a_file")]
    assert report.totals()["loaded"] == len(GOOD)


def test_a_name_that_is_not_utf8_is_read_and_shown_escaped(con, settings):
    name = os.fsdecode(b"caf\xe9-\x1b[31m.jsonl")
    (settings.landing / name).write_text(json.dumps(GOOD[0]) + "\n")
    assert ingest.pending_files(settings) == ["caf\\xe9-\\x1b[31m.jsonl"]
    report = ingest.ingest_landing(con, settings)
    assert [f.file_name for f in report.files] == ["caf\\xe9-\\x1b[31m.jsonl"]
    assert con.execute("SELECT source_file FROM events").fetchall() == [("caf\\xe9-\\x1b[31m.jsonl",)]
    assert ingest.pending_files(settings) == []
    assert ingest.ingest_landing(con, settings).totals()["skipped_unchanged"] == 1


def test_a_file_that_cannot_be_read_is_reported_and_tried_again(con, settings, monkeypatch):
    write_good(settings)
    write_good(settings, "locked.jsonl")
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if path == "locked.jsonl":
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    report = ingest.ingest_landing(con, settings)
    assert [(n.file_name, n.kind) for n in report.notices] == [("locked.jsonl", "unreadable")]
    assert "Permission denied" in report.errors[0] and "tried again" in report.errors[0]
    monkeypatch.setattr(os, "open", real_open)
    report = ingest.ingest_landing(con, settings)  # readable now: loaded, all duplicates of good.jsonl
    assert [(f.file_name, f.duplicates) for f in report.files] == [("locked.jsonl", len(GOOD))]


def test_one_file_duckdb_fails_on_does_not_fail_the_run(con, settings, monkeypatch):
    """Should the bulk statement fail all the same, the run goes file by file and reports the one that fails."""
    write_good(settings, "a.jsonl")
    (settings.landing / "b.jsonl").write_text(json.dumps(GOOD[0]).replace("good-0", "b-0") + "\n")
    real_reader = reader.LandingStream.reader

    def failing(self):
        if any(e.name == "b.jsonl" for e in self.entries):
            raise __import__("duckdb").InvalidInputException("simulated")
        return real_reader(self)

    monkeypatch.setattr(reader.LandingStream, "reader", failing)
    report = ingest.ingest_landing(con, settings)
    assert [f.file_name for f in report.files] == ["a.jsonl"]
    assert [(n.file_name, n.kind) for n in report.notices] == [("b.jsonl", "load_failed")]
    monkeypatch.setattr(reader.LandingStream, "reader", real_reader)
    assert [f.file_name for f in ingest.ingest_landing(con, settings).files] == ["b.jsonl"]  # tried again


def test_everything_at_once_two_runs_in_a_row(con, settings, tmp_path):
    """The issue's folder: beside good files, impossible timestamps, a corrupt gzip, a gzip bomb, a link to a
    file outside, a BOM and a non-UTF-8 name. Two runs succeed; every good line loads; the outside is unread."""
    write_good(settings)
    (settings.landing / "times.jsonl").write_text(
        json.dumps({"type": "track", "messageId": "t1", "userId": "u1", "event": "X", "timestamp": "-infinity"}) + "\n")
    (settings.landing / "corrupt.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:30] + hashlib.sha256(b"noise").digest() * 7)
    gzip_bomb(settings.landing / "bomb.jsonl.gz", 64 << 20)
    (tmp_path / "airflow.cfg").write_text("jwt_secret = hunter2\n")
    (settings.landing / "x.jsonl").symlink_to(tmp_path / "airflow.cfg")
    bom = json.dumps(GOOD[0]).replace("good-0", "bom-1")
    (settings.landing / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + bom.encode() + b"\r\n")
    (settings.landing / os.fsdecode(b"\xff\xfe.jsonl")).write_text(json.dumps(GOOD[0]).replace("good-0", "odd") + "\n")

    first = ingest.ingest_landing(con, settings)
    second = ingest.ingest_landing(con, settings)
    loaded = {m for (m,) in con.execute("SELECT message_id FROM events").fetchall()}
    assert loaded == {e["messageId"] for e in GOOD} | {"bom-1", "odd"}
    assert {(n.file_name, n.kind) for n in first.notices} == {
        ("corrupt.jsonl.gz", "damaged_gzip"), ("bomb.jsonl.gz", "gzip_bomb"), ("x.jsonl", "symlink")}
    assert "hunter2" not in all_text(con)
    assert second.totals()["files"] == 0 and not second.errors
    assert con.execute("SELECT max(length(raw)) <= 8192 FROM quarantine").fetchall() == [(True,)]


def test_the_read_ahead_thread_ends_when_the_reader_is_dropped_early(settings):
    """A statement that fails part-way stops pulling: the thread reading ahead must not outlive it."""
    import gc
    import threading

    line = json.dumps(GOOD[0]) + "\n"
    for name in ("a.jsonl", "b.jsonl"):
        (settings.landing / name).write_text(line * 30_000)
    settings = settings.replace(ingest_chunk_bytes=1 << 20)
    stream = reader.LandingStream(settings.landing, landing.scan(settings.landing), settings)
    batches = stream.reader()
    assert batches.read_next_batch().num_rows > 0
    del batches
    gc.collect()
    assert not [t for t in threading.enumerate() if t.name == "ingest-read-ahead"]


@pytest.mark.parametrize("seed", range(6))
def test_lines_come_out_the_same_whatever_the_chunk_boundaries(settings, seed):
    """Random files (events, blanks, CRLF, long lines, bytes that are not UTF-8, a BOM, no final newline) cut
    into random chunks: every line comes out once, with its true number, exactly as a plain split says."""
    import random

    rng = random.Random(seed)
    settings = settings.replace(ingest_max_line_bytes=1024, quarantine_raw_bytes=256)
    pieces = []
    for i in range(400):
        kind = rng.choice(["event", "event", "event", "blank", "crlf", "long", "latin1", "spaces"])
        if kind == "event":
            pieces.append(json.dumps(dict(GOOD[0], messageId=f"r{i}", name="é" * rng.randint(0, 300))).encode())
        elif kind == "blank":
            pieces.append(b"")
        elif kind == "crlf":
            pieces.append(json.dumps(dict(GOOD[0], messageId=f"c{i}")).encode() + b"\r")
        elif kind == "long":
            pieces.append(b'{"x": "' + "é".encode() * rng.randint(400, 5000) + b'"}')
        elif kind == "latin1":
            pieces.append(b'{"x": "caf\xe9"}')
        else:
            pieces.append(b" \t " * rng.randint(1, 600))
    content = (b"\xef\xbb\xbf" if seed % 2 else b"") + b"\n".join(pieces) + (b"\n" if seed % 3 else b"")

    expected = {}
    for no, line in enumerate(content.split(b"\n"), start=1):
        if no == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if line.strip():
            expected[no] = (len(line), hashlib.sha256(line).hexdigest())
    scan = reader.FileScan()
    lines = reader._Lines("f.jsonl", settings, scan)
    got, at = {}, reader.SNIFF_BYTES // 16  # the first piece is the head, as when reading a file (a BOM is in it)
    batches = list(lines.feed(content[:at]))
    while at < len(content):
        size = rng.choice([1, 2, 3, 7, 64, 1000, 1025, 4096, 50_000])
        batches += list(lines.feed(content[at:at + size]))
        at += size
    batches += list(lines.finish())
    for batch in batches:
        for row in batch.to_pylist():
            assert row["line_no"] not in got
            raw = row["raw"].removesuffix("\n")
            whole = raw.encode()
            got[row["line_no"]] = ((row["pre_bytes"], row["pre_sha256"]) if row["pre_bytes"] is not None
                                   else (len(whole), hashlib.sha256(whole).hexdigest()))
            if row["pre_bytes"] is not None:
                assert len(whole) <= 256 * 3 and row["pre_reason"]
    assert got == expected
    assert scan.lines == len(expected)
