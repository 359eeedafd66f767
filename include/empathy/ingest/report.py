"""What one ingest run did, for the run summary, the DAG's log and the page: per file, and what it refused;
and what the landing folder needs a person for, across runs."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from empathy import store

# Notices about a cause that may go away by itself (permissions, a load error): the file is tried again
# every run (the notice is still recorded once per file version).
RETRIED_KINDS = frozenset({"unreadable", "unreadable_folder", "load_failed"})


@dataclass(frozen=True)
class Notice:
    """A landed file (or folder) Empathy did not read, or read only in part: what is wrong and what to do.

    Recorded once per file version (name, size, mtime) in ``ingest_errors``."""
    file_name: str
    kind: str           # short code: symlink, not_a_file, unsupported_name, json_array, gzip_bomb, ...
    error: str          # what is wrong, in words a marketer understands
    action: str         # what to do about it
    size_bytes: int = 0
    mtime_ns: int = 0
    sha256: str | None = None

    @property
    def text(self) -> str:
        return f"{self.file_name}: {self.error}. {self.action}"


@dataclass
class FileReport:
    file_name: str
    lines: int = 0            # non-blank lines: each is loaded, a duplicate or quarantined
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    rechecked: bool = False   # something was not loaded, so the file was read again for the reasons
    content_bytes: int = 0    # after decompression


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)
    skipped_unchanged: int = 0
    deferred: list[str] = field(default_factory=list)     # still being written: read next run
    notices: list[Notice] = field(default_factory=list)   # new this run (each is reported once)

    @property
    def errors(self) -> list[str]:
        """Each new notice in words: the file, what is wrong, what to do."""
        return [n.text for n in self.notices]

    def totals(self) -> dict:
        return {
            "files": len(self.files),
            "lines": sum(f.lines for f in self.files),
            "loaded": sum(f.loaded for f in self.files),
            "duplicates": sum(f.duplicates for f in self.files),
            "quarantined": sum(f.quarantined for f in self.files),
            "skipped_unchanged": self.skipped_unchanged,
            "deferred": len(self.deferred),
            "errors": len(self.notices),
        }

    def as_dict(self) -> dict:
        return {"totals": self.totals(), "files": [asdict(f) for f in self.files], "deferred": self.deferred,
                "errors": self.errors, "notices": [asdict(n) for n in self.notices]}


def landing_problems(con, limit: int = 50) -> list[dict]:
    """The landing folder's problems, newest first: files not read (or read in part) with what is wrong and
    what to do (``kind``, ``error``, ``action``), and files with quarantined lines. For the summary and the page."""
    return store.records(store.run(con, "ingest/problems.sql", {"limit": limit}))
