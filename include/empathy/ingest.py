"""Ingest landed Segment-spec JSON Lines into ``events``: validate, quarantine, dedup, reconcile.

Python only splits bytes into lines and flags what DuckDB cannot see (invalid UTF-8, lines over
Segment's 32 KB limit); parsing, validation and dedup are one vectorised DuckDB pass per file
(sql/ingest/*.sql). Every non-blank line of a file ends up in exactly one of loaded, duplicates,
quarantined, and ``ingested_files`` records the three counts.

A landed file is immutable: a file already ingested is skipped by name, size and mtime without
being read; one whose content changed under the same name is recorded in ``ingest_errors`` and
not re-read. Files still being written (size changing while read), hidden files and temporary
names (``.tmp``, ``.part``) are left for the next run, as are files modified in the last
``landing_settle_s`` seconds: writers should write, then rename.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from empathy import store
from empathy.config import Settings

log = logging.getLogger(__name__)

PATTERNS = ("*.jsonl", "*.json", "*.jsonl.gz")
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


@dataclass
class FileReport:
    file_name: str
    lines: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    error: str | None = None


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)
    skipped_unchanged: int = 0
    deferred: list[str] = field(default_factory=list)   # still being written: next run
    errors: list[str] = field(default_factory=list)     # changed under the same name

    def totals(self) -> dict:
        done = [f for f in self.files if f.error is None]
        return {
            "files": len(done),
            "lines": sum(f.lines for f in done),
            "loaded": sum(f.loaded for f in done),
            "duplicates": sum(f.duplicates for f in done),
            "quarantined": sum(f.quarantined for f in done),
            "skipped_unchanged": self.skipped_unchanged,
            "deferred": len(self.deferred),
            "errors": len(self.errors),
        }

    def as_dict(self) -> dict:
        return {"totals": self.totals(), "files": [asdict(f) for f in self.files],
                "deferred": self.deferred, "errors": self.errors}


def landed_files(landing: Path) -> list[Path]:
    """Landed files in name order (which is arrival order for timestamped names), temp files excluded."""
    found = set()
    for pattern in PATTERNS:
        found.update(landing.rglob(pattern))
    return sorted(
        p for p in found
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(landing).parts)
        and not p.name.endswith(TEMP_SUFFIXES)
    )


def _lines_table(content: bytes) -> pa.Table:
    """The file as an Arrow table (line_no, raw, pre_reason); blank lines are dropped later, in SQL.

    Valid UTF-8 (the usual case) is split by Arrow without a Python loop; otherwise each line is
    decoded on its own so that only the bad lines are flagged.
    """
    lines = pc.split_pattern(pa.array([content], pa.large_binary()), b"\n").flatten()
    try:
        raw = lines.cast(pa.large_string())  # validates UTF-8 in C++
    except pa.ArrowInvalid:
        raw = None
    if raw is not None:
        n = len(raw)
        return pa.table({"line_no": pa.array(np.arange(1, n + 1, dtype=np.int64)), "raw": raw,
                         "pre_reason": pa.nulls(n, pa.string())})
    numbers, texts, reasons = [], [], []
    for no, line in enumerate(content.split(b"\n"), start=1):
        if not line.strip():
            continue
        numbers.append(no)
        try:
            texts.append(line.decode("utf-8"))
            reasons.append(None)
        except UnicodeDecodeError as exc:
            texts.append(line.decode("utf-8", "replace"))
            reasons.append(f"not UTF-8 (byte {exc.start})")
    return pa.table({"line_no": pa.array(numbers, pa.int64()), "raw": pa.array(texts, pa.large_string()),
                     "pre_reason": pa.array(reasons, pa.string())})


def _read_settled(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The file's bytes, or None when it changed while being read (still being written)."""
    before = path.stat()
    data = path.read_bytes()
    after = path.stat()
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
        return None
    return data, after


def _decompress(path: Path, data: bytes) -> bytes:
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def ingest_file(con, path: Path, name: str, data: bytes, stat: os.stat_result, run_id: str | None) -> FileReport:
    """Load one file in one transaction: events, quarantine and its ingested_files row commit together."""
    report = FileReport(name)
    sha = hashlib.sha256(data).hexdigest()
    now = datetime.now(timezone.utc)
    try:
        raw_lines = _lines_table(_decompress(path, data))
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raw_lines = pa.table({"line_no": pa.array([0], pa.int64()), "raw": pa.array([""], pa.large_string()),
                              "pre_reason": pa.array([f"not a readable gzip file ({exc})"], pa.string())})
    with store.transaction(con):
        con.register("raw_lines", raw_lines)
        try:
            store.run_script(con, "ingest/validate_lines.sql")
            before = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
            store.run_script(con, "ingest/load_file.sql", {"source_file": name, "ingested_at": now})
            after = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
            report.lines, report.quarantined = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE reason IS NOT NULL) FROM validated").fetchall()[0]
        finally:
            con.unregister("raw_lines")
        report.loaded = after - before
        report.duplicates = report.lines - report.loaded - report.quarantined
        con.execute(
            "INSERT INTO ingested_files VALUES ($name, $sha, $size, $lines, $loaded, $dups, $quar, $now, $run, $mtime)",
            {"name": name, "sha": sha, "size": stat.st_size, "lines": report.lines, "loaded": report.loaded,
             "dups": report.duplicates, "quar": report.quarantined, "now": now, "run": run_id,
             "mtime": stat.st_mtime_ns},
        )
    return report


def ingest_landing(con, settings: Settings, run_id: str | None = None) -> IngestReport:
    """Ingest every new file in the landing folder; already-ingested files are not read again."""
    report = IngestReport()
    landing = settings.landing
    landing.mkdir(parents=True, exist_ok=True)
    known = {row[0]: row[1:] for row in con.execute(
        "SELECT file_name, sha256, size_bytes, mtime_ns FROM ingested_files").fetchall()}
    for path in landed_files(landing):
        name = path.relative_to(landing).as_posix()
        stat = path.stat()
        if name in known:
            sha, size, mtime_ns = known[name]
            if size == stat.st_size and mtime_ns == stat.st_mtime_ns:
                report.skipped_unchanged += 1
                continue
        settled = None if time.time() - stat.st_mtime < settings.landing_settle_s else _read_settled(path)
        if settled is None:
            report.deferred.append(name)
            log.info("%s is still being written: left for the next run", name)
            continue
        data, stat = settled
        if name in known:
            sha = hashlib.sha256(data).hexdigest()
            if sha == known[name][0]:  # touched, not changed
                con.execute("UPDATE ingested_files SET mtime_ns = ? WHERE file_name = ?", [stat.st_mtime_ns, name])
                report.skipped_unchanged += 1
                continue
            error = (f"{name} changed after it was ingested (sha256 {known[name][0][:12]} -> {sha[:12]}); "
                     "landed files are immutable: land the new content under a new name")
            con.execute("INSERT INTO ingest_errors VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [name, sha, error, datetime.now(timezone.utc)])
            log.error(error)
            report.errors.append(error)
            continue
        file_report = ingest_file(con, path, name, data, stat, run_id)
        log.info("%s: %d lines, %d loaded, %d duplicates, %d quarantined", name, file_report.lines,
                 file_report.loaded, file_report.duplicates, file_report.quarantined)
        report.files.append(file_report)
    write_manifest(con, settings)
    return report


# --- the landing manifest: lets the landing sensor see new files without opening DuckDB ------------

def manifest_path(settings: Settings) -> Path:
    return settings.home / "ingested-files.json"


def write_manifest(con, settings: Settings) -> None:
    """Record name, size and mtime of every ingested file (written by the one DuckDB writer)."""
    rows = con.execute("SELECT file_name, size_bytes, mtime_ns FROM ingested_files").fetchall()
    path = manifest_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({name: [size, mtime] for name, size, mtime in rows}), encoding="utf-8")
    tmp.replace(path)


def pending_files(settings: Settings) -> list[str]:
    """Settled landed files not yet ingested (by name, size and mtime), from the manifest: no database
    needed. Files still being written are not reported until they settle, so the run they trigger loads them."""
    try:
        known = json.loads(manifest_path(settings).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        known = {}
    pending = []
    if not settings.landing.is_dir():
        return pending
    for path in landed_files(settings.landing):
        name = path.relative_to(settings.landing).as_posix()
        stat = path.stat()
        settled = time.time() - stat.st_mtime >= settings.landing_settle_s
        if settled and known.get(name) != [stat.st_size, stat.st_mtime_ns]:
            pending.append(name)
    return pending
