-- The files ingested so far, by name: what a run compares the landing folder with.
-- reads: ingested_files
-- writes:
-- takes:
SELECT file_name, sha256, size_bytes, mtime_ns FROM ingested_files;
