-- Every file version a run has dealt with (ingested, or reported): the landing sensor's manifest. Versions
-- reported for a cause that may pass (permissions) are retried by scheduled runs, not by the sensor.
-- reads: ingested_files, ingest_errors
-- writes:
-- takes:
SELECT file_name, size_bytes, mtime_ns FROM ingested_files
UNION ALL
SELECT file_name, size_bytes, mtime_ns FROM ingest_errors;
