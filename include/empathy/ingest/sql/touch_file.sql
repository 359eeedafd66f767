-- A file touched but not changed (same content, new mtime): remember the new mtime, so it is not hashed again.
-- reads: ingested_files
-- writes: ingested_files
-- takes: $file_name, $mtime_ns
UPDATE ingested_files SET mtime_ns = $mtime_ns WHERE file_name = $file_name;
