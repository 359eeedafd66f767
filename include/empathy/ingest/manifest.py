"""The landing manifest: lets the landing sensor see new files without opening DuckDB.

The one writer (the ingest) writes, after every run, each file version it has dealt with (ingested, or
reported in ``ingest_errors``); the sensor lists the landing folder (names, sizes and mtimes only,
nothing is opened or followed) and reports what is settled and not in the manifest.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from empathy import store
from empathy.config import Settings
from empathy.ingest import landing


def manifest_path(settings: Settings) -> Path:
    return settings.home / "ingested-files.json"


def write_manifest(con, settings: Settings) -> None:
    """Record name, size and mtime of every file version ingested or reported (atomically: temp + rename)."""
    files: dict[str, list[list[int]]] = {}
    for name, size, mtime in store.run(con, "ingest/manifest.sql").fetchall():
        files.setdefault(name, []).append([size, mtime])
    path = manifest_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"files": files}), encoding="utf-8")
    tmp.replace(path)


def _known(settings: Settings) -> dict[str, list[list[int]]]:
    try:
        doc = json.loads(manifest_path(settings).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    files = doc.get("files") if isinstance(doc, dict) else None
    return files if isinstance(files, dict) else {}  # another layout (an older version's): start afresh


def pending_files(settings: Settings) -> list[str]:
    """Settled entries of the landing folder that no run has dealt with yet (by name, size and mtime), from
    the manifest: no database needed. Entries still being written are not reported until they settle."""
    if not settings.landing.is_dir():
        return []
    known = _known(settings)
    now = time.time()
    return [entry.name for entry in landing.scan(settings.landing)
            if now - entry.mtime_ns / 1e9 >= settings.landing_settle_s
            and [entry.size_bytes, entry.mtime_ns] not in known.get(entry.name, [])]


def landed_files(landing_dir: Path) -> list[Path]:
    """The files a run would read (regular JSON Lines files, not hidden, not temp names), in name order."""
    return [landing_dir.joinpath(*entry.parts) for entry in landing.scan(landing_dir) if entry.readable]
