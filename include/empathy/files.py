"""Files other stages read while they may be written: replaced whole, never seen half-written.

Every hand-off file (scoring batches, claims, outcomes), preview, journal entry and generated landing file
goes through here: written to a temporary name beside the target, then renamed over it (atomic on one
filesystem). ``fsync`` makes the content durable before the rename, for what must survive a crash (the
delivery journal).

Plain ``os`` calls, not pathlib: a bulk run writes one preview per email (80,000 and more), and pathlib's
path objects and its ``mkdir(exist_ok=True)`` per file cost ~0.3 ms a file against ~0.09 ms.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def _temporary(target: str) -> str:
    head, name = os.path.split(target)
    return os.path.join(head, f".{name}.tmp")


def _discard(tmp: str) -> None:
    """Remove a temporary file whose write failed (it may never have been made)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


def _open_creating_folders(tmp: str) -> int:
    try:
        return os.open(tmp, _FLAGS, 0o666)
    except FileNotFoundError:  # the folder does not exist yet: only the first file of a folder pays
        os.makedirs(os.path.dirname(tmp) or ".", exist_ok=True)
        return os.open(tmp, _FLAGS, 0o666)


@contextlib.contextmanager
def replacing(path: Path | str, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (on error it is removed)."""
    target = os.fspath(path)
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    tmp = _temporary(target)
    try:
        yield Path(tmp)
        if fsync:
            fd = os.open(tmp, os.O_RDWR)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise


def write_atomic(path: Path | str, data: str | bytes, fsync: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; returns the path."""
    target = os.fspath(path)
    tmp = _temporary(target)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = _open_creating_folders(tmp)
    try:
        with open(fd, "wb", closefd=True) as fh:
            fh.write(payload)
            if fsync:
                fh.flush()
                os.fsync(fd)
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise
    return path if isinstance(path, Path) else Path(path)
