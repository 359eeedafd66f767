-- The file versions already reported, with the kind of notice (some kinds are tried again every run).
-- reads: ingest_errors
-- writes:
-- takes:
SELECT file_name, size_bytes, mtime_ns, kind FROM ingest_errors;
