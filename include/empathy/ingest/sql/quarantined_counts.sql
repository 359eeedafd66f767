-- The lines this run quarantined, per file.
-- reads: quarantine
-- writes:
-- takes: $ingested_at
SELECT source_file, count(*) AS quarantined FROM quarantine WHERE quarantined_at = $ingested_at GROUP BY source_file;
