"""One ingest run: look at the landing folder, load every new file in one bulk statement, reconcile.

1. Plan (nothing loaded yet): every entry of the landing folder is either already done (same name, size and
   mtime as a file ingested or reported), still being written (modified in the last ``landing_settle_s``),
   refused without being opened (a link, not a regular file, another format), a known name with new content
   (reported: landed files are immutable; touched but identical is fine), or new.
2. Load: the new files' lines stream into one INSERT (ingest/sql/load_events.sql) that validates inline
   and checks duplicates against ``events`` once. Files refused part-way (a gzip bomb) or changed while being
   read are taken back; a messageId repeated within the run keeps its first line (dedup_run.sql).
3. Reasons: only files where some line did not load are streamed again, and their rejected lines go to
   ``quarantine`` (quarantine_lines.sql); the rest of the lines not loaded are duplicates.
4. Record: ``ingested_files`` gets the reconciled counts, ``ingest_errors`` every new notice.

It all runs in one transaction: a crash commits nothing and the next run redoes it. Should DuckDB still fail
on the bulk statement, the run starts again file by file, and a file that fails alone is reported, not fatal.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa

from empathy import store
from empathy.config import Settings
from empathy.ingest import landing
from empathy.ingest.content import FileScan, file_sha256
from empathy.ingest.reader import LandingStream
from empathy.ingest.report import RETRIED_KINDS, FileReport, IngestReport, Notice

log = logging.getLogger(__name__)


@dataclass
class _Plan:
    todo: list[landing.Entry] = field(default_factory=list)
    touched: list[tuple[str, int]] = field(default_factory=list)   # (name, new mtime_ns): same content
    notices: list[Notice] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    skipped: int = 0


def ingest_landing(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str | None = None) -> IngestReport:
    """Ingest every new file in the landing folder (inside the one DuckDB writer); files already ingested
    or reported are not read again. No line, file or folder can make it fail."""
    from empathy.ingest.manifest import write_manifest

    settings.landing.mkdir(parents=True, exist_ok=True)
    plan = _plan(con, settings)
    with _limits(con, settings):
        try:
            report = _run(con, settings, plan, run_id, isolate=False)
        except duckdb.Error as exc:
            log.warning("the run's bulk load failed (%s): loading file by file", exc)
            report = _run(con, settings, plan, run_id, isolate=True)
    write_manifest(con, settings)
    for notice in report.notices:
        log.warning("%s", notice.text)
    return report


def _plan(con, settings: Settings) -> _Plan:
    plan = _Plan()
    known = {name: (sha, size, mtime) for name, sha, size, mtime in store.run(con, "ingest/known_files.sql").fetchall()}
    noticed = {(name, size, mtime): kind for name, size, mtime, kind in store.run(con, "ingest/known_notices.sql").fetchall()}
    now = time.time()
    for entry in landing.scan(settings.landing):
        version = (entry.name, entry.size_bytes, entry.mtime_ns)
        if version in noticed and noticed[version] not in RETRIED_KINDS:
            plan.skipped += 1
            continue
        if entry.refusal:
            plan.notices.append(entry.notice(*entry.refusal))
            continue
        if known.get(entry.name, (None, None, None))[1:] == (entry.size_bytes, entry.mtime_ns):
            plan.skipped += 1
            continue
        if now - entry.mtime_ns / 1e9 < settings.landing_settle_s:
            plan.deferred.append(entry.name)
            log.info("%s is still being written: left for the next run", entry.name)
            continue
        if entry.name not in known:
            plan.todo.append(entry)
            continue
        sha = file_sha256(settings.landing, entry) if entry.size_bytes == known[entry.name][1] else ""
        if sha is None:
            plan.deferred.append(entry.name)
        elif sha == known[entry.name][0]:  # touched, not changed
            plan.touched.append((entry.name, entry.mtime_ns))
            plan.skipped += 1
        else:
            plan.notices.append(entry.notice(
                "changed", f"changed after it was ingested (it was {known[entry.name][1]:,} bytes, sha256 "
                f"{known[entry.name][0][:12]}; now {entry.size_bytes:,} bytes{', sha256 ' + sha[:12] if sha else ''}), "
                "and landed files are immutable", "Land the new content under a new name", sha or None))
    return plan


@contextlib.contextmanager
def _limits(con, settings: Settings):
    """DuckDB's memory limit and threads from the settings (and no insertion order to keep) while ingesting."""
    (memory, threads, order), = store.run(con, "ingest/current_limits.sql").fetchall()
    store.run(con, "ingest/limits.sql", {"memory_limit": settings.ingest_memory_limit.strip() or memory,
                                         "threads": settings.ingest_threads or int(threads),
                                         "preserve_insertion_order": False}).fetchall()
    try:
        yield
    finally:
        store.run(con, "ingest/limits.sql", {"memory_limit": memory, "threads": int(threads),
                                             "preserve_insertion_order": bool(order)}).fetchall()


def _run(con, settings: Settings, plan: _Plan, run_id: str | None, isolate: bool) -> IngestReport:
    report = IngestReport(skipped_unchanged=plan.skipped, deferred=list(plan.deferred))
    notices = list(plan.notices)
    with store.transaction(con):
        for name, mtime_ns in plan.touched:
            store.run(con, "ingest/touch_file.sql", {"file_name": name, "mtime_ns": mtime_ns}).fetchall()
        if not isolate:
            _load(con, settings, plan.todo, run_id, report, notices)
    for entry in plan.todo if isolate else []:
        part, found = IngestReport(), []
        try:
            with store.transaction(con):
                _load(con, settings, [entry], run_id, part, found)
        except duckdb.Error as exc:
            error = str(exc).splitlines()[0][:300]
            log.error("%s could not be loaded: %s", entry.name, error)
            part, found = IngestReport(), [entry.notice(
                "load_failed", f"could not be loaded ({error})",
                "Tell the Empathy maintainers; it is tried again every run")]
        report.files += part.files
        report.deferred += part.deferred
        notices += found
    new = _new_notices(con, notices)
    with store.transaction(con):
        _record_notices(con, new, run_id)
    report.notices = new
    return report


def _new_notices(con, notices: list[Notice]) -> list[Notice]:
    """The notices not yet recorded for that file version (each is told once)."""
    seen = {(n, s, m) for n, s, m, _ in store.run(con, "ingest/known_notices.sql").fetchall()}
    out, here = [], set()
    for notice in notices:
        version = (notice.file_name, notice.size_bytes, notice.mtime_ns)
        if version not in seen and version not in here:
            here.add(version)
            out.append(notice)
    return out


def _record_notices(con, notices: list[Notice], run_id: str | None) -> None:
    if not notices:
        return
    now = datetime.now(timezone.utc)
    rows = pa.Table.from_pylist([
        {"file_name": n.file_name, "size_bytes": n.size_bytes, "mtime_ns": n.mtime_ns, "kind": n.kind,
         "error": n.error, "action": n.action, "sha256": n.sha256, "seen_at": now, "run_id": run_id}
        for n in notices])
    store.run(con, "ingest/record_notices.sql", relations={"notice_rows": rows}).fetchall()


def _load(con, settings: Settings, entries: list[landing.Entry], run_id: str | None,
          report: IngestReport, notices: list[Notice]) -> None:
    """Steps 2-4 for these files, inside the caller's transaction."""
    if not entries:
        return
    now = datetime.now(timezone.utc)
    params = {"ingested_at": now, "ts_min": settings.ingest_ts_min,
              "ts_max": now + timedelta(hours=settings.ingest_ts_max_future_h),
              "raw_limit": settings.quarantine_raw_bytes}
    store.run(con, "ingest/validate.sql").fetchall()
    stream = LandingStream(settings.landing, entries, settings)
    store.run(con, "ingest/load_events.sql", params,
              relations={"landed_lines": stream.reader()}).fetchall()
    good: list[tuple[landing.Entry, FileScan]] = []
    for entry, scan in zip(entries, stream.scans):
        if _settled(con, entry, scan, now, report, notices):
            good.append((entry, scan))
    loaded = dict(store.run(con, "ingest/dedup_run.sql", {"ingested_at": now}).fetchall())

    recheck = [(entry, scan) for entry, scan in good if loaded.get(entry.name, 0) < scan.lines]
    rechecked = {entry.name for entry, _ in recheck}
    quarantined: dict[str, int] = {}
    if recheck:
        again = LandingStream(settings.landing, [entry for entry, _ in recheck], settings)
        store.run(con, "ingest/quarantine_lines.sql", {**params, "run_id": run_id}, relations={
            "landed_lines": again.reader()}).fetchall()
        quarantined = dict(store.run(con, "ingest/quarantined_counts.sql", {"ingested_at": now}).fetchall())
        for (entry, first), second in zip(recheck, again.scans):
            if (second.sha256, second.lines) != (first.sha256, first.lines):  # changed between the two reads
                _revoke(con, entry, now)
                report.deferred.append(entry.name)
                good.remove((entry, first))

    rows = []
    for entry, scan in good:
        f = FileReport(entry.name, lines=scan.lines, loaded=loaded.get(entry.name, 0),
                       quarantined=quarantined.get(entry.name, 0), rechecked=entry.name in rechecked,
                       content_bytes=scan.content_bytes)
        f.duplicates = f.lines - f.loaded - f.quarantined
        if f.duplicates < 0:
            log.error("%s does not reconcile: %s", entry.name, f)
        report.files.append(f)
        log.info("%s: %d lines, %d loaded, %d duplicates, %d quarantined", f.file_name, f.lines, f.loaded,
                 f.duplicates, f.quarantined)
        rows.append({"file_name": entry.name, "sha256": scan.sha256, "size_bytes": entry.size_bytes,
                     "lines": f.lines, "loaded": f.loaded, "duplicates": f.duplicates, "quarantined": f.quarantined,
                     "ingested_at": now, "run_id": run_id, "mtime_ns": entry.mtime_ns,
                     "content_bytes": scan.content_bytes})
    if rows:
        store.run(con, "ingest/record_files.sql", relations={"file_rows": pa.Table.from_pylist(rows)}).fetchall()


def _settled(con, entry: landing.Entry, scan: FileScan, now: datetime, report: IngestReport,
             notices: list[Notice]) -> bool:
    """Whether the file read to the end and is to be recorded; otherwise what it loaded is taken back and
    it is deferred (changed while read), reported (refused, empty) or forgotten (vanished)."""
    if scan.refusal is None and not scan.changed and not scan.vanished and scan.lines > 0:
        return True
    if scan.lines:  # refused part-way: take back what it loaded
        _revoke(con, entry, now)
    if scan.changed:
        report.deferred.append(entry.name)
        log.info("%s changed while it was read: left for the next run", entry.name)
    elif scan.refusal:
        notices.append(entry.notice(*scan.refusal, sha256=scan.sha256))
    elif not scan.vanished:
        notices.append(entry.notice(
            "empty", "is empty (no lines, or only blank ones): there is nothing to load",
            "If it is still being written, it is read once it has content; otherwise remove it"))
    return False


def _revoke(con, entry: landing.Entry, now: datetime) -> None:
    store.run(con, "ingest/revoke_file.sql", {"source_file": entry.name, "ingested_at": now}).fetchall()
