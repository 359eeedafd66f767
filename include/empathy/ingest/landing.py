"""The landing folder, looked at without trusting it: what is there, what may be read, and opening it safely.

Whoever can write to the landing folder must not be able to make Empathy read anything else: nothing
inside it is followed (a symbolic link, to a file or a folder, is refused and never opened; the landing
folder itself may be a link, as deployments mount it), only regular files are opened, and each is
opened relative to its folder's descriptor with ``O_NOFOLLOW`` and checked again after opening, so a
file swapped for a link between the look and the read is not read either. Names need not be UTF-8:
bytes that are not are shown as ``\\xNN``, and the file is still read.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from empathy.ingest.report import Notice

# JSON Lines, optionally gzip-compressed. Matched case-insensitively.
EXTENSIONS = (".jsonl", ".ndjson", ".json")
GZIP_SUFFIX = ".gz"
# Names of files still being written by common tools: left alone without a word (they become real files).
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".swp", ".filepart", "~", "._copying_")
MAX_DEPTH = 16

_OTHER_FORMATS = {
    ".csv": "a CSV file", ".tsv": "a TSV file", ".txt": "a text file", ".parquet": "a Parquet file",
    ".xlsx": "a spreadsheet", ".xls": "a spreadsheet", ".avro": "an Avro file", ".xml": "an XML file",
    ".zip": "a zip archive", ".tar": "a tar archive", ".tgz": "a tar archive", ".7z": "an archive",
    ".bz2": "a bzip2 file", ".zst": "a zstd file", ".xz": "an xz file",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Entry:
    """Something found in the landing folder (a file, a link, a folder that could not be opened)."""
    name: str                  # shown and stored: relative path with '/', non-UTF-8 bytes as \xNN
    parts: tuple[str, ...]     # the OS names from the landing folder down, to open it again
    size_bytes: int
    mtime_ns: int
    gzip: bool = False
    refusal: tuple[str, str, str] | None = None    # (kind, error, action) when it is not to be read

    @property
    def readable(self) -> bool:
        return self.refusal is None

    def notice(self, kind: str, error: str, action: str, sha256: str | None = None) -> Notice:
        return Notice(self.name, kind, error, action, self.size_bytes, self.mtime_ns, sha256)


def display_name(part: str) -> str:
    """A file name as text: bytes that are not UTF-8 (and control characters) written as \\xNN."""
    raw = os.fsencode(part)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _name_kind(name: str) -> tuple[str, bool] | tuple[None, None]:
    """("jsonl" | "temp" | "other", is_gzip) for a file name."""
    lower = name.lower()
    if lower.endswith(TEMP_SUFFIXES):
        return "temp", False
    gz = lower.endswith(GZIP_SUFFIX)
    stem = lower[: -len(GZIP_SUFFIX)] if gz else lower
    return ("jsonl" if stem.endswith(EXTENSIONS) else "other"), gz


def _unsupported(name: str) -> tuple[str, str, str]:
    lower = name.lower().removesuffix(GZIP_SUFFIX)
    what = next((label for ext, label in _OTHER_FORMATS.items() if lower.endswith(ext)), None)
    error = (f"is not read: it looks like {what}, and Empathy reads only JSON Lines" if what
             else "is not read: Empathy reads only JSON Lines files named *.jsonl, *.ndjson or *.json")
    return ("unsupported_name", error,
            "Export the events as JSON Lines (one Segment event as a JSON object per line), name the file "
            "*.jsonl (or *.jsonl.gz when gzip-compressed) and land it again")


_SYMLINK = ("symlink", "is a symbolic link, and Empathy never follows links in the landing folder",
            "Copy or move the file itself into the landing folder")
_NOT_A_FILE = ("not_a_file", "is not a regular file (a pipe, socket or device), so it is not read",
               "Land regular files only")


def scan(landing: Path) -> list[Entry]:
    """Everything in the landing folder that is not hidden (names starting with '.') or a temp name, in
    name order. Nothing is read or followed; folders are walked through their descriptors."""
    out: list[Entry] = []
    fd = os.open(landing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _walk(fd, (), out, 0)
    finally:
        os.close(fd)
    entries, seen = [], set()
    for entry in sorted(out, key=lambda e: e.name):
        if entry.name in seen:  # two names that read the same once non-UTF-8 bytes are written as \xNN
            entry = dataclasses.replace(entry, refusal=(
                "name_collision", "has the same name as another landed file once its bytes that are not UTF-8 "
                "are written as \\xNN, so it is not read", "Rename it (UTF-8 names are best)"))
        seen.add(entry.name)
        entries.append(entry)
    return entries


def _walk(dir_fd: int, prefix: tuple[str, ...], out: list[Entry], depth: int) -> None:
    with os.scandir(dir_fd) as it:
        children = sorted(it, key=lambda e: e.name)
    for child in children:
        if child.name.startswith("."):
            continue
        parts = prefix + (child.name,)
        name = "/".join(display_name(p) for p in parts)
        try:
            st = child.stat(follow_symlinks=False)
        except FileNotFoundError:  # gone since the listing
            continue
        entry = dict(name=name, parts=parts, size_bytes=st.st_size, mtime_ns=st.st_mtime_ns)
        if stat.S_ISLNK(st.st_mode):
            out.append(Entry(**entry, refusal=_SYMLINK))
        elif stat.S_ISDIR(st.st_mode):
            if depth + 1 >= MAX_DEPTH:
                out.append(Entry(**entry, refusal=(
                    "too_deep", f"is a folder nested deeper than {MAX_DEPTH} levels, so it is not read",
                    "Land files at most a few folders deep")))
                continue
            try:
                sub = os.open(child.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=dir_fd)
            except OSError as exc:
                out.append(Entry(**entry, refusal=(
                    "unreadable_folder", f"is a folder that could not be opened ({exc.strerror})",
                    "Make it readable by the user Airflow runs as; it is tried again every run")))
                continue
            try:
                _walk(sub, parts, out, depth + 1)
            except OSError as exc:
                out.append(Entry(**entry, refusal=(
                    "unreadable_folder", f"is a folder that could not be listed ({exc.strerror})",
                    "Make it readable by the user Airflow runs as; it is tried again every run")))
            finally:
                os.close(sub)
        elif stat.S_ISREG(st.st_mode):
            kind, gz = _name_kind(child.name)
            if kind == "temp":
                continue
            out.append(Entry(**entry, gzip=bool(gz), refusal=None if kind == "jsonl" else _unsupported(child.name)))
        else:
            out.append(Entry(**entry, refusal=_NOT_A_FILE))


class NotRegular(OSError):
    """What was opened is not the regular file that was listed (a link, a pipe, another file)."""


@contextlib.contextmanager
def open_entry(landing: Path, entry: Entry):
    """The entry's file, opened for reading without following any link below the landing folder, and
    its ``os.stat_result`` taken from the open descriptor. Raises NotRegular when it is not a regular
    file (or was swapped for a link: ``O_NOFOLLOW`` fails)."""
    fd = os.open(landing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in entry.parts[:-1]:
            try:
                sub = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise NotRegular(f"folder {part!r} changed: {exc.strerror}") from None
            os.close(fd)
            fd = sub
        try:
            file_fd = os.open(entry.parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (getattr(os, "ELOOP", 40), getattr(os, "ENXIO", 6)):
                raise NotRegular("swapped for a link or a special file") from None
            raise
    finally:
        os.close(fd)
    with os.fdopen(file_fd, "rb", buffering=0) as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular("not a regular file")
        yield f, st
