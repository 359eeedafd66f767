-- Load the valid lines of one file into `events`: the first occurrence of a messageId wins
-- (earlier files, then earlier lines); later ones are counted as duplicates, never inserted twice.
-- Parameters: $source_file, $ingested_at.
CREATE OR REPLACE TEMP TABLE repeated_in_file AS
SELECT message_id, min(line_no) AS first_line FROM validated
WHERE reason IS NULL GROUP BY message_id HAVING count(*) > 1;

INSERT INTO events (message_id, user_id, anonymous_id, type, event, name, ts, group_id,
                    properties, traits, context, source_file, line_no, ingested_at)
SELECT v.message_id, coalesce(v.user_id, 'anon:' || v.anonymous_id), v.anonymous_id, v.type, v.event, v.name,
       v.ts, v.group_id, v.properties, v.traits, v.context, $source_file, v.line_no, $ingested_at
FROM validated v
LEFT JOIN repeated_in_file r ON r.message_id = v.message_id
WHERE v.reason IS NULL
  AND (r.first_line IS NULL OR r.first_line = v.line_no)
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = v.message_id);  -- seen in an earlier file or run

INSERT INTO quarantine (source_file, line_no, raw, reason, quarantined_at)
SELECT $source_file, line_no, raw, reason, $ingested_at
FROM validated WHERE reason IS NOT NULL
ON CONFLICT DO NOTHING;
