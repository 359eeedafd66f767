"""The landing folder talks back: a file Empathy will not read is reported once per version, with what to do."""
from __future__ import annotations

import gzip
import json
import os
import time
import zipfile

import pytest

from empathy import ingest

EVENT = {"type": "track", "messageId": "m1", "userId": "u1", "timestamp": "2026-11-20T10:00:00Z",
         "event": "Element Clicked", "properties": {"element": "save"}}
EVENTS = [dict(EVENT, messageId=f"m{i}") for i in range(3)]


def notices(report) -> dict[str, str]:
    return {n.file_name: n.kind for n in report.notices}


def write(settings, name: str, data: bytes | str):
    path = settings.landing / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize("name, data, kind, words", [
    ("export.csv", "type,messageId\ntrack,m1\n", "unsupported_name", "CSV"),
    ("export.csv.gz", gzip.compress(b"type,messageId\n", mtime=0), "unsupported_name", "CSV"),
    ("events.parquet", b"PAR1....", "unsupported_name", "Parquet"),
    ("events.zip", b"PK\x03\x04", "unsupported_name", "zip"),
    ("README", "hello", "unsupported_name", "JSON Lines"),
    ("pretty-array.json", json.dumps(EVENTS, indent=2), "json_array", "jq -c '.[]'"),
    ("one-line-array.json", json.dumps(EVENTS), "json_array", "one event per line"),
    ("pretty-object.json", json.dumps(EVENT, indent=2), "json_document", "jq -c ."),
    ("csv-named-jsonl.jsonl", "type,messageId,userId\ntrack,m1,u1\ntrack,m2,u1\n", "not_json_lines", "JSON object"),
    ("python-repr.jsonl", "{'type': 'track', 'messageId': 'm1'}\n", "not_json_lines", "double-quoted"),
    ("utf16.jsonl", (json.dumps(EVENT) + "\n").encode("utf-16"), "utf16", "UTF-8"),
    ("zipped.jsonl", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40, "binary", "JSON Lines"),
    ("plain-named-gz.jsonl.gz", json.dumps(EVENT) + "\n", "not_gzip", "without .gz"),
    ("csv-inside.jsonl.gz", gzip.compress(b"type,messageId\ntrack,m1\n", mtime=0), "not_json_lines", "JSON object"),
    ("empty.jsonl", "", "empty", "nothing to load"),
    ("blank-lines.jsonl", "\n  \n\r\n", "empty", "nothing to load"),
], ids=lambda value: value if isinstance(value, str) and "\n" not in value and len(value) < 40 else "")
def test_a_file_it_will_not_read_is_reported_with_what_to_do(con, settings, name, data, kind, words):
    write(settings, name, data)
    write(settings, "good.jsonl", json.dumps(EVENT) + "\n")
    report = ingest.ingest_landing(con, settings)

    assert notices(report) == {name: kind}
    assert words in report.errors[0] and report.errors[0].startswith(name)
    assert report.totals()["loaded"] == 1  # the good file beside it
    (row,) = con.execute("SELECT file_name, kind, error, action FROM ingest_errors").fetchall()
    assert row[:2] == (name, kind) and row[2] and row[3]
    assert con.execute("SELECT count(*) FROM ingested_files WHERE file_name = ?", [name]).fetchall() == [(0,)]
    assert ingest.ingest_landing(con, settings).errors == []  # once per file version, not every run


def test_a_new_version_of_a_reported_file_is_looked_at_again(con, settings):
    path = write(settings, "late.jsonl", "")
    assert notices(ingest.ingest_landing(con, settings)) == {"late.jsonl": "empty"}
    path.write_text(json.dumps(EVENT) + "\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1000))
    report = ingest.ingest_landing(con, settings)
    assert (report.totals()["loaded"], report.errors) == (1, [])


def test_json_lines_that_happen_to_start_badly_are_still_read(con, settings):
    """Only a head with no JSON object at all refuses a file: a few bad lines first are just quarantined."""
    write(settings, "a.jsonl", '{"type": "track", "messageId": \n[1, 2]\n42\n' + json.dumps(EVENT) + "\n")
    report = ingest.ingest_landing(con, settings)
    assert (report.totals()["loaded"], report.totals()["quarantined"], report.errors) == (1, 3, [])


def test_folders_are_read_and_odd_ones_reported(con, settings):
    write(settings, "2026/11/20/a.jsonl", json.dumps(EVENT) + "\n")
    write(settings, "named-like-a-file.jsonl/b.jsonl", json.dumps(dict(EVENT, messageId="m2")) + "\n")
    deep = settings.landing.joinpath(*[f"d{i}" for i in range(20)])
    deep.mkdir(parents=True)
    (deep / "c.jsonl").write_text(json.dumps(dict(EVENT, messageId="m3")) + "\n")
    report = ingest.ingest_landing(con, settings)
    assert sorted(f.file_name for f in report.files) == ["2026/11/20/a.jsonl", "named-like-a-file.jsonl/b.jsonl"]
    assert list(notices(report).values()) == ["too_deep"]


def test_the_run_report_carries_the_notices_for_the_summary(con, settings):
    write(settings, "export.csv", "a,b\n")
    with zipfile.ZipFile(settings.landing / "bundle.zip", "w") as z:
        z.writestr("events.jsonl", json.dumps(EVENT) + "\n")
    report = ingest.ingest_landing(con, settings).as_dict()
    assert report["totals"]["errors"] == 2
    assert {n["file_name"] for n in report["notices"]} == {"export.csv", "bundle.zip"}
    assert all(n["action"] for n in report["notices"])
    assert any("archive" in text or "zip" in text for text in report["errors"])


def test_the_problems_say_which_file_was_bad(con, settings):
    """For the summary and the page: each file needing a person, with what is wrong and what to do."""
    write(settings, "export.csv", "a,b\n")
    write(settings, "mixed.jsonl", json.dumps(EVENT) + "\nnot json\nnot json either\n" + json.dumps(dict(EVENT, type="x")) + "\n")
    ingest.ingest_landing(con, settings)
    problems = {p["file_name"]: p for p in ingest.landing_problems(con)}
    assert set(problems) == {"export.csv", "mixed.jsonl"}
    assert problems["export.csv"]["kind"] == "unsupported_name" and problems["export.csv"]["action"]
    mixed = problems["mixed.jsonl"]
    assert (mixed["kind"], mixed["quarantined"]) == ("quarantined_lines", 3)
    assert "3 of its 4 lines" in mixed["error"] and "not JSON" in mixed["error"]
