-- Parse and validate raw landed lines (the Arrow table `raw_lines`: line_no, raw, pre_reason) in one
-- vectorised pass. Every non-blank line comes out exactly once, with either a parsed event or a reason.
-- pre_reason carries what Python already knew (not UTF-8, unreadable gzip). Each JSON function parses
-- the text again, so the fields are pulled out with two multi-path extractions, not one call per field.
CREATE OR REPLACE TEMP TABLE validated AS
WITH lines AS (
    SELECT line_no, raw, pre_reason FROM raw_lines
    WHERE pre_reason IS NOT NULL OR trim(raw) <> ''
), checked AS (
    SELECT line_no, raw,
           CASE
               WHEN pre_reason IS NOT NULL THEN pre_reason
               WHEN strlen(raw) > 32768 THEN 'event over 32 KB'
               WHEN NOT json_valid(raw) THEN 'not JSON'
               WHEN left(ltrim(raw), 1) <> '{' THEN 'not a JSON object (got ' || lower(json_type(raw)) || ')'
           END AS early_reason
    FROM lines
), extracted AS (
    SELECT line_no, raw, early_reason,
           CASE WHEN early_reason IS NULL THEN json_extract_string(raw, [
               '$.messageId', '$.userId', '$.anonymousId', '$.type', '$.event', '$.name', '$.timestamp',
               '$.originalTimestamp', '$.sentAt', '$.receivedAt', '$.groupId', '$.context.groupId']) END AS f,
           CASE WHEN early_reason IS NULL THEN json_extract(raw, ['$.properties', '$.traits', '$.context']) END AS o
    FROM checked
), fields AS (
    SELECT line_no, raw, early_reason,
           nullif(trim(f[1]), '') AS message_id,
           nullif(trim(f[2]), '') AS user_id,
           nullif(trim(f[3]), '') AS anonymous_id,
           f[4] AS type,
           nullif(trim(f[5]), '') AS event,
           f[6] AS name,
           coalesce(f[7], f[8], f[9], f[10]) AS ts_text,
           coalesce(f[11], CASE WHEN f[4] <> 'group' THEN f[12] END) AS group_id,
           CASE WHEN o[1] <> 'null' THEN o[1] END AS properties,
           CASE WHEN o[2] <> 'null' THEN o[2] END AS traits,
           CASE WHEN o[3] <> 'null' THEN o[3] END AS context
    FROM extracted
), typed AS (
    SELECT *, TRY_CAST(ts_text AS TIMESTAMPTZ) AS ts FROM fields
)
SELECT line_no, raw, message_id, user_id, anonymous_id, type, event, name, group_id, ts,
       properties, traits, context,
       CASE
           WHEN early_reason IS NOT NULL THEN early_reason
           WHEN message_id IS NULL THEN 'missing messageId'
           WHEN user_id IS NULL AND anonymous_id IS NULL THEN 'missing userId and anonymousId'
           WHEN type IS NULL THEN 'missing type'
           WHEN type NOT IN ('track', 'page', 'identify', 'group', 'screen', 'alias')
               THEN 'unknown type ' || left(type, 40)
           WHEN type = 'track' AND event IS NULL THEN 'track call without event'
           WHEN ts_text IS NULL THEN 'missing timestamp'
           WHEN ts IS NULL THEN 'unparseable timestamp ' || left(ts_text, 40)
           WHEN properties IS NOT NULL AND left(properties, 1) <> '{' THEN 'properties is not an object'
           WHEN traits IS NOT NULL AND left(traits, 1) <> '{' THEN 'traits is not an object'
           WHEN context IS NOT NULL AND left(context, 1) <> '{' THEN 'context is not an object'
       END AS reason
FROM typed;
