"""Ingest landed Segment-spec JSON Lines into ``events``: validate, quarantine, dedup, reconcile.

A file that looks clean goes through DuckDB's own parallel JSON reader (sql/ingest/read_fast.sql);
any doubt sends it down the exact path, where Arrow splits the lines, Python flags only what DuckDB
cannot see (invalid UTF-8), and one vectorised pass gives every line its event or its reason
(sql/ingest/validate_lines.sql). Both end in the same load (sql/ingest/load_file.sql). Every non-blank line of a file ends up in exactly one of loaded, duplicates,
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
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
    path: str = ""            # "fast" (DuckDB's reader) or "exact" (line by line, with reasons)
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


def _looks_clean(content: bytes) -> int | None:
    """The line count when the fast path may try this content (no line over 32 KB, valid UTF-8), else
    None. Blank or whitespace-only lines need no check here: DuckDB's reader skips them, its row count
    then differs from this one, and the exact path takes over."""
    if not content:
        return None
    ends = np.flatnonzero(np.frombuffer(content, dtype=np.uint8) == 10)
    last = [] if content.endswith(b"\n") else [len(content)]
    lengths = np.diff(np.concatenate(([-1], ends, last)))
    if lengths.max() - 1 > 32768:
        return None
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return int(lengths.size)


@dataclass
class _Landed:
    """One landed file read into memory, hashed, decompressed and pre-checked (done a file ahead, in a thread)."""
    path: Path
    name: str
    data: bytes
    stat: os.stat_result
    sha: str
    content: bytes | None = None
    gzip_error: str | None = None
    clean_lines: int | None = None


def _read(path: Path, name: str) -> _Landed | None:
    settled = _read_settled(path)
    if settled is None:
        return None
    data, stat = settled
    landed = _Landed(path, name, data, stat, hashlib.sha256(data).hexdigest())
    try:
        landed.content = _decompress(path, data)
        landed.clean_lines = _looks_clean(landed.content)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        landed.gzip_error = f"not a readable gzip file ({exc})"
    return landed


def _validate(con, landed: _Landed, fast: bool) -> str:
    """Fill the temp view `validated` for one file; return which path did it ("fast" or "exact")."""
    if fast and landed.clean_lines is not None:
        store.run_script(con, "ingest/read_fast.sql", {"path": str(landed.path)})
        lines, rejected = con.execute("SELECT count(*), count(reason) FROM validated").fetchall()[0]
        if lines == landed.clean_lines and rejected == 0:
            return "fast"
    if landed.content is None:
        raw_lines = pa.table({"line_no": pa.array([0], pa.int64()), "raw": pa.array([""], pa.large_string()),
                              "pre_reason": pa.array([landed.gzip_error], pa.string())})
    else:
        raw_lines = _lines_table(landed.content)
    con.register("raw_lines", raw_lines)
    try:
        store.run_script(con, "ingest/validate_lines.sql")
    finally:
        con.unregister("raw_lines")
    return "exact"


def ingest_file(con, landed: _Landed, run_id: str | None, fast: bool = True) -> FileReport:
    """Validate one file and load it: events, quarantine rows and its ingested_files row. Runs inside the
    caller's transaction (one per ingest run: a crash commits nothing, and the rerun redoes it all)."""
    report = FileReport(landed.name)
    now = datetime.now(timezone.utc)
    report.path = _validate(con, landed, fast)
    report.lines, report.quarantined = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE reason IS NOT NULL) FROM validated").fetchall()[0]
    name, sha, stat = landed.name, landed.sha, landed.stat
    before = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    store.run_script(con, "ingest/load_file.sql", {"source_file": name, "ingested_at": now})
    report.loaded = con.execute("SELECT count(*) FROM events").fetchall()[0][0] - before
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
    try:
        return _ingest_landing(con, settings, run_id, fast=True)
    except duckdb.Error as exc:  # DuckDB's reader failed outright on some file: the run rolled back whole
        log.warning("fast path failed (%s): ingesting this run line by line", exc)
        return _ingest_landing(con, settings, run_id, fast=False)


def _ingest_landing(con, settings: Settings, run_id: str | None, fast: bool) -> IngestReport:
    report = IngestReport()
    landing = settings.landing
    landing.mkdir(parents=True, exist_ok=True)
    known = {row[0]: row[1:] for row in con.execute(
        "SELECT file_name, sha256, size_bytes, mtime_ns FROM ingested_files").fetchall()}
    todo = []
    for path in landed_files(landing):
        name = path.relative_to(landing).as_posix()
        stat = path.stat()
        if name in known:
            sha, size, mtime_ns = known[name]
            if size == stat.st_size and mtime_ns == stat.st_mtime_ns:
                report.skipped_unchanged += 1
                continue
        if time.time() - stat.st_mtime < settings.landing_settle_s:
            report.deferred.append(name)
            log.info("%s is still being written: left for the next run", name)
            continue
        todo.append((path, name))
    # Reading, hashing and checking the next file (Python) overlaps DuckDB loading this one (no GIL).
    # One transaction for the run: a commit per file would write and checkpoint the database each time.
    with ThreadPoolExecutor(max_workers=1) as reader, store.transaction(con):
        ahead = [reader.submit(_read, path, name) for path, name in todo[:1]]
        for i, (_, name) in enumerate(todo):
            if i + 1 < len(todo):
                ahead.append(reader.submit(_read, *todo[i + 1]))
            landed = ahead[i].result()
            ahead[i] = None  # free the bytes
            if landed is None:
                report.deferred.append(name)
                log.info("%s is still being written: left for the next run", name)
                continue
            if name in known:
                if landed.sha == known[name][0]:  # touched, not changed
                    con.execute("UPDATE ingested_files SET mtime_ns = ? WHERE file_name = ?",
                                [landed.stat.st_mtime_ns, name])
                    report.skipped_unchanged += 1
                    continue
                error = (f"{name} changed after it was ingested (sha256 {known[name][0][:12]} -> "
                         f"{landed.sha[:12]}); landed files are immutable: land the new content under a new name")
                con.execute("INSERT INTO ingest_errors VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            [name, landed.sha, error, datetime.now(timezone.utc)])
                log.error(error)
                report.errors.append(error)
                continue
            file_report = ingest_file(con, landed, run_id, fast)
            log.info("%s: %d lines, %d loaded, %d duplicates, %d quarantined (%s path)", name, file_report.lines,
                     file_report.loaded, file_report.duplicates, file_report.quarantined, file_report.path)
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
