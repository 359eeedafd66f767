-- The exact path: parse and validate raw landed lines (the Arrow table `raw_lines`: line_no, raw,
-- pre_reason) in one vectorised pass. Every non-blank line comes out exactly once, with either a parsed
-- event or a reason; pre_reason carries what Python already knew (not UTF-8, unreadable gzip). The JSON
-- text is parsed once (one multi-path extraction); the raw line is kept only for rejected lines.
CREATE OR REPLACE TEMP TABLE exact_rows AS
WITH lines AS (
    SELECT line_no, raw, pre_reason FROM raw_lines
    WHERE pre_reason IS NOT NULL OR trim(raw, ' ' || chr(9) || chr(13) || chr(11) || chr(12)) <> ''  -- not blank
), parsed AS (
    SELECT line_no, raw, pre_reason,
           CASE WHEN pre_reason IS NULL AND strlen(raw) <= 32768 THEN try(json_extract(raw, [
               '$.messageId', '$.userId', '$.anonymousId', '$.type', '$.event', '$.name', '$.timestamp',
               '$.originalTimestamp', '$.sentAt', '$.receivedAt', '$.groupId', '$.context.groupId',
               '$.properties', '$.traits', '$.context'])) END AS v
    FROM lines
), checked AS (
    SELECT line_no, raw, v,
           CASE
               WHEN pre_reason IS NOT NULL THEN pre_reason
               WHEN strlen(raw) > 32768 THEN 'event over 32 KB'
               WHEN v IS NULL THEN 'not JSON'
               WHEN left(ltrim(raw), 1) <> '{' THEN 'not a JSON object (got ' || lower(json_type(raw)) || ')'
           END AS early_reason
    FROM parsed
), fields AS (
    SELECT line_no, raw, early_reason,
           nullif(trim(v[1]->>'$'), '') AS message_id,
           nullif(trim(v[2]->>'$'), '') AS user_id,
           nullif(trim(v[3]->>'$'), '') AS anonymous_id,
           v[4]->>'$' AS type,
           nullif(trim(v[5]->>'$'), '') AS event,
           v[6]->>'$' AS name,
           coalesce(v[7]->>'$', v[8]->>'$', v[9]->>'$', v[10]->>'$') AS ts_text,
           coalesce(v[11]->>'$', CASE WHEN v[4]->>'$' <> 'group' THEN v[12]->>'$' END) AS group_id,
           CASE WHEN v[13] <> 'null' THEN v[13] END AS properties,
           CASE WHEN v[14] <> 'null' THEN v[14] END AS traits,
           CASE WHEN v[15] <> 'null' THEN v[15] END AS context
    FROM checked
), typed AS (
    SELECT *, TRY_CAST(ts_text AS TIMESTAMPTZ) AS ts FROM fields
), judged AS (
    SELECT *,
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
    FROM typed
)
SELECT line_no, CASE WHEN reason IS NOT NULL THEN raw END AS raw, message_id, user_id, anonymous_id, type, event,
       name, group_id, ts, properties, traits, context, reason
FROM judged;

CREATE OR REPLACE TEMP VIEW validated AS SELECT * FROM exact_rows;
