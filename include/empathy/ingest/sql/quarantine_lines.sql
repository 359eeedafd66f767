-- The reasons: the files of a run that did not load whole are streamed again (`landed_lines`) and each rejected line goes to `quarantine` with its reason, a bounded prefix, its length and
-- hash. (The other lines not loaded are duplicates.)
-- reads: landed_lines
-- writes: quarantine
-- takes: $ingested_at, $ts_min, $ts_max, $raw_limit, $run_id
INSERT INTO quarantine (source_file, line_no, raw, raw_bytes, raw_sha256, reason, quarantined_at, run_id)
SELECT v.source_file, v.line_no, v.raw, v.raw_bytes, v.raw_sha256, v.reason, $ingested_at, $run_id
FROM validated_lines('landed_lines', $ts_min, $ts_max, $raw_limit) v
WHERE v.reason IS NOT NULL
ON CONFLICT DO UPDATE SET raw = excluded.raw, raw_bytes = excluded.raw_bytes, raw_sha256 = excluded.raw_sha256,
                          reason = excluded.reason, quarantined_at = excluded.quarantined_at, run_id = excluded.run_id;
