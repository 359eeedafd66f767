"""Landed files as one stream of lines for DuckDB, in memory bounded by settings, never by the file.

A file is read ``ingest_chunk_bytes`` at a time (ingest/content.py: a ``.gz`` decompressed with bounds,
a few chunks ahead in a thread); each chunk's lines become one Arrow record batch
without copying (source_file, line_no, raw), which DuckDB parses and validates in SQL. Python looks only
at what SQL cannot see: the true line number, blank lines (skipped, never counted), a UTF-8 BOM, bytes
that are not UTF-8, and lines over ``ingest_max_line_bytes`` (a longer one is skipped through in
pieces, keeping only a prefix, its length and its SHA-256). Before the first line is handed on, the
file's head is sniffed: a JSON array, a pretty-printed document, UTF-16, binary data or text with no
JSON object in its first lines is refused whole, with what to do about it.

What a file turned out to be (its lines, hash, refusal) is in ``LandingStream.scans`` once
the stream has been consumed.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from empathy.config import Settings
from empathy.ingest.content import FileScan, Refused, gunzip_chunks, head, plain_chunks, read_ahead, too_large
from empathy.ingest.landing import Entry, NotRegular, open_entry

SCHEMA = pa.schema([
    ("source_file", pa.dictionary(pa.int32(), pa.string())),   # the file's name (one value per batch)
    ("line_no", pa.int64()),        # 1-based, counting blank lines
    ("raw", pa.large_string()),     # the line (with its newline); a prefix when pre_reason says it is too long
    ("pre_reason", pa.string()),    # why Python already rejected it (too long, not UTF-8)
    ("pre_bytes", pa.int64()),      # the whole line's length when raw is not the whole line
    ("pre_sha256", pa.string()),    # ... and its SHA-256
])
BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 64 << 10      # how much of a file's head decides whether it is JSON Lines at all
SNIFF_LINES = 20
PREFETCH = 2                # batches read ahead (in a thread) while DuckDB parses the ones before
_RETRY = "It is tried again every run"


def size_label(n: int) -> str:
    return f"{n // 1024} KB" if n % 1024 == 0 else f"{n} bytes"


def sniff(head: bytes, whole: bool) -> tuple[str, str, str] | None:
    """(kind, error, action) when the head of a file shows it is not JSON Lines, else None.

    A file is JSON Lines as soon as one of its first lines is a JSON object; a file whose first lines hold
    none is refused whole rather than quarantined line by line. ``whole``: the head is the whole file."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return ("utf16", "is UTF-16 text, and Empathy reads UTF-8",
                "Save it as UTF-8 (for example `iconv -f UTF-16 -t UTF-8 in.jsonl > out.jsonl`) and land that")
    body = head[len(BOM):] if head.startswith(BOM) else head
    pieces = body[:SNIFF_BYTES].split(b"\n")
    if not (whole and len(body) <= SNIFF_BYTES):
        pieces = pieces[:-1]  # the last piece may be the start of a longer line
    lines = [p.strip() for p in pieces if p.strip()][:SNIFF_LINES]
    for line in lines:
        if line.startswith(b"{"):
            try:
                if isinstance(json.loads(line), dict):
                    return None
            except ValueError:
                pass
    if not lines:
        return None
    first = lines[0]
    if first.startswith(b"["):
        return ("json_array", "is a JSON array, not JSON Lines (one event per line)",
                "Write one event per line, for example `jq -c '.[]' file.json > file.jsonl`, and land that")
    if first == b"{":
        return ("json_document", "is one JSON document spread over many lines (pretty-printed), not JSON Lines",
                "Write each event on one line, for example `jq -c . file.json > file.jsonl`, and land that")
    if b"\x00" in body[:SNIFF_BYTES] or body.startswith((b"PK\x03\x04", b"PAR1", b"\x1f\x8b", b"SQLite format")):
        return ("binary", "is binary data (an archive, Parquet or another format), not JSON Lines text",
                "Export the events as JSON Lines (one JSON object per line) and land that")
    first_lines = "its first line is not" if len(lines) == 1 else f"none of its first {len(lines)} lines is"
    return ("not_json_lines", f"does not look like JSON Lines: {first_lines} a JSON object",
            "Export one Segment event per line, each a JSON object (double-quoted keys), and land that")


class _LongLine:
    """A line over the limit, passed through in pieces: a prefix, its length and its hash."""

    def __init__(self, keep: int):
        self.keep, self.prefix, self.length, self.blank = keep, b"", 0, True
        self.hasher = hashlib.sha256()

    def add(self, piece: bytes) -> None:
        if len(self.prefix) < self.keep:
            self.prefix += piece[: self.keep - len(self.prefix)]
        self.hasher.update(piece)
        self.length += len(piece)
        self.blank = self.blank and (not piece or piece.isspace())


def _batch(name: pa.Array, line_nos, raw, reasons=None, nbytes=None, shas=None) -> pa.RecordBatch:
    n = len(raw)
    return pa.record_batch([
        pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), name), pa.array(line_nos, pa.int64()), raw,
        reasons if reasons is not None else pa.nulls(n, pa.string()),
        nbytes if nbytes is not None else pa.nulls(n, pa.int64()),
        shas if shas is not None else pa.nulls(n, pa.string()),
    ], schema=SCHEMA)


class _Lines:
    """Splits one file's content, chunk by chunk, into record batches of lines."""

    def __init__(self, name: str, settings: Settings, scan: FileScan):
        self.name, self.scan = pa.array([name], pa.string()), scan
        self.limit, self.keep = settings.ingest_max_line_bytes, settings.quarantine_raw_bytes
        self.too_long = f"event over {size_label(self.limit)}"
        self.carry = b""                    # the start of an unfinished line (at most `limit` bytes)
        self.long: _LongLine | None = None  # an unfinished line over the limit
        self.line_no = 0                    # lines so far, blank ones included
        self.first = True

    def feed(self, chunk: bytes) -> Iterator[pa.RecordBatch]:
        if self.long is not None:
            end = chunk.find(b"\n")
            if end < 0:
                self.long.add(chunk)
                return
            self.long.add(chunk[:end])
            yield from self._long_done()
            chunk = chunk[end + 1:]
        start = 0
        if self.first:
            self.first = False
            if chunk.startswith(BOM):
                start = len(BOM)
        if self.carry:  # the line begun in the last chunk: joined on its own, the chunk is not copied
            end = chunk.find(b"\n")
            if end < 0:
                self._unfinished(self.carry + chunk)
                return
            line, self.carry = self.carry + chunk[:end + 1], b""
            yield self._lines(line, np.frombuffer(line, np.uint8), 0, np.array([len(line) - 1], np.int64), len(line))
            start = end + 1
        view = np.frombuffer(chunk, np.uint8)
        newlines = np.flatnonzero(view[start:] == 10) + start
        if newlines.size:
            yield self._lines(chunk, view, start, newlines, int(newlines[-1]) + 1)
            start = int(newlines[-1]) + 1
        if start < len(chunk):
            self._unfinished(chunk[start:])

    def _unfinished(self, tail: bytes) -> None:
        """Keep the start of a line that goes on in the next chunk, or pass it through if already too long."""
        self.carry = b""
        if len(tail) > self.limit:
            self.long = _LongLine(self.keep)
            self.long.add(tail)
        else:
            self.carry = tail

    def finish(self) -> Iterator[pa.RecordBatch]:
        """The last line, when the file does not end with a newline."""
        if self.long is not None:
            yield from self._long_done()
        elif self.carry:
            data, self.carry = self.carry, b""
            yield self._lines(data, np.frombuffer(data, np.uint8), 0, np.array([len(data)], np.int64), len(data))

    def _long_done(self) -> Iterator[pa.RecordBatch]:
        long, self.long = self.long, None
        self.line_no += 1
        if long.blank:
            return
        self.scan.lines += 1
        yield _batch(self.name, [self.line_no], pa.array([long.prefix.decode("utf-8", "replace")], pa.large_string()),
                     pa.array([f"{self.too_long} ({long.length} bytes)"], pa.string()),
                     pa.array([long.length], pa.int64()), pa.array([long.hasher.hexdigest()]))

    def _lines(self, data: bytes, view: np.ndarray, start: int, ends: np.ndarray, stop: int) -> pa.RecordBatch:
        """Lines data[start:stop], each ending at one of `ends` (a newline, or the end of the file)."""
        n = ends.size
        starts = np.empty(n, np.int64)
        starts[0] = start
        starts[1:] = ends[:-1] + 1
        lengths = ends - starts
        line_nos = np.arange(self.line_no + 1, self.line_no + n + 1, dtype=np.int64)
        self.line_no += n
        # blank = whitespace only; only lines that start with whitespace (or a control byte) need a look
        first_bytes = view[np.minimum(starts, len(view) - 1)]
        blank = np.zeros(n, bool)
        for i in np.flatnonzero(first_bytes <= 32):
            blank[i] = not data[starts[i]:ends[i]].strip()
        offsets = np.empty(n + 1, np.int64)
        offsets[:n] = starts
        offsets[n] = stop
        raw = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
        over = lengths > self.limit
        try:
            raw.validate(full=True)  # UTF-8, in C++
        except pa.ArrowInvalid:
            batch = self._not_utf8(data, starts, ends, line_nos, over)
        else:
            reasons = None
            if over.any():
                reasons = pa.array([f"{self.too_long} ({length} bytes)" if o else None
                                    for o, length in zip(over.tolist(), lengths.tolist())], pa.string())
            batch = _batch(self.name, line_nos, raw, reasons)
        if blank.any():
            batch = batch.filter(pa.array(~blank))
        self.scan.lines += n - int(blank.sum())
        return batch

    def _not_utf8(self, data, starts, ends, line_nos, over) -> pa.RecordBatch:
        """The slow path for a chunk with bytes that are not UTF-8: each line decoded on its own."""
        texts, reasons, nbytes, shas = [], [], [], []
        for s, e, too_long in zip(starts.tolist(), ends.tolist(), over.tolist()):
            line = data[s:e]
            try:
                texts.append(line.decode("utf-8"))
                reasons.append(f"{self.too_long} ({e - s} bytes)" if too_long else None)
                nbytes.append(None)
                shas.append(None)
            except UnicodeDecodeError as exc:
                texts.append(line[: self.keep].decode("utf-8", "replace"))
                reasons.append(f"{self.too_long} ({e - s} bytes)" if too_long else f"not UTF-8 (byte {exc.start + 1})")
                nbytes.append(e - s)
                shas.append(hashlib.sha256(line).hexdigest())
        return _batch(self.name, line_nos, pa.array(texts, pa.large_string()), pa.array(reasons, pa.string()),
                      pa.array(nbytes, pa.int64()), pa.array(shas, pa.string()))


class LandingStream:
    """The lines of some landed files, as one Arrow stream for one DuckDB statement."""

    def __init__(self, landing: Path, entries: list[Entry], settings: Settings):
        self.landing, self.entries, self.settings = landing, entries, settings
        self.scans = [FileScan() for _ in entries]

    def reader(self) -> pa.RecordBatchReader:
        """The stream. Files are read, decompressed and split a few batches ahead, in a thread (zlib, hashing
        and numpy let go of the GIL), while DuckDB parses the batches before; memory: PREFETCH more chunks."""
        batches = self._batches()
        return pa.RecordBatchReader.from_batches(SCHEMA, read_ahead(batches, PREFETCH) if PREFETCH else batches)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for entry, scan in zip(self.entries, self.scans):
            try:
                yield from self._file(entry, scan)
            except Refused as refused:
                scan.refusal = refused.args
            except NotRegular:
                scan.changed = True
            except FileNotFoundError:
                scan.vanished = True
            except OSError as exc:
                scan.refusal = ("unreadable", f"could not be read ({exc.strerror or exc})",
                                f"Make it readable by the user Airflow runs as. {_RETRY}")

    def _file(self, entry: Entry, scan: FileScan) -> Iterator[pa.RecordBatch]:
        with open_entry(self.landing, entry) as (f, before):
            if (before.st_size, before.st_mtime_ns) != (entry.size_bytes, entry.mtime_ns):
                scan.changed = True
                return
            if not entry.gzip and before.st_size > self.settings.ingest_max_file_bytes:
                raise Refused(*too_large(self.settings))
            hasher = hashlib.sha256()
            chunks = (gunzip_chunks if entry.gzip else plain_chunks)(f, self.settings, hasher, scan)
            lines = _Lines(entry.name, self.settings, scan)
            start, whole = head(chunks, SNIFF_BYTES)
            refusal = sniff(start, whole)
            if refusal:
                raise Refused(*refusal)
            if start:
                yield from lines.feed(start)
            for chunk in chunks:
                yield from lines.feed(chunk)
            yield from lines.finish()
            after = os.fstat(f.fileno())
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) \
                    or scan.file_bytes != after.st_size:
                scan.changed = True
            scan.sha256 = hasher.hexdigest()


