"""Writing landing files the way an export drops them, and the names and times they are keyed by."""
from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from empathy.files import write_atomic


def write_atomically(path: Path, data: bytes, compress: bool) -> Path:
    """Write to a dot-named temp file, then rename, so a sensor never sees half a file. Compressed files
    get `.gz` and no gzip mtime, so the same seed writes the same bytes."""
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, compresslevel=1, mtime=0)
    return write_atomic(path, data)


def default_start(start: datetime | str | None) -> datetime:
    """The demo's end instant in UTC: `start` as given (ISO text or datetime; naive = UTC), or now floored
    to the hour, so runs within one hour write the same files."""
    if start is None:
        now = datetime.now(UTC)
        return now.replace(minute=0, second=0, microsecond=0)
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return start.astimezone(UTC)


def stamp(start: datetime) -> str:
    """`start` as it appears in file names (minutes: one batch of files per start)."""
    return start.strftime("%Y%m%dT%H%M")
