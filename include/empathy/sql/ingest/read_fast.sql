-- The fast path, for a file that looks clean (no line over 32 KB, valid UTF-8): DuckDB's own parallel
-- JSON reader with the fields we use as typed columns. It must produce exactly what validate_lines.sql
-- would; if any line is rejected here, or the reader returns another number of rows than the file has
-- lines (it skips blank and unparseable lines), the caller throws this result away and takes the exact path, which knows
-- each rejected line's raw text and line number. Parameter: $path.
CREATE OR REPLACE TEMP TABLE fast_rows AS
WITH src AS (
    SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = 33554432, ignore_errors = true, columns = {
        messageId: 'VARCHAR', userId: 'VARCHAR', anonymousId: 'VARCHAR', type: 'VARCHAR', event: 'VARCHAR',
        name: 'VARCHAR', timestamp: 'VARCHAR', originalTimestamp: 'VARCHAR', sentAt: 'VARCHAR',
        receivedAt: 'VARCHAR', groupId: 'VARCHAR', properties: 'JSON', traits: 'JSON', context: 'JSON'})
), fields AS (
    SELECT nullif(trim(messageId), '') AS message_id,
           nullif(trim(userId), '') AS user_id,
           nullif(trim(anonymousId), '') AS anonymous_id,
           type,
           nullif(trim(event), '') AS event,
           name,
           coalesce(timestamp, originalTimestamp, sentAt, receivedAt) AS ts_text,
           coalesce(groupId, CASE WHEN type <> 'group' THEN context->>'$.groupId' END) AS group_id,
           CASE WHEN properties <> 'null' THEN properties END AS properties,
           CASE WHEN traits <> 'null' THEN traits END AS traits,
           CASE WHEN context <> 'null' THEN context END AS context
    FROM src
), typed AS (
    SELECT *, TRY_CAST(ts_text AS TIMESTAMPTZ) AS ts FROM fields
)
SELECT NULL::VARCHAR AS raw, message_id, user_id, anonymous_id, type, event, name, group_id, ts,
       properties, traits, context,
       CASE
           WHEN message_id IS NULL OR (user_id IS NULL AND anonymous_id IS NULL) OR type IS NULL
                OR type NOT IN ('track', 'page', 'identify', 'group', 'screen', 'alias')
                OR (type = 'track' AND event IS NULL) OR ts IS NULL
                OR left(properties, 1) <> '{' OR left(traits, 1) <> '{' OR left(context, 1) <> '{'
           THEN 'rejected on the fast path: recheck line by line'
       END AS reason
FROM typed;

-- A table keeps the reader's order, so rowid + 1 is the line number (no blank lines on this path).
CREATE OR REPLACE TEMP VIEW validated AS SELECT rowid + 1 AS line_no, * FROM fast_rows;
