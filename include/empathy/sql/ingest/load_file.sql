-- Load the valid lines of one file into `events`: the first occurrence of a messageId wins
-- (earlier files, then earlier lines); later ones are counted as duplicates, never inserted twice.
-- Parameters: $source_file, $ingested_at.
CREATE OR REPLACE TEMP TABLE candidates AS
SELECT v.*, row_number() OVER (PARTITION BY message_id ORDER BY line_no) AS occurrence
FROM validated v
WHERE reason IS NULL;

INSERT INTO events (message_id, user_id, anonymous_id, type, event, name, ts, group_id,
                    properties, traits, context, source_file, line_no, ingested_at)
SELECT c.message_id,
       coalesce(c.user_id, 'anon:' || c.anonymous_id),
       c.anonymous_id, c.type, c.event, c.name, c.ts, c.group_id,
       CASE WHEN json_type(c.j, '$.properties') = 'OBJECT' THEN c.j->'$.properties' END,
       CASE WHEN json_type(c.j, '$.traits') = 'OBJECT' THEN c.j->'$.traits' END,
       CASE WHEN json_type(c.j, '$.context') = 'OBJECT' THEN c.j->'$.context' END,
       $source_file, c.line_no, $ingested_at
FROM candidates c
ANTI JOIN events e ON e.message_id = c.message_id
WHERE c.occurrence = 1;

INSERT INTO quarantine (source_file, line_no, raw, reason, quarantined_at)
SELECT $source_file, line_no, raw, reason, $ingested_at
FROM validated WHERE reason IS NOT NULL
ON CONFLICT DO NOTHING;
