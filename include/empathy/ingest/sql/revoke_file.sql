-- Take back what this run loaded from one file (refused part-way, or changed while it was read).
-- reads: events, quarantine
-- writes: events, quarantine
-- takes: $source_file, $ingested_at
DELETE FROM events WHERE ingested_at = $ingested_at AND source_file = $source_file;
DELETE FROM quarantine WHERE quarantined_at = $ingested_at AND source_file = $source_file;
