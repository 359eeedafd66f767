"""Ingest landed Segment-spec JSON Lines into ``events``: validate, quarantine, dedup, reconcile; in bounded
memory, and with nothing in the landing folder able to stop a run.

- ``landing``: what is in the landing folder, looked at without following anything; safe opening.
- ``content``: a file's bytes in bounded chunks (gzip with bounds on size and ratio), read ahead in a thread.
- ``reader``: landed files as one Arrow stream of lines (long lines, blank lines, BOM, UTF-8, the sniff).
- ``load``: one run: plan, one bulk load with validation inline (sql/validate.sql), reasons, records.
- ``manifest``: what the landing sensor compares the folder with.

Every non-blank line of a file read ends up in exactly one of loaded, duplicates, quarantined
(``ingested_files``); every file not read, or read only in part, is reported once per version with what
to do (``ingest_errors``, and ``IngestReport.notices`` for the run summary). See docs/ingest.md.
"""
from empathy.ingest.load import ingest_landing
from empathy.ingest.manifest import landed_files, manifest_path, pending_files, write_manifest
from empathy.ingest.report import FileReport, IngestReport, Notice, landing_problems

__all__ = ["FileReport", "IngestReport", "Notice", "ingest_landing", "landed_files", "landing_problems",
           "manifest_path", "pending_files", "write_manifest"]
