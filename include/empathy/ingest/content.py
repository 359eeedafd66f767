"""A landed file's content as chunks of bytes, in bounded memory: plain, or gzip decompressed incrementally with
bounds on its expanded size and ratio (a damaged one is refused whole: deflate notices damage late, so
nothing of it is trusted); and a thread that reads a few chunks ahead of their consumer."""
from __future__ import annotations

import hashlib
import os
import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from empathy.config import Settings
from empathy.ingest.landing import Entry, NotRegular, open_entry

GZIP_READ = 1 << 20         # compressed bytes read at a time
RATIO_FLOOR = 1 << 20       # the expansion ratio is judged once this much has come out


class Refused(Exception):
    """The file is not read as a whole: args are (kind, error, action)."""


@dataclass
class FileScan:
    """What reading one file found."""
    lines: int = 0                  # non-blank lines handed on
    file_bytes: int = 0             # bytes of the file read (compressed, for .gz)
    content_bytes: int = 0          # bytes after decompression
    sha256: str | None = None       # of the whole file, when it was read to the end
    refusal: tuple[str, str, str] | None = None
    changed: bool = False           # moved while being read (still being written, or swapped)
    vanished: bool = False


def plain_chunks(f, settings: Settings, hasher, scan: FileScan) -> Iterator[bytes]:
    while chunk := f.read(settings.ingest_chunk_bytes):
        hasher.update(chunk)
        scan.file_bytes += len(chunk)
        scan.content_bytes += len(chunk)
        if scan.content_bytes > settings.ingest_max_file_bytes:
            raise Refused(*too_large(settings))
        yield chunk


def too_large(settings: Settings) -> tuple[str, str, str]:
    return ("too_large", f"is larger than {settings.ingest_max_file_bytes:,} bytes (EMPATHY_INGEST_MAX_FILE_BYTES)",
            "Split it into smaller files, or raise EMPATHY_INGEST_MAX_FILE_BYTES")


def _damaged(scan: FileScan, what: str) -> Refused:
    return Refused("damaged_gzip", f"is a damaged gzip file ({what} after {scan.content_bytes:,} bytes of content), "
                   "so nothing of it is loaded", "Export the file again and land it under a new name")


def gunzip_chunks(f, settings: Settings, hasher, scan: FileScan) -> Iterator[bytes]:
    """Decompressed content, at most ``ingest_chunk_bytes`` at a time, members one after another; refuses
    the file (whole) past the size or ratio bound, or where its data is damaged or ends early."""
    d = zlib.decompressobj(wbits=31)
    buf, fed, at_end, first = b"", False, False, True
    while True:
        if not buf and not at_end:
            buf = f.read(GZIP_READ)
            at_end = not buf
            hasher.update(buf)
            scan.file_bytes += len(buf)
            if first and not at_end and not buf.startswith(b"\x1f\x8b"):
                raise Refused("not_gzip", "is named .gz but is not gzip data",
                              "Rename it without .gz if it is plain JSON Lines, or compress it with gzip")
            first = False
        try:
            out = d.decompress(buf, settings.ingest_chunk_bytes)
        except zlib.error as exc:
            raise _damaged(scan, str(exc).replace("Error -3 while decompressing data: ", "")) from None
        fed = fed or bool(buf)
        if d.eof:  # one gzip member ended (its CRC checked); another may follow (cat a.gz b.gz)
            buf = d.unused_data
            if not buf.strip(b"\x00"):
                buf = b""
            d, fed = zlib.decompressobj(wbits=31), False
        else:
            buf = d.unconsumed_tail
        if out:
            scan.content_bytes += len(out)
            if scan.content_bytes > settings.ingest_max_file_bytes:
                raise Refused(*too_large(settings))
            if scan.content_bytes > RATIO_FLOOR and scan.content_bytes > settings.ingest_max_gzip_ratio * scan.file_bytes:
                raise Refused("gzip_bomb", f"expands more than {settings.ingest_max_gzip_ratio:g} times its compressed "
                              "size, so it is refused as a possible gzip bomb",
                              "If the file is genuine, land it uncompressed or raise EMPATHY_INGEST_MAX_GZIP_RATIO")
            yield out
        elif at_end and not buf:
            break
    if fed:
        raise _damaged(scan, "it ends inside the gzip data: truncated")


def head(chunks: Iterator[bytes], size: int) -> tuple[bytes, bool]:
    """The first `size` bytes or more (whole chunks) and whether that is everything."""
    parts, got = [], 0
    for chunk in chunks:
        parts.append(chunk)
        got += len(chunk)
        if got >= size:
            return b"".join(parts), False
    return b"".join(parts), True


_DONE = object()


def read_ahead(batches: Iterator, depth: int) -> Iterator:
    """The same batches, produced by a thread at most `depth` ahead of the consumer. The thread ends with
    the stream, and also when the consumer stops early (its statement failed)."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
        finally:
            batches.close()  # closes the file being read, if the consumer stopped early

    thread = threading.Thread(target=produce, name="ingest-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ahead.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def file_sha256(landing: Path, entry: Entry) -> str | None:
    """The file's SHA-256, read in pieces; None when it changed or vanished while being read."""
    hasher = hashlib.sha256()
    try:
        with open_entry(landing, entry) as (f, before):
            while piece := f.read(1 << 20):
                hasher.update(piece)
            after = os.fstat(f.fileno())
    except (NotRegular, FileNotFoundError):
        return None
    versions = {(after.st_size, after.st_mtime_ns), (before.st_size, before.st_mtime_ns), (entry.size_bytes, entry.mtime_ns)}
    if len(versions) > 1:
        return None
    return hasher.hexdigest()
