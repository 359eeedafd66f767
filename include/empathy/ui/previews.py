"""The outbox's previews as the page serves them: only plain files inside the outbox, read with a bound,
customer text redacted (an email preview names its recipient; a ticket may carry a card number)."""
from __future__ import annotations

from pathlib import Path

MAX_PREVIEW_BYTES = 2_000_000    # previews are a few KB; anything bigger is shown cut
MAX_TAIL_BYTES = 1_000_000       # holds.jsonl grows with every hold: its latest lines


def safe_file(outbox: Path, rel: str | None) -> Path | None:
    """The file ``rel`` inside ``outbox``, or None: no NUL, ``..``, absolute paths, backslashes, hidden
    parts (the read model lives in ``.ui``), symlinks leading out, or anything but a regular file."""
    if not rel or "\x00" in rel or "\\" in rel or rel.startswith("/") or len(rel) > 1000:
        return None
    parts = Path(rel).parts
    if not parts or any(p.startswith(".") for p in parts):
        return None
    try:
        root = outbox.resolve()
        target = (root / rel).resolve()
        if root not in target.parents or not target.is_file():
            return None
    except (OSError, ValueError, RuntimeError):   # a loop of symlinks, an unreadable folder
        return None
    return target


def read_bounded(path: Path, limit: int = MAX_PREVIEW_BYTES) -> str:
    with path.open("rb") as fh:
        return fh.read(limit).decode("utf-8", errors="replace")


def read_tail(path: Path, limit: int = MAX_TAIL_BYTES) -> str:
    """The file's last ``limit`` bytes, from the first whole line."""
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - limit))
        data = fh.read(limit)
    if size > limit:
        data = data.split(b"\n", 1)[-1]
    return data.decode("utf-8", errors="replace")
