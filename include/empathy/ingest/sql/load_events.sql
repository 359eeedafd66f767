-- The one bulk load of a run: every line of every new file (the Arrow stream `landed_lines`) validated inline; the valid ones whose messageId is not in `events` yet go in (one duplicate
-- check for the whole run). A messageId repeated within the run is settled next, by ingest/dedup_run.sql.
-- reads: landed_lines, events
-- writes: events
-- takes: $ingested_at, $ts_min, $ts_max, $raw_limit
INSERT INTO events (message_id, user_id, anonymous_id, type, event, name, ts, group_id,
                    properties, traits, context, source_file, line_no, ingested_at)
SELECT v.message_id, coalesce(v.user_id, 'anon:' || v.anonymous_id), v.anonymous_id, v.type, v.event, v.name,
       v.ts, v.group_id, v.properties, v.traits, v.context, v.source_file, v.line_no, $ingested_at
FROM validated_lines('landed_lines', $ts_min, $ts_max, $raw_limit) v
WHERE v.reason IS NULL
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = v.message_id);
